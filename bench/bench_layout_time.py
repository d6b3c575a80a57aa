"""Where along the flow the generated layout drifts from the encodings': start from data noised to time s.

:mod:`bench.bench_row_spacing` finds that generated chairs, stools and tables carry fewer grids on their legs and
pedestals than their encodings. This script asks at which times of the solve that happens. Each held-out reference
of the chosen classes takes the training store's next encoding of its class, ``x1`` (the baseline, s = 1), noises
it to time s on the run's probability path with its own seed,

    x_s = (1 - s) eps + s x1,            eps ~ N(0, I)  (n, 4 + k^3), normalised columns,

and integrates the run's guided ODE from s to 1 (midpoint, NFE = 32 (1 - s) rounded to an even number, at least 8;
the run's guidance interval; ``msdf generate``'s grid repulsion unless ``--repel``; no restarts). s = 0 is a plain
sample from fresh noise. What is left of the encoding's layout at 1 says how much the velocity field moves it after
s: a layout kept from s = 0.5 on but lost from 0 is lost early, where the flow decides where the rows go.

Per class and s: the median ``lower`` (share of the grids in the lowest 40% of the centres' height) and ``spacing``
of :func:`bench.bench_row_spacing.layout`. No decoding.

    python bench/bench_layout_time.py --run RUN --store STORE --reference REF --from 0,0.3,0.5,0.7 --guidance 2,1

Writes ``bench/results/layout_time.json`` (or ``--name``) and prints the table.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import asdict
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_generation_quality import data_like_reference  # noqa: E402
from bench.bench_row_spacing import NFE, per_class  # noqa: E402
from bench.results_io import write_result  # noqa: E402
from msdf.choices import REPULSION_DEFAULT, REPULSION_RADIUS_DEFAULT  # noqa: E402
from msdf.evaluation import load_reference, requested_conditions  # noqa: E402
from msdf.flow.condition import Condition  # noqa: E402
from msdf.flow.sampler import FlowSampler, source_noise  # noqa: E402

SUPPORTED = ("chair", "stool", "table")  # the classes that stand on legs or a pedestal


def nfe_from(s: float) -> int:
    """The solve's budget from time s: ``NFE (1 - s)`` rounded down to an even number, at least 8."""
    return max(8, int(round(NFE * (1.0 - s))) // 2 * 2)


def from_data(sampler: FlowSampler, cond: Condition, x1: torch.Tensor, seeds: list[int], s: float,
              guidance: float) -> torch.Tensor:
    """Raw matrices (B, n, dim) integrated from ``x1`` (B, n, dim, normalised) noised to time ``s`` with ``seeds``."""
    with torch.no_grad():
        out, _ = sampler.solve_from(cond, source_noise(seeds, (sampler.n, sampler.dim), sampler.device), x1, s,
                                    nfe_from(s), guidance)
    return sampler.matrices(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, help="trained run folder")
    ap.add_argument("--store", required=True, help="the run's training M-SDF store (the encodings)")
    ap.add_argument("--reference", required=True, help="held-out reference meshes (their captions condition)")
    ap.add_argument("--from", dest="starts", default="0,0.3,0.5,0.7", help="comma-separated start times s in [0, 1)")
    ap.add_argument("--guidance", default="2", help="comma-separated guidance weights, one row block each")
    ap.add_argument("--classes", default=",".join(SUPPORTED), help="comma-separated classes of the references")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--name", default="layout_time", help="results file name")
    ap.add_argument("--repel", type=float, default=REPULSION_DEFAULT, help="grid repulsion strength (0 = off)")
    ap.add_argument("--repel-radius", type=float, default=REPULSION_RADIUS_DEFAULT, help="its radius")
    args = ap.parse_args()
    starts = [float(v) for v in args.starts.split(",")]
    weights = [float(v) for v in args.guidance.split(",")]
    if not all(0.0 <= s < 1.0 for s in starts):
        ap.error(f"--from: start times must lie in [0, 1) (got {args.starts})")
    torch.set_num_threads(os.cpu_count() or 1)
    wanted = set(args.classes.split(","))
    _, ref_labels, ref_captions = load_reference(args.reference, seed=args.seed, quiet=True)
    keep = [i for i, c in enumerate(ref_labels) if c in wanted]
    if not keep:
        ap.error(f"{args.reference}: no references of the classes {sorted(wanted)}")
    labels = [ref_labels[i] for i in keep]
    sampler = FlowSampler.load(args.run, "cpu").with_repulsion(args.repel, args.repel_radius)
    prompts, classes, _ = requested_conditions(sampler, len(labels), labels, [ref_captions[i] for i in keep])
    cond = sampler.condition(prompts=prompts, classes=classes)
    encodings, _ = data_like_reference(args.store, labels)
    x1 = sampler.normalize(encodings)
    seeds = [args.seed + j for j in range(len(labels))]
    rows = {"encodings": per_class(encodings, labels)}
    for w in weights:
        for s in starts:
            rows[f"w={w:g} from s={s:g}"] = per_class(from_data(sampler, cond, x1, seeds, s, w), labels)
            print(f"w={w:g} s={s:g} (NFE {nfe_from(s)}): " + ", ".join(
                f"{c} lower {r['lower']:.3f} spacing {r['spacing']:.2f}"
                for c, r in rows[f"w={w:g} from s={s:g}"].items()), flush=True)
    write_result(args.name, {
        "settings": {"run": args.run, "store": args.store, "reference": args.reference, "seed": args.seed,
                     "references": len(labels), "classes": sorted(wanted), "starts": starts, "guidance": weights,
                     "solver": "midpoint", "nfe_full": NFE, "guidance_interval": list(sampler.guidance_interval),
                     "repulsion": asdict(sampler.repulsion),
                     "step": sampler.step, "model": {k: sampler.config["model"][k] for k in ("width", "depth")}},
        "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
