"""How precise are a trained model's rows? Overlap disagreement (:mod:`msdf.disagreement`) of generated M-SDFs,
calibrated on the training store's own encodings under known row-level errors.

1. Calibration (the baseline rows): ``--per-class`` encodings per class of the store, as they are and after one draw
   of a row-level error of size sigma (unit frame): ``shift`` moves every centre by ``N(0, sigma^2 I_3)``, ``offset``
   adds ``N(0, sigma^2)`` to all of a row's values (``bench/bench_row_tolerance.py``'s perturbations). Reported: the
   median disagreement and the median wholeness (raw marching cubes).
2. The run: one sample per reference caption, ``--per-class`` per class (the default sampling of ``msdf generate``:
   temperature, restarts, midpoint 32 NFE, guidance 2), the same two medians.
3. Diagnosis only (never part of generation): the same samples after ``--steps`` Adam steps on every entry that
   minimise their disagreement (:func:`msdf.disagreement.disagreement_loss`). If making the grids agree left the
   shapes as torn as before, the debris is not a disagreement between overlapping grids but grids that agree on a
   wrong surface (or cover too little of it).

    python bench/bench_row_precision.py --store data/store --run runs/demo --reference data/reference

Writes ``bench/results/row_precision.json`` (or ``--name``).
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

from bench.bench_row_tolerance import judged, perturb  # noqa: E402
from bench.results_io import write_result  # noqa: E402
from msdf.data.store import MSDFStore  # noqa: E402
from msdf.disagreement import disagreement_loss, overlap_disagreement  # noqa: E402
from msdf.choices import RESTART_DEFAULTS, TEMPERATURE_DEFAULT  # noqa: E402
from msdf.evaluation import load_reference  # noqa: E402
from msdf.flow.dataset import load_matrices  # noqa: E402
from msdf.flow.sampler import FlowSampler, Restart  # noqa: E402
from msdf.generate import make_solver  # noqa: E402

NFE, GUIDANCE = 32, 2.0  # the defaults of msdf generate / msdf evaluate


def per_class(labels: list, count: int) -> list[int]:
    """The first ``count`` indices of every label, in label order."""
    picked: dict = {}
    for i, label in enumerate(labels):
        if len(picked.setdefault(label, [])) < count:
            picked[label].append(i)
    return [i for label in sorted(picked) for i in picked[label]]


def medians(matrices: list[np.ndarray], resolution: int) -> dict:
    """Median disagreement (a matrix with nothing to measure counts as the worst) and median wholeness."""
    dis = [overlap_disagreement(m) for m in matrices]
    whole = [judged(m, resolution)["wholeness"] for m in matrices]
    return {"median_disagreement": float(np.median([np.inf if d is None else d for d in dis])),
            "median_wholeness": float(np.median(whole)), "count": len(matrices)}


def agreed(matrix: np.ndarray, steps: int, lr: float) -> np.ndarray:
    """``matrix`` after ``steps`` Adam steps on all its entries that minimise its disagreement."""
    m = torch.tensor(matrix, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([m], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        disagreement_loss(m).backward()
        opt.step()
    return m.detach().float().numpy()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", required=True, help="the run's training store (calibration shapes)")
    ap.add_argument("--run", required=True, help="trained run folder")
    ap.add_argument("--reference", required=True, help="held-out reference set (its captions are the prompts)")
    ap.add_argument("--per-class", type=int, default=2)
    ap.add_argument("--sigmas", type=float, nargs="+", default=[0.005, 0.01, 0.02])
    ap.add_argument("--steps", type=int, default=60, help="Adam steps of the diagnosis")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--name", default="row_precision", help="results file name")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    rows: dict[str, dict] = {}

    store = MSDFStore(args.store)
    data = list(load_matrices(store, per_class(store.labels, args.per_class), quiet=True).numpy())
    cases = [("encodings", 0.0)] + [(kind, s) for kind in ("shift", "offset") for s in args.sigmas]
    for kind, s in tqdm(cases, desc="calibration", unit="case"):
        mats = data if kind == "encodings" else [perturb(m, kind, s, rng) for m in data]
        rows[kind if kind == "encodings" else f"encodings + {kind}@{s:g}"] = medians(mats, args.resolution)

    sampler = FlowSampler.load(args.run, "cpu")
    _, labels, captions = load_reference(args.reference, seed=args.seed, quiet=True)
    prompts = [captions[i] for i in per_class(labels, args.per_class)]
    x, _ = sampler.sample(sampler.condition(prompts=prompts), [args.seed + j for j in range(len(prompts))],
                          make_solver("midpoint", NFE), guidance=GUIDANCE, quiet=True, restart=Restart(),
                          temperature=TEMPERATURE_DEFAULT)
    generated = list(x.numpy())
    rows["generated"] = medians(generated, args.resolution)
    fixed = [agreed(m, args.steps, args.lr) for m in tqdm(generated, desc="agree", unit="sample")]
    rows["generated, grids made to agree (diagnosis)"] = medians(fixed, args.resolution)

    print(f"{'rows':<46} {'disagreement':>12} {'wholeness':>10}")
    for name, r in rows.items():
        print(f"{name:<46} {r['median_disagreement']:>12.4f} {r['median_wholeness']:>10.3f}")
    write_result(args.name, {
        "settings": {"store": args.store, "run": args.run, "reference": args.reference, "per_class": args.per_class,
                     "sigmas": args.sigmas, "steps": args.steps, "lr": args.lr, "resolution": args.resolution,
                     "seed": args.seed,
                     "sampling": (f"temperature {TEMPERATURE_DEFAULT:g}, {RESTART_DEFAULTS[0]} restarts to "
                                  f"t={RESTART_DEFAULTS[1]:g}, midpoint {NFE}, guidance {GUIDANCE:g}"),
                     "n": store.n, "k": store.k},
        "rows": rows, "seconds": time.perf_counter() - t0})
    return 0


if __name__ == "__main__":
    sys.exit(main())
