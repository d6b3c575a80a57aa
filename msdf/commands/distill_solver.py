"""``msdf distill-solver``: learn a Bespoke Non-Stationary few-step solver for a trained flow model."""
from __future__ import annotations

import argparse

from msdf.choices import BNS_INITS, GUIDANCE_DEFAULT
from msdf.commands.generate import add_guidance_interval_argument, interval_from_args, load_sampler

NAME = "distill-solver"
# Training size by device. On an H200 the GPU setting takes ~90 s for an 8-NFE solver of the demo model and reaches
# 57.0 dB against dopri5 (midpoint at 16 NFE: 54.8 dB); the CPU setting takes ~32 min on 2 cores (55.2 dB vs 54.7).
GPU_DEFAULTS = {"pairs": 512, "iters": 2000, "batch_size": 32}
CPU_DEFAULTS = {"pairs": 256, "iters": 500, "batch_size": 16}
HELP = "learn a few-step BNS solver for a trained run (used by `msdf generate --solver bns`)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="training run directory")
    parser.add_argument("--nfe", type=int, required=True, help="velocity evaluations of the learned solver")
    parser.add_argument("--guidance", "-w", type=float, default=GUIDANCE_DEFAULT,
                        help=f"CFG weight the solver is distilled for (default {GUIDANCE_DEFAULT:g}; generate with the "
                             "same -w)")
    add_guidance_interval_argument(parser)
    parser.add_argument("--pairs", type=int, default=None,
                        help="(noise, condition) training pairs (default 512 on CUDA, 256 on CPU)")
    parser.add_argument("--iters", type=int, default=None, help="Adam iterations (default 2000 on CUDA, 500 on CPU)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="pairs per iteration (default 32 on CUDA, 16 on CPU)")
    parser.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate (default 1e-2)")
    parser.add_argument("--init", choices=BNS_INITS, default="midpoint",
                        help="starting solver (default midpoint; needs an even --nfe)")
    parser.add_argument("--prompts", metavar="FILE", help="prompts to distill on (required for text models)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu | cuda | auto (default cpu)")
    parser.add_argument("-o", "--out", default=None, metavar="SAFETENSORS",
                        help="output file (default RUN/solvers/bns_nfe<N>_w<W>.safetensors, + .json)")
    parser.add_argument("--quiet", action="store_true")


def run(args: argparse.Namespace) -> int:
    from msdf.boundary import UsageError
    from msdf.flow.bns import distill, solver_path
    from msdf.generate import read_prompts
    from msdf.outpaths import check_output_file

    for name in ("nfe", "pairs", "iters", "batch_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if not args.lr > 0:
        raise UsageError(f"--lr must be > 0, got {args.lr}")
    out = check_output_file(args.out or solver_path(args.run, args.nfe, args.guidance), (".safetensors",))
    prompts = read_prompts(args.prompts) if args.prompts else None
    sampler = load_sampler(args, interval_from_args(args))
    size = GPU_DEFAULTS if sampler.device.type == "cuda" else CPU_DEFAULTS
    pairs, iters, batch = (size[k] if getattr(args, k) is None else getattr(args, k) for k in size)
    result, summary = distill(sampler, args.nfe, pairs=pairs, iters=iters, guidance=args.guidance, init=args.init,
                              prompts=prompts, seed=args.seed, batch_size=batch, lr=args.lr, quiet=args.quiet)
    result.solver.save(out, summary)
    print(f"wrote {out}: validation RMSE {summary['val_rmse_init']:.4g} ({args.init}) -> "
          f"{summary['val_rmse_trained']:.4g} (BNS) at {args.nfe} NFE; dopri5 used {summary['dopri5_nfe_mean']:.0f} NFE")
    return 0
