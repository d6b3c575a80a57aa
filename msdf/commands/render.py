"""``msdf render``: render meshes headless from a fixed three-quarter view to PNG (one image, a sheet or a folder)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "render"
HELP = "render meshes to PNG (one mesh -> one image; several -> a contact sheet, or one PNG each with -o DIR)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("meshes", nargs="+", metavar="MESH", help="mesh files (any format trimesh reads)")
    parser.add_argument("-o", "--out", required=True, metavar="PNG_OR_DIR",
                        help="a .png file (one mesh: its image; several: a contact sheet) or a folder (one PNG each)")
    parser.add_argument("--size", type=int, nargs=2, default=(512, 512), metavar=("W", "H"), help="image size (512 512)")
    parser.add_argument("--azimuth", type=float, default=35.0, help="camera azimuth in degrees about +y (default 35)")
    parser.add_argument("--elevation", type=float, default=25.0, help="camera elevation in degrees (default 25)")
    parser.add_argument("--columns", type=int, default=4, help="contact sheet columns (default 4)")
    parser.add_argument("--labels", nargs="+", default=None, metavar="TEXT",
                        help="labels under the contact sheet tiles (default: file names)")
    parser.add_argument("--no-shadows", action="store_true", help="no cast shadows")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from msdf.meshio import MeshLoadError, load_mesh
    from msdf.render import contact_sheet, is_image_path, render_many

    out = Path(args.out)
    if args.labels is not None and len(args.labels) != len(args.meshes):
        print(f"msdf render: error: {len(args.meshes)} meshes but {len(args.labels)} labels", file=sys.stderr)
        return 2
    if not is_image_path(out) and out.exists() and not out.is_dir():
        print(f"msdf render: error: {out}: exists and is not a folder; give a .png path or a folder", file=sys.stderr)
        return 2
    try:
        meshes = [load_mesh(m) for m in args.meshes]
    except MeshLoadError as exc:
        print(f"msdf render: error: {exc}", file=sys.stderr)
        return 1
    settings = dict(size=tuple(args.size), azimuth=args.azimuth, elevation=args.elevation,
                    shadows=not args.no_shadows, quiet=args.quiet)
    if is_image_path(out):
        if len(meshes) == 1:
            render_many(meshes, [out], **settings)
        else:
            images = render_many(meshes, None, **settings)
            contact_sheet(images, args.labels or [Path(m).name for m in args.meshes], out, columns=args.columns)
        print(f"wrote {out}")
    else:
        paths = [out / (Path(m).stem + ".png") for m in args.meshes]
        if len(set(paths)) != len(paths):
            paths = [out / f"{i:04d}_{Path(m).stem}.png" for i, m in enumerate(args.meshes)]
        render_many(meshes, paths, **settings)
        print(f"wrote {len(paths)} images to {out}")
    return 0
