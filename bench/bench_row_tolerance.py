"""How precise must a generator be? Wholeness of exact M-SDF encodings after row-level perturbations.

A generated M-SDF is a matrix of n rows ``(p, s, V)``; the debris of a weak generator is a set of grids whose surface
disagrees with their neighbours'. This benchmark measures how large such a disagreement may be before a shape tears:
each synthetic shape (2 per class, drawn with seeds 10000 + j, the demo's classes) is encoded exactly (``--grids``,
``--k``, ``--refine-steps``: 25 as the demo's store; 0 keeps the oracle's SDF at the nodes), then perturbed with one
draw of

- ``node``: i.i.d. noise on every SDF value, ``V_ia += e_ia``, ``e ~ N(0, sigma^2)`` (noise *within* a row);
- ``offset``: one offset per row, ``V_i += e_i`` (a row's whole surface moved along its normal);
- ``shift``: one centre displacement per row, ``p_i += e_i``, ``e_i ~ N(0, sigma^2 I_3)`` (a grid moved off its place);

at each ``sigma`` (unit frame, where the shape spans [-0.9, 0.9]) and decoded raw by marching cubes at 128^3. The
baseline row is the unperturbed encoding. Reported: median wholeness over all shapes and per class.

    python bench/bench_row_tolerance.py

Writes ``bench/results/row_tolerance.json``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.results_io import write_result  # noqa: E402
from msdf.decoder import decode_batch  # noqa: E402
from msdf.encoder import encode  # noqa: E402
from msdf.rows import CENTERS, VALUES  # noqa: E402
from msdf.synth import CLASSES, generate as synth_shape  # noqa: E402
from msdf.wholeness import wholeness  # noqa: E402


def perturb(matrix: np.ndarray, kind: str, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """One draw of perturbation ``kind`` (module doc) of an (n, 4 + k^3) matrix."""
    out = matrix.copy()
    n = len(out)
    if kind == "node":
        out[:, VALUES] += rng.normal(0.0, sigma, out[:, VALUES].shape)
    elif kind == "offset":
        out[:, VALUES] += rng.normal(0.0, sigma, (n, 1))
    elif kind == "shift":
        out[:, CENTERS] += rng.normal(0.0, sigma, (n, 3))
    else:
        raise ValueError(f"unknown perturbation {kind!r}")
    return out


def judged(matrix: np.ndarray, resolution: int) -> dict:
    """Wholeness of the raw decoded mesh (a failed decode is :data:`msdf.wholeness.FAILED`)."""
    return wholeness(next(decode_batch(matrix[None].astype(np.float32), resolution=resolution)).mesh)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-class", type=int, default=2)
    ap.add_argument("--grids", type=int, default=256)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--sigmas", type=float, nargs="+", default=[0.005, 0.01, 0.02])
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--refine-steps", type=int, default=25, help="encoder refinement steps (the demo's store: 25)")
    ap.add_argument("--name", default="row_tolerance", help="results file name")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)
    cases = [("baseline", 0.0)] + [(kind, s) for kind in ("node", "offset", "shift") for s in args.sigmas]
    scores: dict[str, dict[str, list[float]]] = {f"{kind}@{s:g}": {} for kind, s in cases}
    t0 = time.perf_counter()
    shapes = [(c, j) for c in CLASSES for j in range(args.per_class)]
    for c, j in tqdm(shapes, desc="shapes", unit="shape"):
        mesh = synth_shape(c, 10_000 + j).mesh
        matrix = encode(mesh, n_grids=args.grids, k=args.k, refine_steps=args.refine_steps,
                        seed=args.seed).to_matrix().numpy()
        for kind, s in cases:
            m = matrix if kind == "baseline" else perturb(matrix, kind, s, rng)
            scores[f"{kind}@{s:g}"].setdefault(c, []).append(judged(m, args.resolution)["wholeness"])
    rows = {}
    print(f"{'perturbation':<16} {'median wholeness':>16}  per class")
    for name, per_class in scores.items():
        everything = [w for ws in per_class.values() for w in ws]
        rows[name] = {"median_wholeness": float(np.median(everything)),
                      "per_class": {c: float(np.median(ws)) for c, ws in per_class.items()}}
        print(f"{name:<16} {rows[name]['median_wholeness']:>16.3f}  "
              + " ".join(f"{c}:{v:.2f}" for c, v in rows[name]["per_class"].items()), flush=True)
    write_result(args.name, {
        "settings": {"per_class": args.per_class, "grids": args.grids, "k": args.k, "sigmas": args.sigmas,
                     "resolution": args.resolution, "seed": args.seed, "refine_steps": args.refine_steps,
                     "shape_seeds": "10000+j"},
        "rows": rows, "seconds": time.perf_counter() - t0})
    return 0


if __name__ == "__main__":
    sys.exit(main())
