"""``msdf render``: render meshes headless from a fixed three-quarter view to PNG (one image, a sheet or a folder)."""
from __future__ import annotations

import argparse
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
    from msdf.boundary import UsageError
    from msdf.limits import check_image
    from msdf.meshio import load_mesh
    from msdf.outpaths import check_output_dir, check_output_file
    from msdf.render import Renderer, contact_sheet, is_image_path, render_many

    out = Path(args.out)
    if args.labels is not None and len(args.labels) != len(args.meshes):
        raise UsageError(f"{len(args.meshes)} meshes but {len(args.labels)} labels")
    if args.columns < 1:
        raise UsageError(f"--columns must be >= 1, got {args.columns}")
    check_image(*args.size, supersample=Renderer.supersample)
    if is_image_path(out):
        check_output_file(out)
    else:
        check_output_dir(out, NAME, overwrite=True)  # a folder of PNGs: other files in it are left alone
    meshes = [load_mesh(m) for m in args.meshes]
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
