"""``msdf encode``: triangle mesh -> Mosaic-SDF file (.npz), refinement on by default."""
from __future__ import annotations

import argparse
import sys
import time

NAME = "encode"
HELP = "encode a mesh (.obj/.off/.ply/.stl/.glb ...) as a Mosaic-SDF file (.npz)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("mesh", metavar="MESH", help="input mesh, any format trimesh reads")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.npz", help="M-SDF file to write")
    parser.add_argument("--grids", type=int, default=1024, help="number of local grids n (default 1024)")
    parser.add_argument("--k", type=int, default=7, help="samples per grid axis (default 7: k^3 = 343 values)")
    parser.add_argument("--refine-steps", type=int, default=None,
                        help="Adam steps of the refinement stage, 0 = off (default: msdf.refine.DEFAULT_REFINE_STEPS, "
                             "100)")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu",
                        help="device for the refinement (default cpu; auto = cuda if available)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (sampling, FPS start; default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def run(args: argparse.Namespace) -> int:
    from msdf.encoder import encode

    if not args.output.lower().endswith(".npz"):
        print(f"msdf encode: error: {args.output}: output must end in .npz", file=sys.stderr)
        return 2
    if args.grids < 1 or args.k < 2 or (args.refine_steps or 0) < 0:
        print("msdf encode: error: need --grids >= 1, --k >= 2 and --refine-steps >= 0", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    try:
        steps = {} if args.refine_steps is None else {"refine_steps": args.refine_steps}
        m = encode(args.mesh, n_grids=args.grids, k=args.k, device=args.device, seed=args.seed, quiet=args.quiet,
                   **steps)
        m.save(args.output)
    except ValueError as exc:  # MeshLoadError names the file and the reason
        print(f"msdf encode: error: {exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        i = m.info
        print(f"{args.output}: {m.n} grids, k={m.k}, coverage {i['coverage']:.4f}, half-width {i['half_width']:.4f} "
              f"(unit frame); time {time.perf_counter() - t0:.2f} s (init {i['init_seconds']:.2f} s, "
              f"refine {i['refine_seconds']:.2f} s, loss {i['refine_loss'][0]:.3g} -> {i['refine_loss'][1]:.3g})")
    return 0
