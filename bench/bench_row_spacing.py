"""How generated grids are laid out against the training encodings' layout (a diagnosis, per class).

The encoder places a shape's n grids over its surface at a near-even spacing; a generator that learned where the
surface is but not that spacing puts grids in clumps and leaves gaps. For each matrix (raw rows ``(p, s, V)``)::

    spacing  = median_i  min_{j != i} |p_i - p_j| / s_i      (nearest other centre, in units of the own half-width)
    inside   = mean_{i, a} [V_ia < 0]                          (share of the SDF values inside the shape)
    width    = median_i s_i                                    (unit frame)
    lower    = mean_i [y_i < y_min + 0.4 (y_max - y_min)]      (share of the grids in the lowest 40% of the centres'
                                                                height; the synthetic shapes are Y-up: legs, bases)

Generated: one sample per held-out reference caption of ``--reference`` (seed ``--seed + j``), at ``msdf
generate``'s defaults (midpoint 32 NFE, guidance 2 on the default interval, temperature 1, the default restarts),
and ``msdf generate``'s grid repulsion (:mod:`msdf.flow.repulsion`) unless ``--repel L --repel-radius R`` say
otherwise (``--repel 0``: none).
Baseline: the training store's own encodings with the references' class make-up (the next stored shape of each
class). Medians per class and overall; no decoding.

    python bench/bench_row_spacing.py --run RUN --store STORE --reference REF --name row_spacing

Writes ``bench/results/row_spacing.json`` (or ``--name``) and prints the table.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_generation_quality import data_like_reference  # noqa: E402
from bench.results_io import write_result  # noqa: E402
from msdf.choices import (GUIDANCE_DEFAULT, REPULSION_DEFAULT, REPULSION_RADIUS_DEFAULT,  # noqa: E402
                          RESTART_DEFAULTS, TEMPERATURE_DEFAULT)
from msdf.evaluation import load_reference, requested_conditions  # noqa: E402
from msdf.flow.sampler import FlowSampler, Restart  # noqa: E402
from msdf.flow.spacing_loss import nearest_spacing  # noqa: E402
from msdf.generate import make_solver  # noqa: E402

NFE = 32
LOWER = 0.4  # the lowest share of the height counted by ``lower``


def layout(matrix: torch.Tensor) -> dict[str, float]:
    """``spacing``, ``inside``, ``width`` and ``lower`` (module doc) of one raw M-SDF matrix (n, 4 + k^3)."""
    m = matrix.double()
    p, s, v = m[:, :3], m[:, 3].clamp_min(1e-9), m[:, 4:]
    y = p[:, 1]
    return {"spacing": float((nearest_spacing(p) / s).median()), "inside": float((v < 0).double().mean()),
            "width": float(s.median()), "lower": float((y < y.min() + LOWER * (y.max() - y.min())).double().mean())}


def per_class(matrices: torch.Tensor, labels: list[str]) -> dict[str, dict[str, float]]:
    """Medians of :func:`layout` per class, and over all matrices under ``"all"``."""
    stats = [layout(m) for m in matrices]
    groups = {c: [i for i, lab in enumerate(labels) if lab == c] for c in sorted(set(labels))}
    groups["all"] = list(range(len(labels)))
    return {c: {key: statistics.median(stats[i][key] for i in idx) for key in stats[0]} for c, idx in groups.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, help="trained run folder")
    ap.add_argument("--store", required=True, help="the run's training M-SDF store (the baseline)")
    ap.add_argument("--reference", required=True, help="held-out reference meshes (their captions condition)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--name", default="row_spacing", help="results file name")
    ap.add_argument("--repel", type=float, default=REPULSION_DEFAULT, help="grid repulsion strength (0 = off)")
    ap.add_argument("--repel-radius", type=float, default=REPULSION_RADIUS_DEFAULT, help="its radius")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    _, ref_labels, ref_captions = load_reference(args.reference, seed=args.seed, quiet=True)
    sampler = FlowSampler.load(args.run, "cpu").with_repulsion(args.repel, args.repel_radius)
    prompts, classes, labels = requested_conditions(sampler, len(ref_labels), ref_labels, ref_captions)
    restart = Restart(*RESTART_DEFAULTS)
    t0 = time.perf_counter()
    generated, _ = sampler.sample(sampler.condition(prompts=prompts, classes=classes),
                                  [args.seed + j for j in range(len(labels))], make_solver("midpoint", NFE),
                                  guidance=GUIDANCE_DEFAULT, quiet=False, restart=restart,
                                  temperature=TEMPERATURE_DEFAULT)
    sampling_s = time.perf_counter() - t0
    encodings, data_labels = data_like_reference(args.store, list(ref_labels))
    rows = {"encodings": per_class(encodings, data_labels), "generated": per_class(generated, list(labels))}
    heads = ("spacing enc", "gen", "inside enc", "gen", "width enc", "gen", "lower enc", "gen")
    print(f"{'class':8s} " + " ".join(f"{h:>{max(len(h), 6)}s}" for h in heads))
    for c in rows["generated"]:
        e, g = rows["encodings"][c], rows["generated"][c]
        print(f"{c:8s} {e['spacing']:11.2f} {g['spacing']:6.2f} {e['inside']:10.3f} {g['inside']:6.3f} "
              f"{e['width']:9.3f} {g['width']:6.3f} {e['lower']:9.3f} {g['lower']:6.3f}")
    write_result(args.name, {
        "settings": {"run": args.run, "store": args.store, "reference": args.reference, "seed": args.seed,
                     "references": len(labels), "solver": "midpoint", "nfe": NFE, "guidance": GUIDANCE_DEFAULT,
                     "guidance_interval": list(sampler.guidance_interval), "temperature": TEMPERATURE_DEFAULT,
                     "restart": asdict(restart), "repulsion": asdict(sampler.repulsion),
                     "step": sampler.step, "model": {k: sampler.config["model"][k] for k in ("width", "depth")}},
        "rows": rows, "sampling_s": sampling_s})
    return 0


if __name__ == "__main__":
    sys.exit(main())
