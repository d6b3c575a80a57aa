"""The ``viscogrid`` command line (also ``python -m msdf.visco_cli``): VisCo Grids reconstruction of a point file.

It lives on the msdf side of the bridge because it shares msdf's error boundary (:mod:`msdf.boundary`), size
limits (:mod:`msdf.limits`), output-path checks and atomic mesh writer; the :mod:`viscogrid` library itself imports
nothing from msdf.

    viscogrid reconstruct POINTS -o MESH.{ply,obj,stl,glb} [--resolution R] [--no-normals] [--sample N]
                          [--device cpu|cuda|auto] [--steps-scale S] [--point-weight W] [--noise auto|SIGMA]
                          [--quiet] [--debug] [--max-memory SIZE]

Errors end in one line ``viscogrid reconstruct: error: ...`` (see :mod:`msdf.boundary`).
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from msdf.boundary import add_common_arguments, run_command
from viscogrid.pointio import load_points
from viscogrid.schedule import Weights



def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="viscogrid", description="VisCo Grids surface reconstruction from points.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    rec = sub.add_parser("reconstruct", help="reconstruct a watertight mesh from a point file or a mesh's points")
    rec.add_argument("points", help="input: .ply, .xyz, .pwn, .txt, .npz (points[, normals]), .npy, or a mesh file")
    rec.add_argument("-o", "--output", required=True, help="output mesh (.ply, .obj, .stl or .glb)")
    rec.add_argument("--resolution", type=int, default=256, help="finest grid resolution (default 256)")
    rec.add_argument("--no-normals", action="store_true",
                     help="ignore normals in the input and estimate/orient them (Open3D)")
    rec.add_argument("--sample", type=int, default=None, metavar="N",
                     help="for a mesh input: use N area-uniform surface samples instead of its vertices")
    rec.add_argument("--device", default="cpu", help="torch device: cpu (default), cuda, cuda:1, or auto")
    rec.add_argument("--steps-scale", type=float, default=1.0, help="multiply every level's Adam steps (speed/quality)")
    rec.add_argument("--point-weight", type=float, default=Weights.point,
                     help=f"weight of the f(x_i) = 0 term on clean points (default {Weights.point})")
    rec.add_argument("--noise", default="auto", metavar="auto|SIGMA",
                     help="noise std of the points in their units (0 = clean), or auto (default: estimated from "
                          "local plane fits); the point weight backs off at grid cells finer than the noise")
    rec.add_argument("--seed", type=int, default=0, help="seed for --sample")
    rec.add_argument("--quiet", action="store_true", help="no progress bars or summary")
    add_common_arguments(rec)
    return parser


def parse_noise(text: str) -> float | str:
    """``--noise``: "auto" or a finite number >= 0 (ValueError with a readable message otherwise)."""
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"--noise must be 'auto' or a number >= 0 (the points' noise std), got {text!r}")
    return value


def run_reconstruct(args: argparse.Namespace) -> int:
    from msdf.device import torch_device
    from msdf.limits import check_archive, check_resolution
    from msdf.meshio import SAVE_FORMATS, save_mesh
    from msdf.outpaths import check_output_file
    from viscogrid.reconstruction import reconstruct
    from viscogrid.schedule import default_schedule

    device = torch_device(args.device)
    try:
        check_output_file(args.output, SAVE_FORMATS)
        check_resolution(args.resolution, "visco")
        if not args.steps_scale > 0:
            raise ValueError(f"--steps-scale must be > 0, got {args.steps_scale}")
        schedule = default_schedule(args.resolution, args.steps_scale)
        noise = parse_noise(args.noise)
    except ValueError as exc:
        print(f"viscogrid reconstruct: error: {exc}", file=sys.stderr)
        return 2
    check_archive(args.points)
    points, normals = load_points(args.points, sample=args.sample, seed=args.seed)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    grid, mesh = reconstruct(points, None if args.no_normals else normals, resolution=args.resolution, device=device,
                             schedule=schedule, weights=Weights(point=args.point_weight), quiet=args.quiet,
                             timings=timings, noise=noise)
    save_mesh(mesh, args.output)
    if not args.quiet:
        summary = {"points": len(points), "normals": "given" if normals is not None and not args.no_normals
                   else "estimated", "vertices": len(mesh.vertices), "faces": len(mesh.faces),
                   "watertight": bool(mesh.is_watertight), "seconds": round(time.perf_counter() - t0, 2),
                   "noise_sigma": grid.noise_sigma,
                   "timings": {k: round(v, 2) for k, v in timings.items()}, "output": args.output}
        print(json.dumps(summary))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``viscogrid`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    return run_command(f"viscogrid {args.command}", run_reconstruct, args)


if __name__ == "__main__":
    sys.exit(main())
