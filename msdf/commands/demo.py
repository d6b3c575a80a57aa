"""``msdf demo``: the whole pipeline on generated data, resumable, ending in one offline ``report.html``."""
from __future__ import annotations

import argparse

from msdf.flow.config import PRESETS

NAME = "demo"
HELP = "run the full pipeline (synthetic data, preprocessing, training, generation, evaluation, report)"
CPU_PRESETS = [name for name in PRESETS if name.startswith("cpu-")]  # sized for the demo's n = 256, k = 5 store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--out", default="demo_output", metavar="DIR", help="output folder (default demo_output)")
    parser.add_argument("--quick", action="store_true", help="~5-minute smoke run (small data, 3 minutes of training)")
    parser.add_argument("--minutes", type=float, default=None, help="training budget in minutes (default 15; quick 3)")
    parser.add_argument("--preset", choices=CPU_PRESETS, default=None,
                        help="training preset (default cpu-medium, in bf16 where the CPU has it; quick: cpu-small, "
                             "whose ~3x faster steps suit a 3-minute budget)")
    parser.add_argument("--per-class", type=int, default=None, help="synthetic shapes per class (default 40; quick 12)")
    parser.add_argument("--samples", type=int, default=None, help="samples per prompt (default 4; quick 2)")
    parser.add_argument("--resolution", type=int, default=None, help="marching-cubes resolution for generated shapes")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    from msdf.demo.pipeline import Demo, DemoConfig

    cfg = DemoConfig.make(args.out, quick=args.quick, minutes=args.minutes, preset=args.preset,
                          per_class=args.per_class, samples=args.samples, resolution=args.resolution,
                          workers=args.workers, seed=args.seed)
    return Demo(cfg).run()
