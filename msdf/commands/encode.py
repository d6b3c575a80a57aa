"""``msdf encode``: triangle mesh -> Mosaic-SDF file (.npz), refinement on by default."""
from __future__ import annotations

import argparse
import time

from msdf.choices import DEVICES

NAME = "encode"
HELP = "encode a mesh (.obj/.off/.ply/.stl/.glb ...) as a Mosaic-SDF file (.npz)"


def add_half_width_arguments(parser: argparse.ArgumentParser) -> None:
    """``--half-width-factor``, ``--thick-half-width-factor`` and ``--thick-per-shape``
    (:func:`msdf.encoder.initialize`), shared with ``msdf preprocess``."""
    parser.add_argument("--half-width-factor", type=float, default=None, metavar="F",
                        help="grid half-width = F x the FPS centres' covering radius, F > 1 (default: "
                             "msdf.encoder.HALF_WIDTH_FACTOR, 1.2); larger = more overlap, coarser nodes")
    parser.add_argument("--thick-half-width-factor", type=float, default=None, metavar="FT",
                        help="grids on thick parts grow to the local half-thickness, up to FT x the covering radius "
                             "(FT > F; default: off, every grid has F x the radius)")
    parser.add_argument("--thick-per-shape", action="store_true",
                        help="with --thick-half-width-factor: every grid of a shape with thick parts (10%% of its "
                             "grids or more) gets FT x the radius, every grid of any other shape F x")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("mesh", metavar="MESH", help="input mesh, any format trimesh reads")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.npz", help="M-SDF file to write")
    parser.add_argument("--grids", type=int, default=1024, help="number of local grids n (default 1024)")
    parser.add_argument("--k", type=int, default=7, help="samples per grid axis (default 7: k^3 = 343 values)")
    parser.add_argument("--refine-steps", type=int, default=None,
                        help="Adam steps of the refinement stage, 0 = off (default: msdf.refine.DEFAULT_REFINE_STEPS, "
                             "100)")
    add_half_width_arguments(parser)
    parser.add_argument("--device", choices=DEVICES, default="cpu",
                        help="device for the refinement (default cpu; auto = cuda if available)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (sampling, FPS start; default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def run(args: argparse.Namespace) -> int:
    from msdf.boundary import UsageError
    from msdf.encoder import check_half_width_factors, encode
    from msdf.limits import check_encoding
    from msdf.outpaths import check_output_file

    check_output_file(args.output, (".npz",))
    check_encoding(args.grids, args.k)
    if (args.refine_steps or 0) < 0:
        raise UsageError(f"--refine-steps must be >= 0, got {args.refine_steps}")
    try:
        check_half_width_factors(args.half_width_factor, args.thick_half_width_factor, args.thick_per_shape)
    except ValueError as exc:
        raise UsageError(f"--half-width-factor / --thick-half-width-factor / --thick-per-shape: {exc}") from None
    t0 = time.perf_counter()
    options = {name: value for name in ("refine_steps", "half_width_factor", "thick_half_width_factor")
               if (value := getattr(args, name)) is not None}
    m = encode(args.mesh, n_grids=args.grids, k=args.k, device=args.device, seed=args.seed, quiet=args.quiet,
               thick_per_shape=args.thick_per_shape, **options)
    m.save(args.output)
    if not args.quiet:
        i = m.info
        print(f"{args.output}: {m.n} grids, k={m.k}, coverage {i['coverage']:.4f}, half-width {i['half_width']:.4f} "
              f"(unit frame); time {time.perf_counter() - t0:.2f} s (init {i['init_seconds']:.2f} s, "
              f"refine {i['refine_seconds']:.2f} s, loss {i['refine_loss'][0]:.3g} -> {i['refine_loss'][1]:.3g})")
    return 0
