"""Benchmark the Chamfer matrix behind ``msdf evaluate``: scipy KD-trees and KeOps vs brute-force torch (the baseline).

Point clouds of 2048 area-uniform samples (the evaluation protocol) from the synthetic classes, bbox-normalised. All
methods compute the same exact (N, M) matrix; reported: seconds per pair (median of ``--repeats``, after one untimed
warm-up that also compiles the KeOps kernel), the speed-up over brute force and the largest absolute difference from
the brute-force matrix.

    python bench/bench_evaluate.py --clouds 24 --repeats 3 --methods kdtree keops   # CPU
    python bench/bench_evaluate.py --device cuda --clouds 48 --methods kdtree        # GPU brute force vs CPU KD-trees

Writes ``bench/results/evaluate.json`` (or ``--out``).
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
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--methods", nargs="+", default=["kdtree"], choices=["kdtree", "keops"],
                    help="methods compared with brute force (default: kdtree)")
    ap.add_argument("--chunk", type=int, default=8, help="chunk of chamfer_matrix (brute: columns, keops: rows)")
    ap.add_argument("--out", default="evaluate")
    args = ap.parse_args()
    device = torch.device(args.device)
    a = clouds(args.clouds, args.points).to(device)
    b = clouds(args.clouds, args.points)[torch.randperm(args.clouds, generator=torch.Generator().manual_seed(0))]
    b = b.to(device)
    pairs = args.clouds ** 2
    rows, mats = {}, {}
    for method in ["brute", *args.methods]:
        times = []
        for rep in range(args.repeats + 1):
            _sync(device)
            t0 = time.perf_counter()
            mats[method] = chamfer_matrix(a, b, method=method, chunk=args.chunk)
            _sync(device)
            if rep:  # the first pass is a warm-up (KeOps compiles its kernel there)
                times.append(time.perf_counter() - t0)
        seconds = statistics.median(times)
        rows[method] = {"seconds_per_pair": seconds / pairs, "seconds_matrix": seconds,
                        "speedup_vs_brute": rows["brute"]["seconds_matrix"] / seconds if rows else 1.0,
                        "max_abs_diff_vs_brute": float((mats["brute"] - mats[method]).abs().max())}
    print(f"Chamfer matrix {args.clouds}x{args.clouds}, {args.points} points per cloud, device {device}, "
          f"torch threads {torch.get_num_threads()}")
    print(f"{'method':<8} {'ms/pair':>9} {'s/matrix':>9} {'speed-up':>9} {'max|diff|':>10}")
    for m, r in rows.items():
        print(f"{m:<8} {1e3 * r['seconds_per_pair']:>9.3f} {r['seconds_matrix']:>9.3f} {r['speedup_vs_brute']:>8.1f}x "
              f"{r['max_abs_diff_vs_brute']:>10.2e}")
    write_result(args.out, {"date": time.strftime("%Y-%m-%d"), "machine": platform.platform(),
                            "device": str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
                            "cpus": torch.get_num_threads(), "clouds": args.clouds, "points": args.points,
                            "chunk": args.chunk, "repeats": args.repeats, "methods": rows})


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


if __name__ == "__main__":
    main()
