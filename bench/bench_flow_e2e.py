"""The flow model's end-to-end acceptance check: do generated shapes look like the class their caption asks for?

Protocol (issue "flow-matching transformer", acceptance): the demo's text-conditioned model (its preset, ``cpu-medium``
by default, is in the demo's ``demo_config.json``) trained for 15 minutes on the synthetic dataset (40 shapes per class,
store ``--grids 256 --k 5``); 4 samples per prompt; a nearest-neighbour classifier labels each sample with the class of
its nearest **held-out reference mesh** (the demo's ``data/reference`` set, drawn with a seed the training set never
used; never the training shapes) by Chamfer distance (2048-point clouds, each bbox-normalised, :mod:`msdf.evaluation`).
A sample without a mesh counts as a miss and as wholeness 0. Baseline in the same run: chance (1 / number of classes)
and the same classifier applied to fresh synthetic shapes of the prompted class (the classifier's own accuracy, an upper
bound). Each row also gives the :mod:`msdf.wholeness` of its raw decoded meshes (median, share >= 0.9, median
components).

``msdf demo`` does the training and generation (prompts in ``msdf/demo/prompts.tsv``); this script classifies its
output. Prompts after the first of each class (second captions, unseen phrasings) are reported separately.

    python bench/bench_flow_e2e.py --demo demo_output

Writes ``bench/results/flow_e2e.json``, and the demo's own ``metrics.json`` (stage times, peak memory, its
evaluation) as ``bench/results/demo_metrics.json`` (both with provenance).
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.results_io import write_result  # noqa: E402
from msdf.demo.pipeline import read_prompts  # noqa: E402
from msdf.evaluation import (N_POINTS, chamfer_matrix, conditional_accuracy, load_reference,  # noqa: E402
                             mesh_point_cloud, normalize_bbox)
from msdf.meshio import load_mesh  # noqa: E402
from msdf.synth import generate as synth_shape  # noqa: E402
from msdf.wholeness import FAILED, summarize, wholeness  # noqa: E402


def training_throughput(run: Path) -> dict:
    """Steps, seconds and samples/s of the run's latest checkpoint (``progress`` in its ``state.json``)."""
    latest = json.loads((run / "checkpoints" / "latest.json").read_text())
    state = json.loads((run / "checkpoints" / latest["dir"] / "state.json").read_text())
    p = state["progress"]
    return {"steps": p["step"], "seconds": p["elapsed_s"], "samples_seen": p["samples_seen"],
            "samples_per_s": p["samples_seen"] / max(p["elapsed_s"], 1e-9)}


def classify(clouds: torch.Tensor, requested: list[str], ref: torch.Tensor, ref_labels: list[str],
             failed: list[bool]) -> dict:
    """Conditional accuracy of ``clouds`` (G, P, 3) against the labelled references (R, P, 3); ``failed`` ones miss."""
    d = chamfer_matrix(normalize_bbox(clouds), normalize_bbox(ref))
    return conditional_accuracy(d, requested, ref_labels, failed)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--demo", default=str(REPO / "demo_output"), help="an msdf demo output folder")
    ap.add_argument("--control", type=int, default=4, help="fresh synthetic shapes per class for the control row")
    args = ap.parse_args()
    demo = Path(args.demo)
    info = json.loads((demo / "generated" / "samples.json").read_text())
    class_of = {prompt: label for label, prompt in read_prompts()}
    first_prompt: dict[str, str] = {}
    for label, prompt in read_prompts():
        first_prompt.setdefault(label, prompt)
    t0 = time.perf_counter()
    ref, ref_labels, _ = load_reference(demo / "data" / "reference", quiet=False)
    ref_labels = [str(lab) for lab in ref_labels]
    Item = tuple[str, torch.Tensor, dict]  # (requested class, cloud, wholeness)
    groups: dict[str, list[Item]] = {"first caption per class": [], "other prompts": []}
    failed = 0
    for i, rec in enumerate(info["samples"]):
        prompt = rec.get("prompt")
        if prompt not in class_of:
            continue
        group = "first caption per class" if first_prompt[class_of[prompt]] == prompt else "other prompts"
        if rec.get("error") or not rec.get("mesh"):
            failed += 1
            groups[group].append((class_of[prompt], torch.zeros(N_POINTS, 3), dict(FAILED)))
            continue
        mesh = load_mesh(demo / "generated" / rec["mesh"])
        groups[group].append((class_of[prompt], torch.from_numpy(mesh_point_cloud(mesh, seed=i)), wholeness(mesh)))
    classes = sorted(set(ref_labels))
    control = []
    for c in classes:
        for j in range(args.control):
            mesh = synth_shape(c, 10_000 + j).mesh
            control.append((c, torch.from_numpy(mesh_point_cloud(mesh, seed=j)), wholeness(mesh)))
    rows = {}
    for name, items in [*groups.items(), ("control: fresh dataset shapes", control)]:
        if items:
            failed_mask = [w == FAILED for _, _, w in items]
            acc = classify(torch.stack([c for _, c, _ in items]), [lab for lab, _, _ in items], ref, ref_labels,
                           failed_mask)
            rows[name] = {"samples": len(items), **acc, "wholeness": summarize([w for _, _, w in items])}
    print(f"Nearest-held-out-reference classifier ({len(ref)} meshes, {len(classes)} classes; chance "
          f"{100 / len(classes):.1f}%); {failed} samples without a mesh (counted as misses)")
    print(f"{'set':<32} {'samples':>7} {'accuracy':>9} {'wholeness':>9} {'>=0.9':>6} {'comp.':>6}  per class")
    for name, r in rows.items():
        per = " ".join(f"{c}:{100 * a:.0f}" for c, a in r["per_class"].items())
        w = r["wholeness"]
        print(f"{name:<32} {r['samples']:>7} {100 * r['accuracy']:>8.1f}% {w['median_wholeness']:>9.3f} "
              f"{100 * w['share_whole']:>5.0f}% {w['median_components']:>6g}  {per}")
    train = training_throughput(demo / "run")
    print(f"training: {train['steps']} steps in {train['seconds']:.0f} s, {train['samples_per_s']:.1f} samples/s")
    # the demo's own metrics.json (stage times, peak memory, its evaluation), stamped with this run's provenance
    write_result("demo_metrics", {**json.loads((demo / "metrics.json").read_text()), "demo": str(demo)})
    write_result("flow_e2e", {"date": time.strftime("%Y-%m-%d"), "machine": platform.platform(),
                              "demo": str(demo), "chance": 1 / len(classes), "failed_samples": failed,
                              "rows": rows, "training": train, "seconds": time.perf_counter() - t0})
    return 0


if __name__ == "__main__":
    sys.exit(main())
