"""Benchmark the synthetic dataset generator: speed, mesh size, validity and class separability.

Per class: median seconds per shape (generation + boolean union + conversion, one process), median/max faces,
the fraction of meshes that are watertight with positive volume, and the time to write the whole dataset with 1 and 2
worker processes. Separability (what issue 5's acceptance test relies on): leave-one-out 1-nearest-neighbour class
accuracy with the symmetric Chamfer distance between bounding-box-normalised surface samples, against a named
baseline on the same shapes: 1-NN on the sorted bounding-box aspect ratios (a shape descriptor that ignores geometry).

    python bench/bench_synth.py                     # 20 shapes per class
    python bench/bench_synth.py --per-class 40

Writes ``bench/results/synth.json``. Timings on a shared machine are inflated by contention; compare medians.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import trimesh
from scipy.spatial import cKDTree

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.results_io import write_result  # noqa: E402
from msdf.synth import CLASSES, generate, write_dataset  # noqa: E402


def loo_accuracy(dist: np.ndarray, labels: list[str]) -> tuple[float, dict[str, float]]:
    """Leave-one-out 1-NN accuracy (overall, per class) from a symmetric distance matrix."""
    d = dist.copy()
    np.fill_diagonal(d, np.inf)
    pred = [labels[j] for j in d.argmin(1)]
    ok = np.array([p == t for p, t in zip(pred, labels)])
    per = {c: float(ok[[t == c for t in labels]].mean()) for c in dict.fromkeys(labels)}
    return float(ok.mean()), per


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-class", type=int, default=20)
    ap.add_argument("--points", type=int, default=1024, help="surface samples per shape for Chamfer")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rows, clouds, aspects, labels = {}, [], [], []
    for c in CLASSES:
        times, faces, valid = [], [], []
        for i in range(args.per_class):
            t = time.perf_counter()
            s = generate(c, i, seed=args.seed)
            times.append(time.perf_counter() - t)
            m = s.mesh
            faces.append(len(m.faces))
            valid.append(bool(m.is_watertight and m.volume > 0))
            pts = trimesh.sample.sample_surface(m, args.points, seed=i)[0]
            lo, hi = pts.min(0), pts.max(0)
            clouds.append((pts - (lo + hi) / 2) / (hi - lo).max())
            ext = m.extents
            aspects.append(np.sort(ext / ext.max()))
            labels.append(c)
        rows[c] = dict(s_per_shape=statistics.median(times), faces_median=int(statistics.median(faces)),
                       faces_max=int(max(faces)), watertight_pct=100.0 * float(np.mean(valid)))
    trees = [cKDTree(p) for p in clouds]
    n = len(clouds)
    cham = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            cham[i, j] = cham[j, i] = trees[j].query(clouds[i])[0].mean() + trees[i].query(clouds[j])[0].mean()
    asp = np.asarray(aspects)
    aspd = np.linalg.norm(asp[:, None] - asp[None], axis=-1)
    acc_ch, per_ch = loo_accuracy(cham, labels)
    acc_bb, per_bb = loo_accuracy(aspd, labels)

    writes = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            write_dataset(tmp, per_class=args.per_class, seed=args.seed, workers=workers, quiet=True)
            writes[f"workers_{workers}_s"] = time.perf_counter() - t

    print(f"{'class':8s} {'s/shape':>8s} {'faces med':>9s} {'faces max':>9s} {'watertight%':>11s} "
          f"{'1-NN Chamfer':>12s} {'1-NN bbox':>9s}")
    for c, r in rows.items():
        r["nn_chamfer_acc"], r["nn_bbox_acc"] = per_ch[c], per_bb[c]
        print(f"{c:8s} {r['s_per_shape']:8.3f} {r['faces_median']:9d} {r['faces_max']:9d} {r['watertight_pct']:11.1f} "
              f"{per_ch[c]:12.2f} {per_bb[c]:9.2f}")
    print(f"overall 1-NN accuracy: Chamfer {acc_ch:.3f}  vs  bbox-aspect baseline {acc_bb:.3f} "
          f"(chance {1 / len(CLASSES):.3f}); {len(labels)} shapes")
    print(f"write_dataset ({len(labels)} shapes): 1 worker {writes['workers_1_s']:.1f} s, "
          f"2 workers {writes['workers_2_s']:.1f} s")
    result = dict(machine=platform.platform(), python=platform.python_version(),
                  date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), per_class=args.per_class,
                  classes=rows, nn_chamfer_acc=acc_ch, nn_bbox_acc=acc_bb, write_dataset=writes)
    write_result("synth", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
