"""``msdf export``: decode an M-SDF file (or read a mesh) and write GLB/OBJ/PLY/STL and/or an offline HTML viewer."""
from __future__ import annotations

import argparse

from msdf.choices import DECODE_METHODS, DEVICES

NAME = "export"
HELP = "export an M-SDF .npz (or any mesh) to .glb/.obj/.ply/.stl and/or a self-contained HTML viewer page"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="IN", help="M-SDF file (.npz) or a mesh file")
    parser.add_argument("-o", "--out", required=True, metavar="OUT",
                        help="output file: .glb (with vertex normals), .obj, .ply, .stl, or .html (viewer only)")
    parser.add_argument("--resolution", type=int, default=256, metavar="R", help="decoding grid resolution (256)")
    parser.add_argument("--method", default="mc", choices=DECODE_METHODS, help="decoder: marching cubes or VisCo")
    parser.add_argument("--device", default="cpu", choices=DEVICES, help="decoding device (cpu)")
    parser.add_argument("--html", action="store_true", help="also write OUT with suffix .html: an offline 3D viewer")


def run(args: argparse.Namespace) -> int:
    from msdf.device import torch_device
    from msdf.export import export
    from msdf.meshio import SAVE_FORMATS
    from msdf.limits import check_resolution
    from msdf.outpaths import check_output_file

    device = str(torch_device(args.device))
    out = check_output_file(args.out, SAVE_FORMATS + (".html",))
    if args.html:
        check_output_file(out.with_suffix(".html"))
    check_resolution(args.resolution, args.method)
    written = export(args.input, args.out, resolution=args.resolution, method=args.method, device=device,
                     html_page=args.html)
    for p in written:
        print(f"wrote {p}")
    return 0
