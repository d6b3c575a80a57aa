"""``msdf synth-dataset``: write the captioned synthetic dataset of watertight furniture/object meshes."""
from __future__ import annotations

import argparse

NAME = "synth-dataset"
HELP = "write a captioned dataset of watertight parametric furniture/object meshes (chair, table, lamp, mug, ...)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder (one sub-folder per class)")
    parser.add_argument("--per-class", type=int, default=40, metavar="N", help="shapes per class (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed; same seed = identical files (default 0)")
    parser.add_argument("--classes", default=None, metavar="A,B,...",
                        help="comma-separated subset of the classes (default: all; an unknown name lists them)")
    parser.add_argument("--workers", type=int, default=1, metavar="W", help="worker processes (default 1)")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into a non-empty folder that synth-dataset did not create")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from msdf.boundary import UsageError
    from msdf.outpaths import check_output_dir, claim_output_dir
    from msdf.synth import parse_classes, write_dataset

    try:
        classes = parse_classes(args.classes)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.per_class < 1 or args.workers < 1:
        raise UsageError(f"--per-class and --workers must be >= 1 (got {args.per_class}, {args.workers})")
    check_output_dir(args.out, NAME, overwrite=args.overwrite)
    claim_output_dir(args.out, NAME)
    rows = write_dataset(args.out, per_class=args.per_class, seed=args.seed, classes=classes, workers=args.workers,
                         quiet=args.quiet)
    faces = [r["faces"] for r in rows]
    print(f"wrote {len(rows)} meshes of {len(classes)} classes to {args.out} "
          f"(faces: median {sorted(faces)[len(faces) // 2]}, max {max(faces)}); captions in {args.out}/captions.csv")
    return 0
