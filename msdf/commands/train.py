"""``msdf train``: train the flow-matching transformer on an M-SDF store (single process or under torchrun)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from msdf.choices import CONDITIONS
from msdf.flow.config import PRESETS

NAME = "train"
HELP = "train the flow-matching transformer on an M-SDF store (class, text or no conditioning)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", metavar="STORE", help="store folder written by `msdf preprocess` (required)")
    parser.add_argument("--config", metavar="FILE.yaml", help="training config (overrides the preset)")
    parser.add_argument("--preset", choices=list(PRESETS), help="named config (default: cpu-small)")
    parser.add_argument("--cond", choices=CONDITIONS, help="conditioning (default: from config)")
    parser.add_argument("--steps", type=int, help="stop after this many optimiser steps")
    parser.add_argument("--minutes", type=float, help="stop after this many minutes (whichever comes first)")
    parser.add_argument("--out", metavar="RUN", help="run folder (default: runs/<store name>-<cond>)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out exactly where it stopped")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N | auto (default cpu)")
    parser.add_argument("--batch-size", type=int, help="batch size per process")
    parser.add_argument("--seed", type=int, help="random seed")
    parser.add_argument("--ot", action="store_true", default=None,
                        help="multisample flow matching: OT-pair noise and data within each condition")
    parser.add_argument("--compile", action="store_true", default=None, help="torch.compile the model")
    parser.add_argument("--train-rows", type=int, metavar="M",
                        help="train on at most M random rows of each shape per step (cheaper steps; 0 = all rows; "
                             "cpu-medium: 128; msdf.flow.row_subset)")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into a non-empty folder that a training run did not create")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--print-config", action="store_true",
                        help="print the config that --preset/--config/flags give, as YAML (a file to edit for "
                             "--config), and exit without training")


def _overrides(args: argparse.Namespace) -> dict:
    pairs = {"cond": args.cond, "steps": args.steps, "minutes": args.minutes, "batch_size": args.batch_size,
             "seed": args.seed, "ot_coupling": args.ot, "compile": args.compile, "train_rows": args.train_rows}
    return {k: v for k, v in pairs.items() if v is not None}


def _config(args: argparse.Namespace, overrides: dict):
    """Defaults < ``--preset`` (cpu-small unless ``--config`` is given) < ``--config`` < ``overrides``."""
    from msdf.flow.config import build_config

    return build_config(args.preset or ("cpu-small" if args.config is None else None), args.config, overrides)


def run(args: argparse.Namespace) -> int:
    from msdf.data import MSDFStore, StoreError
    from msdf.flow.checkpoint import CheckpointError, latest_checkpoint
    from msdf.flow.config import TrainConfig
    from msdf.flow.trainer import TrainingError, train
    from msdf.outpaths import check_output_dir, claim_output_dir

    if args.print_config:
        import yaml

        config = _config(args, _overrides(args))
        print(yaml.safe_dump(json.loads(json.dumps(config.to_dict())), sort_keys=False), end="")
        return 0
    if not args.data:
        print("msdf train: error: the following arguments are required: --data", file=sys.stderr)
        return 2
    try:
        if args.batch_size is not None and args.batch_size < 1 or args.steps is not None and args.steps < 0:
            raise ValueError(f"need --batch-size >= 1 and --steps >= 0 (got {args.batch_size}, {args.steps})")
        if args.minutes is not None and not args.minutes > 0:
            raise ValueError(f"--minutes must be > 0, got {args.minutes}")
        store = MSDFStore(args.data)
        overrides = _overrides(args)
        out = Path(args.out) if args.out else Path("runs") / f"{Path(args.data).resolve().name}-{args.cond or 'run'}"
        if args.resume and args.config is None and args.preset is None and (out / "checkpoints").exists():
            _, state = latest_checkpoint(out)
            config = TrainConfig.from_dict(overrides, TrainConfig.from_dict(state["config"]), source="command line")
        else:
            config = _config(args, overrides)
        check_output_dir(out, NAME, overwrite=args.overwrite, own_files=("checkpoints",))
        claim_output_dir(out, NAME)
        if not args.quiet:
            print(f"training {config.cond}-conditional flow model on {store} -> {out}")
        result = train(store, config, out, device=args.device, resume=args.resume, quiet=args.quiet)
    except (StoreError, CheckpointError, TrainingError, ValueError) as exc:
        print(f"msdf train: error: {exc}", file=sys.stderr)
        return 2
    if result.status != "done":
        return 1
    if not args.quiet:
        val = "n/a" if result.val_loss is None else f"{result.val_loss:.4f}"
        print(f"done: step {result.step}, train loss {result.loss:.4f}, val loss {val}, "
              f"{result.samples_per_s:.1f} samples/s; checkpoint in {out / 'checkpoints'}")
    return 0
