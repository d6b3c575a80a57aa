"""``msdf decode``: M-SDF file (.npz) -> triangle mesh in the original coordinates."""
from __future__ import annotations

import argparse
import time

from msdf.choices import DECODE_METHODS, DEVICES

NAME = "decode"
HELP = "extract the surface of an M-SDF file (.npz) as a mesh (.ply/.obj/.stl/.glb)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="IN.npz", help="M-SDF file written by `msdf encode`")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="mesh file: .ply, .obj, .stl or .glb")
    parser.add_argument("--resolution", type=int, default=256,
                        help="lattice nodes along the longest side of the grids' bounding box (default 256)")
    parser.add_argument("--method", choices=DECODE_METHODS, default="mc",
                        help="mc: marching cubes on the blended field (default); mc-nearest: the same with "
                             "uncovered space signed by its nearest covered node; visco: VisCo grid reconstruction")
    parser.add_argument("--device", choices=DEVICES, default="cpu",
                        help="where to evaluate the field (default cpu; auto = cuda if available)")
    parser.add_argument("--level", type=float, default=0.0, help="iso-level in unit-frame units (default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def run(args: argparse.Namespace) -> int:
    from msdf.decoder import decode
    from msdf.limits import check_resolution
    from msdf.meshio import SAVE_FORMATS, save_mesh
    from msdf.outpaths import check_output_file

    check_output_file(args.output, SAVE_FORMATS)
    check_resolution(args.resolution, args.method)
    t0 = time.perf_counter()
    mesh = decode(args.input, resolution=args.resolution, method=args.method, device=args.device, level=args.level,
                  quiet=args.quiet)
    save_mesh(mesh, args.output)
    if not args.quiet:
        print(f"{args.output}: {len(mesh.vertices)} vertices, {len(mesh.faces)} faces "
              f"(resolution {args.resolution}, {time.perf_counter() - t0:.2f} s)")
    return 0
