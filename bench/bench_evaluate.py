"""Benchmark the Chamfer matrix behind ``msdf evaluate``: scipy KD-trees vs brute-force torch (the baseline).

Point clouds of 2048 area-uniform samples (the evaluation protocol) from the synthetic classes, bbox-normalised. Both
methods compute the same exact (N, M) matrix; reported: seconds per pair (median of ``--repeats``), the speed-up and
the largest absolute difference between the two matrices.

    python bench/bench_evaluate.py --clouds 24 --repeats 3

Writes ``bench/results/evaluate.json``.
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.results_io import write_result  # noqa: E402
from msdf.evaluation import N_POINTS, chamfer_matrix, mesh_point_cloud, normalize_bbox  # noqa: E402
from msdf.synth import CLASSES, generate  # noqa: E402


def clouds(count: int, n_points: int) -> torch.Tensor:
    """(count, n_points, 3) bbox-normalised clouds cycling through the synthetic classes."""
    names = sorted(CLASSES)
    out = [mesh_point_cloud(generate(names[i % len(names)], i).mesh, n_points, seed=i) for i in range(count)]
    return normalize_bbox(torch.from_numpy(np.stack(out)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clouds", type=int, default=24, help="clouds per side of the matrix (24)")
    ap.add_argument("--points", type=int, default=N_POINTS)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    a = clouds(args.clouds, args.points)
    b = clouds(args.clouds, args.points)[torch.randperm(args.clouds, generator=torch.Generator().manual_seed(0))]
    pairs = args.clouds ** 2
    rows, mats = {}, {}
    for method in ("brute", "kdtree"):
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            mats[method] = chamfer_matrix(a, b, method=method)
            times.append(time.perf_counter() - t0)
        rows[method] = {"seconds_per_pair": statistics.median(times) / pairs, "seconds_matrix": statistics.median(times)}
    speedup = rows["brute"]["seconds_per_pair"] / rows["kdtree"]["seconds_per_pair"]
    diff = float((mats["brute"] - mats["kdtree"]).abs().max())
    print(f"Chamfer matrix {args.clouds}x{args.clouds}, {args.points} points per cloud, "
          f"torch threads {torch.get_num_threads()}")
    print(f"{'method':<8} {'ms/pair':>9} {'s/matrix':>9}")
    for m, r in rows.items():
        print(f"{m:<8} {1e3 * r['seconds_per_pair']:>9.2f} {r['seconds_matrix']:>9.2f}")
    print(f"kdtree speed-up {speedup:.1f}x; max |difference| {diff:.2e}")
    write_result("evaluate", {"date": time.strftime("%Y-%m-%d"), "machine": platform.platform(),
                              "cpus": torch.get_num_threads(), "clouds": args.clouds, "points": args.points,
                              "repeats": args.repeats, "methods": rows, "speedup": speedup, "max_abs_diff": diff})


if __name__ == "__main__":
    main()
