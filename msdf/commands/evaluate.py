"""``msdf evaluate``: COV / MMD / 1-NNA (Chamfer, 2048 points) and conditional accuracy of a trained flow model."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "evaluate"
HELP = "evaluate a trained flow model against reference shapes: COV, MMD, 1-NNA, per-class and conditional accuracy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from msdf.commands.generate import add_sampling_arguments, add_solver_arguments

    parser.add_argument("run", metavar="RUN", help="training run directory")
    parser.add_argument("--reference", required=True, metavar="STORE_OR_DIR",
                        help="held-out references: an M-SDF store (msdf preprocess) or a folder of meshes "
                             "(labels/captions from captions.csv, else the sub-folder name)")
    parser.add_argument("--split", default=None, help="use only this split of a store (e.g. test)")
    parser.add_argument("--reference-limit", type=int, default=None, metavar="R", help="use the first R references")
    parser.add_argument("-n", "--num-samples", type=int, default=None,
                        help="generated samples (default: one per reference, with the reference's class/caption)")
    add_solver_arguments(parser)
    add_sampling_arguments(parser)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resolution", type=int, default=128, help="marching cubes resolution for decoding (128)")
    parser.add_argument("--points", type=int, default=2048, help="points per cloud (default 2048)")
    parser.add_argument("--batch-size", type=int, default=16, help="samples per ODE batch (16)")
    parser.add_argument("-o", "--out", default=None, metavar="DIR",
                        help="output folder for evaluation.json and evaluation.md (default RUN/eval)")
    parser.add_argument("--quiet", action="store_true")


def run(args: argparse.Namespace) -> int:
    from msdf.evaluation import evaluate_run, load_reference, markdown_table
    from msdf.flow.checkpoint import CheckpointError
    from msdf.atomic import atomic_write, write_json
    from msdf.generate import make_solver

    from dataclasses import asdict

    from msdf.commands.generate import interval_from_args, load_sampler, sampling_from_args

    restart, temperature, repulsion, alignment = sampling_from_args(args)
    interval = interval_from_args(args)
    out = Path(args.out) if args.out else Path(args.run) / "eval"
    try:
        sampler = load_sampler(args, interval, repulsion, alignment)
        solver = make_solver(args.solver, args.nfe, run_dir=args.run, guidance=args.guidance,
                             bns_path=args.bns_file, device=sampler.device,
                             interval=sampler.guidance_interval, sde_noise=args.sde_noise)
        clouds, labels, captions = load_reference(args.reference, n_points=args.points, limit=args.reference_limit,
                                                  split=args.split, resolution=args.resolution, seed=args.seed,
                                                  quiet=args.quiet)
        report = evaluate_run(sampler, solver, clouds, labels, captions, num_samples=args.num_samples,
                              guidance=args.guidance, seed=args.seed, resolution=args.resolution,
                              n_points=args.points, batch_size=args.batch_size, quiet=args.quiet, restart=restart,
                              temperature=temperature)
    except (CheckpointError, ValueError, FileNotFoundError) as exc:
        print(f"msdf evaluate: error: {exc}", file=sys.stderr)
        return 1
    report.update({"run": str(args.run), "reference": str(args.reference), "split": args.split,
                   "solver": args.solver, "sde_noise": args.sde_noise if args.solver == "sde" else None,
                   "restart": asdict(restart),
                   "temperature": temperature})
    write_json(out / "evaluation.json", report)
    table = markdown_table(report)
    with atomic_write(out / "evaluation.md") as tmp:
        tmp.write_text(f"# Evaluation of {args.run}\n\nReference: {args.reference}; solver {args.solver}, "
                       f"NFE {report['nfe']}, guidance {args.guidance}.\n\n{table}")
    print(table)
    print(f"wrote {out / 'evaluation.json'} and {out / 'evaluation.md'}")
    return 0
