"""The flow model's end-to-end acceptance check: do generated shapes look like the class their caption asks for?

Protocol (issue "flow-matching transformer", acceptance): a ``cpu-small`` text-conditioned model trained for 15
minutes on the synthetic dataset (40 shapes per class, store ``--grids 256 --k 5``); 4 samples for one caption per
class; a nearest-neighbour classifier labels each sample with the class of its nearest **dataset mesh** by Chamfer
distance (2048-point clouds, each bbox-normalised, :mod:`msdf.evaluation`). Target: >= 60% of samples labelled with
the prompted class. Baseline in the same run: chance (1 / number of classes) and the same classifier applied to
fresh synthetic shapes of the prompted class (the classifier's own accuracy, an upper bound).

``msdf demo`` does the training and generation (prompts in ``msdf/demo/prompts.tsv``); this script classifies its
output. Prompts after the first of each class (second captions, unseen phrasings) are reported separately.

    python bench/bench_flow_e2e.py --demo demo_output

Writes ``bench/results/flow_e2e.json``.
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
from msdf.evaluation import (chamfer_matrix, conditional_accuracy, load_reference, mesh_point_cloud,  # noqa: E402
                             normalize_bbox)
from msdf.meshio import load_mesh  # noqa: E402
from msdf.synth import generate as synth_shape  # noqa: E402


def training_throughput(run: Path) -> dict:
    """Steps, seconds and samples/s of the run's latest checkpoint (``progress`` in its ``state.json``)."""
    latest = json.loads((run / "checkpoints" / "latest.json").read_text())
    state = json.loads((run / "checkpoints" / latest["dir"] / "state.json").read_text())
    p = state["progress"]
    return {"steps": p["step"], "seconds": p["elapsed_s"], "samples_seen": p["samples_seen"],
            "samples_per_s": p["samples_seen"] / max(p["elapsed_s"], 1e-9)}


def classify(clouds: torch.Tensor, requested: list[str], ref: torch.Tensor, ref_labels: list[str]) -> dict:
    """Conditional accuracy of ``clouds`` (G, P, 3) against the labelled references (R, P, 3)."""
    d = chamfer_matrix(normalize_bbox(clouds), normalize_bbox(ref))
    return conditional_accuracy(d, requested, ref_labels)


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
    ref, ref_labels, _ = load_reference(demo / "data" / "synth", quiet=False)
    ref_labels = [str(lab) for lab in ref_labels]
    groups: dict[str, list[tuple[str, torch.Tensor]]] = {"first caption per class": [], "other prompts": []}
    failed = 0
    for i, rec in enumerate(info["samples"]):
        prompt = rec.get("prompt")
        if prompt not in class_of:
            continue
        if rec.get("error") or not rec.get("mesh"):
            failed += 1
            continue
        cloud = torch.from_numpy(mesh_point_cloud(load_mesh(demo / "generated" / rec["mesh"]), seed=i))
        group = "first caption per class" if first_prompt[class_of[prompt]] == prompt else "other prompts"
        groups[group].append((class_of[prompt], cloud))
    classes = sorted(set(ref_labels))
    control = [(c, torch.from_numpy(mesh_point_cloud(synth_shape(c, 10_000 + j).mesh, seed=j)))
               for c in classes for j in range(args.control)]
    rows = {}
    for name, items in [*groups.items(), ("control: fresh dataset shapes", control)]:
        if items:
            acc = classify(torch.stack([c for _, c in items]), [lab for lab, _ in items], ref, ref_labels)
            rows[name] = {"samples": len(items), **acc}
    print(f"Nearest-dataset-mesh classifier ({len(ref)} meshes, {len(classes)} classes; chance "
          f"{100 / len(classes):.1f}%); {failed} samples without a mesh")
    print(f"{'set':<32} {'samples':>7} {'accuracy':>9}  per class")
    for name, r in rows.items():
        per = " ".join(f"{c}:{100 * a:.0f}" for c, a in r["per_class"].items())
        print(f"{name:<32} {r['samples']:>7} {100 * r['accuracy']:>8.1f}%  {per}")
    train = training_throughput(demo / "run")
    print(f"training: {train['steps']} steps in {train['seconds']:.0f} s, {train['samples_per_s']:.1f} samples/s")
    write_result("flow_e2e", {"date": time.strftime("%Y-%m-%d"), "machine": platform.platform(),
                              "demo": str(demo), "chance": 1 / len(classes), "failed_samples": failed,
                              "rows": rows, "training": train, "seconds": time.perf_counter() - t0})
    return 0


if __name__ == "__main__":
    sys.exit(main())
