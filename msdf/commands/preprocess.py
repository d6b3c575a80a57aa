"""``msdf preprocess``: convert a mesh dataset into a sharded, resumable M-SDF store."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from msdf.choices import BACKENDS, DATASET_FORMATS, DEVICES
from msdf.commands.encode import add_half_width_arguments

NAME = "preprocess"
HELP = "convert a mesh dataset (ShapeNet, ModelNet, Objaverse, a folder or a list) into a sharded M-SDF store"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="dataset root folder, or a text file with one mesh path per line")
    parser.add_argument("-o", "--out", required=True, metavar="OUT_DIR",
                        help="store folder (created; re-run to resume)")
    parser.add_argument("--format", default="auto",
                        choices=("auto", *DATASET_FORMATS),
                        help="dataset layout (default: auto-detect)")
    parser.add_argument("--workers", type=int, default=None, help="parallel worker processes (default: all cores)")
    parser.add_argument("--grids", type=int, default=1024, help="grids per shape n (default 1024)")
    parser.add_argument("--k", type=int, default=7, help="grid resolution k (default 7)")
    parser.add_argument("--refine-steps", type=int, default=None, help="refinement steps (default: the encoder's)")
    add_half_width_arguments(parser)
    parser.add_argument("--device", default="cpu", choices=DEVICES,
                        help="encoder device (default cpu)")
    parser.add_argument("--seed", type=int, default=0, help="encoder seed; same input + seed = identical matrices")
    parser.add_argument("--shard", default=None, metavar="I/N",
                        help="convert only shard I of N (by hash of the shape id), e.g. $SLURM_ARRAY_TASK_ID/100")
    parser.add_argument("--backend", default="local", choices=BACKENDS,
                        help="process pool or Ray (default local)")
    parser.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds per shape before its worker is stopped (0 = no limit; default 600)")
    parser.add_argument("--watertight-proxy", action="store_true",
                        help="replace each mesh by a watertight proxy (viscogrid) before sampling the SDF")
    parser.add_argument("--retry-failed", action="store_true", help="retry inputs recorded in failures*.jsonl")
    parser.add_argument("--shard-mb", type=float, default=256.0,
                        help="target size of one shard file (MiB, default 256)")
    parser.add_argument("--flush-seconds", type=float, default=300.0,
                        help="also commit a shard when converted shapes waited this long (bounds work lost to a kill)")
    parser.add_argument("--batch-size", type=int, default=1,
                        help="shapes per task, refined together on the device (for --device cuda; default 1)")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into a non-empty folder that preprocess did not create")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from msdf.data.backends import PoolError
    from msdf.data.layout import failures_path, writer_tag
    from msdf.data.preprocess import parse_shard, preprocess
    from msdf.data.readers import DatasetError
    from msdf.data.store import StoreError
    from msdf.data.task import EncodeSettings
    from msdf.device import torch_device
    from msdf.encoder import check_half_width_factors
    from msdf.limits import check_encoding
    from msdf.outpaths import check_output_dir, claim_output_dir

    device = str(torch_device(args.device))
    try:
        shard = parse_shard(args.shard) if args.shard else None
        if args.grids < 1 or args.k < 2 or args.batch_size < 1 or args.workers is not None and args.workers < 1:
            raise ValueError(f"need --grids >= 1, --k >= 2, --batch-size >= 1, --workers >= 1 "
                             f"(got {args.grids}, {args.k}, {args.batch_size}, {args.workers})")
        check_encoding(args.grids, args.k)
        if (args.refine_steps or 0) < 0 or args.shard_mb < 0 or args.flush_seconds <= 0 or args.timeout < 0:
            raise ValueError("need --refine-steps >= 0, --shard-mb >= 0, --flush-seconds > 0 and --timeout >= 0")
        check_half_width_factors(args.half_width_factor, args.thick_half_width_factor, args.thick_per_shape)
    except ValueError as exc:
        print(f"msdf preprocess: error: {exc}", file=sys.stderr)
        return 2
    if not Path(args.input).exists():
        print(f"msdf preprocess: error: {args.input}: no such file or folder", file=sys.stderr)
        return 1
    check_output_dir(args.out, NAME, overwrite=args.overwrite, own_files=("store.json", ".lock*"))
    claim_output_dir(args.out, NAME)
    settings = EncodeSettings(n_grids=args.grids, k=args.k, refine_steps=args.refine_steps, device=device,
                              half_width_factor=args.half_width_factor,
                              thick_half_width_factor=args.thick_half_width_factor,
                              thick_per_shape=args.thick_per_shape, seed=args.seed,
                              watertight_proxy=args.watertight_proxy)
    try:
        summary = preprocess(args.input, args.out, fmt=args.format, settings=settings, workers=args.workers,
                             shard=shard, backend=args.backend, address=args.address,
                             timeout=args.timeout if args.timeout > 0 else None, retry_failed=args.retry_failed,
                             shard_mb=args.shard_mb, flush_seconds=args.flush_seconds,
                             batch_size=args.batch_size, quiet=args.quiet)
    except (DatasetError, StoreError, PoolError) as exc:
        print(f"msdf preprocess: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("msdf preprocess: interrupted; finished shapes are saved, re-run the same command to resume",
              file=sys.stderr)
        return 130
    failures = failures_path(Path(args.out), writer_tag(shard))
    print(f"preprocess: {summary['converted']}/{summary['total']} converted ({summary['new_converted']} new, "
          f"{summary['skipped_done']} already done), {summary['failed']} failed"
          + (f" (reasons in {failures})" if summary["failed"] else "") + f" -> {args.out}")
    return 0 if summary["failed"] == 0 else 1
