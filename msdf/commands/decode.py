"""``msdf decode``: M-SDF file (.npz) -> triangle mesh in the original coordinates."""
from __future__ import annotations

import argparse
import sys
import time

NAME = "decode"
HELP = "extract the surface of an M-SDF file (.npz) as a mesh (.ply/.obj/.stl/.glb)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="IN.npz", help="M-SDF file written by `msdf encode`")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="mesh file: .ply, .obj, .stl or .glb")
    parser.add_argument("--resolution", type=int, default=256,
                        help="lattice nodes along the longest side of the grids' bounding box (default 256)")
    parser.add_argument("--method", choices=("mc", "visco"), default="mc",
                        help="mc: marching cubes on the blended field (default); visco: VisCo grid reconstruction")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu",
                        help="where to evaluate the field (default cpu; auto = cuda if available)")
    parser.add_argument("--level", type=float, default=0.0, help="iso-level in unit-frame units (default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def run(args: argparse.Namespace) -> int:
    from msdf.decoder import decode
    from msdf.meshio import SAVE_FORMATS, save_mesh

    if not args.output.lower().endswith(SAVE_FORMATS):
        print(f"msdf decode: error: {args.output}: output must end in one of {', '.join(SAVE_FORMATS)}",
              file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    try:
        mesh = decode(args.input, resolution=args.resolution, method=args.method, device=args.device,
                      level=args.level, quiet=args.quiet)
        save_mesh(mesh, args.output)
    except ValueError as exc:  # MSDFFormatError and empty surfaces are ValueErrors naming the file / reason
        print(f"msdf decode: error: {exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"{args.output}: {len(mesh.vertices)} vertices, {len(mesh.faces)} faces "
              f"(resolution {args.resolution}, {time.perf_counter() - t0:.2f} s)")
    return 0
