"""``msdf complete``: D-Flow shape completion of a partial point cloud with a trained flow model."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from msdf.choices import DECODE_METHODS, FRAMES, MESH_FORMATS, OPTIMIZERS

NAME = "complete"
HELP = "complete a partial point cloud into full shapes (D-Flow: optimise the source noise through the ODE)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from msdf.commands.generate import add_overwrite_argument, add_solver_arguments

    parser.add_argument("run", metavar="RUN", help="training run directory")
    parser.add_argument("--points", required=True, metavar="FILE",
                        help="partial point cloud: .ply/.obj/.off (vertices), .xyz/.pts/.pwn/.txt (x y z [nx ny nz]), .npz or .npy "
                             "(normals are not used)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--prompt", metavar="TEXT", help="text prompt (class models: a prompt naming one class)")
    group.add_argument("--class", dest="class_name", metavar="NAME", help="class name")
    parser.add_argument("-n", "--num-samples", type=int, default=1, help="completions from different seeds (1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=20, help="optimiser steps (default 20)")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="lbfgs", help="default lbfgs")
    parser.add_argument("--lr", type=float, default=None, help="step size (default 1 for lbfgs, 0.05 for adam)")
    parser.add_argument("--reg-weight", type=float, default=1e-2, help="weight of the chi-norm regulariser (1e-2)")
    parser.add_argument("--frame", choices=FRAMES, default="fit",
                        help="fit: normalise the points' bounding box to the model's unit frame (default); "
                             "unit: the points are in the unit frame already")
    parser.add_argument("--max-points", type=int, default=2048, help="farthest-point subsample size (2048)")
    add_solver_arguments(parser, default_solver="midpoint", default_nfe=8)
    parser.add_argument("--resolution", type=int, default=256, help="mesh extraction resolution (256)")
    parser.add_argument("--method", choices=DECODE_METHODS, default="mc")
    parser.add_argument("--format", dest="fmt", choices=MESH_FORMATS, default="glb")
    parser.add_argument("--no-render", action="store_true", help="skip PNG renders")
    parser.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder")
    add_overwrite_argument(parser)
    parser.add_argument("--quiet", action="store_true")


def run(args: argparse.Namespace) -> int:
    from msdf.boundary import UsageError
    from msdf.commands.generate import (check_sample_arguments, claim_sample_folder, interval_from_args,
                                        load_sampler)
    from msdf.flow.dflow import complete_shapes
    from msdf.limits import check_archive
    from viscogrid.pointio import load_points
    from msdf.atomic import write_json
    from msdf.generate import make_solver, slug, write_samples

    check_sample_arguments(args, ("num_samples", "steps", "max_points"))
    if args.solver in ("dopri5", "sde"):
        raise UsageError("D-Flow differentiates through a fixed few-step ODE solve: use euler/midpoint/rk4/bns")
    interval = interval_from_args(args)
    t_start = time.perf_counter()
    check_archive(args.points)
    points, _ = load_points(args.points)
    sampler = load_sampler(args, interval)
    solver = make_solver(args.solver, args.nfe, run_dir=args.run, guidance=args.guidance, bns_path=args.bns_file,
                         device=sampler.device, interval=sampler.guidance_interval)
    if sampler.cond_type != "text":  # unknown class names fail here, before anything is written
        sampler.condition(prompts=None if args.prompt is None else [args.prompt],
                          classes=None if args.class_name is None else [args.class_name])
    claim_sample_folder(args, "completion.json")
    t0 = time.perf_counter()
    matrices, norm, res = complete_shapes(
        sampler, points, prompt=args.prompt, class_name=args.class_name, num_samples=args.num_samples,
        seed=args.seed, guidance=args.guidance, solver=solver, steps=args.steps, optimizer=args.optimizer,
        lr=args.lr, reg_weight=args.reg_weight, frame=args.frame, max_points=args.max_points, quiet=args.quiet)
    t_opt = time.perf_counter() - t0
    label = args.prompt or args.class_name or "unconditional"
    records = [{"index": j, "seed": args.seed + j, "observation_loss_initial": res.initial_loss[j],
                "observation_loss_final": res.final_loss[j], "name": f"{j:03d}-completion-{slug(label)}",
                "label": f"{j}: {label} (seed {args.seed + j})"} for j in range(args.num_samples)]
    result = write_samples(matrices, records, args.out, normalization=norm, resolution=args.resolution,
                           method=args.method, fmt=args.fmt, render=not args.no_render, device=sampler.device,
                           quiet=args.quiet)
    result.timings.update({"optimize_s": t_opt, "total_s": time.perf_counter() - t_start})
    write_json(Path(args.out) / "completion.json", {
        "run": str(args.run), "points": str(args.points), "num_points": int(len(points)), "prompt": args.prompt,
        "class": args.class_name, "guidance": args.guidance, "guidance_interval": list(sampler.guidance_interval),
        "solver": args.solver, "nfe": args.nfe,
        "steps": args.steps, "optimizer": args.optimizer, "reg_weight": args.reg_weight, "frame": args.frame,
        "normalization": {"center": norm.center.tolist(), "scale": norm.scale}, "timings": result.timings,
        "contact_sheet": result.contact_sheet.name if result.contact_sheet else None, "history": res.history, "samples": result.samples})
    for r in result.samples:
        print(f"sample {r['index']}: observation loss {r['observation_loss_initial']:.4g} -> "
              f"{r['observation_loss_final']:.4g}" + (f"  ({r['error']})" if "error" in r else f"  {r['mesh']}"))
    print(f"wrote {args.out}/completion.json")
    return 0 if not any("error" in r for r in result.samples) else 3
