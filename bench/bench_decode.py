"""Benchmark M-SDF decoding: splatting + masked marching cubes vs. evaluating the blend at every lattice node.

For each mesh (default: the first few of ``../shared/meshes/watertight``) an M-SDF is built with ``msdf.encode``
(n=1024, k=7, no refinement: decoding cost does not depend on the values) and decoded at each resolution by

* ``splat``    — :func:`msdf.decoder.decode`: per-grid separable splatting onto the nodes each cube covers, coverage
  sign for uncovered nodes, marching cubes masked to cells next to covered nodes;
* ``baseline`` — :func:`msdf.field.blend_sdf` at every lattice node (hash-grid point queries), the same coverage
  sign for uncovered nodes, marching cubes over the full lattice (no mask).

Both produce the same surface; the table reports median wall time over ``--repeats`` runs, the speed-up, face
counts, and the largest vertex-count difference. ``--baseline-max-res`` skips the (slow) baseline above a resolution.

    python bench/bench_decode.py                                   # 3 meshes, 128/256/512
    python bench/bench_decode.py --meshes 6 --resolutions 256 --repeats 5

Writes ``bench/results/decode.json``. Timings on a shared machine are inflated by contention; compare medians.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from skimage import measure

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.results_io import write_result  # noqa: E402
from msdf.coverage import uncovered_sign  # noqa: E402
from msdf.decoder import decode  # noqa: E402
from msdf.encoder import encode  # noqa: E402
from msdf.field import Lattice, blend_sdf  # noqa: E402
from msdf.representation import MosaicSDF  # noqa: E402

DEFAULT_DIR = REPO.parent / "shared" / "meshes" / "watertight"


@torch.no_grad()
def baseline_decode(msdf: MosaicSDF, resolution: int) -> tuple[int, int]:
    """Dense baseline: blend_sdf at all nodes, coverage sign, unmasked marching cubes. Returns (vertices, faces)."""
    lattice = Lattice.around(msdf.centers, msdf.scales, resolution)
    nodes = torch.as_tensor(lattice.nodes(), dtype=torch.float32)
    F, W = blend_sdf(nodes[None], msdf.centers[None], msdf.scales[None], msdf.values[None])
    volume = F[0].numpy().reshape(lattice.dims)
    covered = (W[0] > 0).numpy().reshape(lattice.dims)
    labels, signs = uncovered_sign(covered, volume)
    np.copyto(volume, signs[labels] * np.float32(msdf.scales.max()), where=~covered)
    verts, faces, _, _ = measure.marching_cubes(volume, 0.0, spacing=(lattice.h,) * 3, allow_degenerate=False)
    return len(verts), len(faces)


def timed(fn, repeats: int):
    out, times = None, []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mesh-dir", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--meshes", type=int, default=3, help="how many meshes of the folder (sorted by name)")
    ap.add_argument("--resolutions", type=int, nargs="+", default=[128, 256, 512])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--baseline-max-res", type=int, default=512)
    ap.add_argument("--grids", type=int, default=1024)
    ap.add_argument("--k", type=int, default=7)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "decode.json")
    args = ap.parse_args()
    paths = sorted(p for p in args.mesh_dir.iterdir() if p.is_file() and not p.name.startswith("."))[:args.meshes]
    if not paths:
        print(f"no meshes in {args.mesh_dir}", file=sys.stderr)
        return 1
    rows = []
    print(f"{'mesh':<16}{'res':>5}{'splat s':>10}{'base s':>10}{'speed-up':>10}{'faces':>10}{'base faces':>12}")
    for path in paths:
        msdf = encode(path, n_grids=args.grids, k=args.k, refine_steps=0, seed=0)
        for res in args.resolutions:
            mesh, t_splat = timed(lambda: decode(msdf, resolution=res), args.repeats)
            row = {"mesh": path.name, "resolution": res, "splat_s": t_splat, "faces": len(mesh.faces),
                   "vertices": len(mesh.vertices), "watertight": bool(mesh.is_watertight)}
            if res <= args.baseline_max_res:
                (bv, bf), t_base = timed(lambda: baseline_decode(msdf, res), max(1, args.repeats // 2))
                row.update(baseline_s=t_base, baseline_faces=bf, speedup=t_base / t_splat)
            rows.append(row)
            base = (f"{row['baseline_s']:>10.2f}{row['speedup']:>10.1f}" if "baseline_s" in row
                    else f"{'-':>10}{'-':>10}")
            print(f"{path.name:<16}{res:>5}{t_splat:>10.2f}{base}{row['faces']:>10}{row.get('baseline_faces', '-'):>12}")
    medians = {}
    for res in args.resolutions:
        sel = [r for r in rows if r["resolution"] == res]
        medians[str(res)] = {"splat_s": statistics.median(r["splat_s"] for r in sel)}
        base = [r["baseline_s"] for r in sel if "baseline_s" in r]
        if base:
            medians[str(res)]["baseline_s"] = statistics.median(base)
        base = f"{medians[str(res)]['baseline_s']:>10.2f}" if base else f"{'-':>10}"
        print(f"{'median':<16}{res:>5}{medians[str(res)]['splat_s']:>10.2f}{base}")
    result = {"benchmark": "decode", "baseline": "blend_sdf at every lattice node + unmasked marching cubes",
              "grids": args.grids, "k": args.k, "repeats": args.repeats, "rows": rows, "medians": medians,
              "machine": {"platform": platform.platform(), "cpus": torch.get_num_threads(),
                          "torch": torch.__version__}, "note": "timings on a shared machine are inflated by contention"}
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
