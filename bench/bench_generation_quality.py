"""Generation quality ablation: which training design makes generated shapes whole, judged on held-out references.

Every variant is the baseline (``BASE``: the ``cpu-small`` preset as it was before the field loss, the cosine LR and
the late time sampler: rows as a set, column statistics, constant LR, uniform t) plus a few overrides, trained on the
same M-SDF store with the same conditioning, seed and budget (``--steps``, or ``--minutes``); trainings run
``--parallel`` at a time with ``--threads`` torch threads each (a fixed step budget makes the comparison independent of
how busy the machine is; the samples/s column says what each step costs). Each run is then judged by
:func:`msdf.evaluation.evaluate_run` against a held-out reference set (a synthetic set drawn with a seed the training
set never used): one sample per reference caption (16 per class with ``msdf synth-dataset --per-class 16``), midpoint
32 NFE, guidance 2 at every time (``--guidance-interval`` limits it), marching cubes at 128^3 on the raw field.
Reported per variant: median wholeness, share of samples with wholeness >= 0.9, median connected components
(:mod:`msdf.wholeness`), held-out class accuracy (nearest reference by Chamfer, failed decodes count as misses), COV /
MMD / 1-NNA (Chamfer), training steps and samples/s. The baseline row is ``set``; ``set-field1-cosine-late`` is the
``cpu-small`` preset as it is now. ``--judge-data`` adds the training store's own encodings judged the same way (the
ceiling of every column); ``--tag`` names a store with another representation. Runs are judged by plain sampling
(temperature 1, no restarts) unless ``--temperature`` (repeatable) or ``--restarts`` ask for other settings;
``bench/bench_sampling.py`` compares sampling settings on any one run.

    python bench/bench_generation_quality.py --store data/store --reference data/reference --work bench_runs \\
        --steps 6000 --variant set --variant slots

Writes ``bench/results/generation_quality.json`` (or ``--name``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.results_io import write_result  # noqa: E402
from msdf.data.store import MSDFStore  # noqa: E402
from msdf.evaluation import evaluate_run, judge_matrices, load_reference  # noqa: E402
from msdf.flow.sampler import FlowSampler, Restart  # noqa: E402
from msdf.flow.config import PRESETS  # noqa: E402
from msdf.generate import make_solver  # noqa: E402

# The baseline: the cpu-small preset as it was before the field loss, the cosine LR and the late time sampler (rows
# as a set, column statistics, constant LR, uniform t).
BASE: dict = {**PRESETS["cpu-small"], "field_weight": 0.0, "schedule": "constant", "time_sampler": "uniform",
              "logit_normal_loc": 0.0}
# The overrides that make BASE today's cpu-small (variant "set-field1-cosine-late").
LATE: dict = {"field_weight": 1.0, "schedule": "cosine", "time_sampler": "logit_normal", "logit_normal_loc": 1.0}
# name -> overrides of BASE (nested "model" keys merge into its model section).
VARIANTS: dict[str, dict] = {
    "set": {"model": {"slots": False}},
    "slots": {"model": {"slots": True}},
    "slots-slotnorm": {"model": {"slots": True}, "normalization": "slot"},
    "slotnorm-logitnormal": {"model": {"slots": True}, "normalization": "slot", "time_sampler": "logit_normal"},
    "slotnorm-geom1": {"model": {"slots": True}, "normalization": "slot", "geometry_weight": 1.0},
    "slotnorm-field1": {"model": {"slots": True}, "normalization": "slot", "field_weight": 1.0},
    "set-field1": {"field_weight": 1.0},
    "slotnorm-field3": {"model": {"slots": True}, "normalization": "slot", "field_weight": 3.0},
    "set-field3": {"field_weight": 3.0},
    "set-field1-cosine": {"field_weight": 1.0, "schedule": "cosine"},
    "set-field1-cosine-floor01": {"field_weight": 1.0, "schedule": "cosine", "min_lr_ratio": 0.01},
    "set-field1-cosine-logitnormal": {"field_weight": 1.0, "schedule": "cosine", "time_sampler": "logit_normal"},
    "slots-field1-cosine": {"model": {"slots": True}, "field_weight": 1.0, "schedule": "cosine"},
    "set-field1-cosine-ema999": {"field_weight": 1.0, "schedule": "cosine", "ema_decay": 0.999},
    "set-field1-cosine-center1": {"field_weight": 1.0, "schedule": "cosine", "center_weight": 1.0},
    "set-field1-cosine-center10": {"field_weight": 1.0, "schedule": "cosine", "center_weight": 10.0},
    "set-field1-cosine-late": LATE,
    "late-deep6": {**LATE, "model": {"depth": 6}},
    "late-wide192": {**LATE, "model": {"width": 192, "heads": 6, "row_hidden": 192}},
    "late-deep6-wide192": {**LATE, "model": {"depth": 6, "width": 192, "heads": 6, "row_hidden": 192}},
    "late-deep6-wide192-bf16": {**LATE, "model": {"depth": 6, "width": 192, "heads": 6, "row_hidden": 192},
                                "bf16": True},
    "late-deep6-wide192-fast": {**LATE, "model": {"depth": 6, "width": 192, "heads": 6, "row_hidden": 192},
                                "bf16": True, "compile": True},
    "late-deep6-wide192-bf16-space1": {**LATE, "model": {"depth": 6, "width": 192, "heads": 6, "row_hidden": 192},
                                       "bf16": True, "space_weight": 1.0, "space_margin": 1.0},
    "late-deep6-wide192-bf16-lr1e-3": {**LATE, "model": {"depth": 6, "width": 192, "heads": 6, "row_hidden": 192},
                                       "bf16": True, "lr": 1e-3},
    "late-deep6-wide192-bf16-rows128": {**LATE, "model": {"depth": 6, "width": 192, "heads": 6, "row_hidden": 192},
                                        "bf16": True, "train_rows": 128},
    "late-deep6-wide192-bf16-rows64": {**LATE, "model": {"depth": 6, "width": 192, "heads": 6, "row_hidden": 192},
                                       "bf16": True, "train_rows": 64},
    "late-deep6-wide192-bf16-rows128-xpred": {**LATE, "bf16": True, "train_rows": 128,
                                              "model": {"depth": 6, "width": 192, "heads": 6, "row_hidden": 192,
                                                        "prediction": "data"}},
    "late-deep6-wide192-bf16-rows128-local": {**LATE, "bf16": True, "train_rows": 128,
                                              "model": {"depth": 6, "width": 192, "heads": 6, "row_hidden": 192,
                                                        "locality": True}},
    "late-deep6-wide256-bf16-rows128": {**LATE, "model": {"depth": 6, "width": 256, "heads": 8, "row_hidden": 256},
                                        "bf16": True, "train_rows": 128},
    "late-space1": {**LATE, "space_weight": 1.0, "space_margin": 0.0},
    "late-space3": {**LATE, "space_weight": 3.0, "space_margin": 0.0},
    "late-space1-margin": {**LATE, "space_weight": 1.0, "space_margin": 1.0},
    "late-geom30": {**LATE, "geometry_weight": 30.0},
    "late-ema99": {**LATE, "ema_decay": 0.99},
    "late-ema999": {**LATE, "ema_decay": 0.999},
    "late-b16": {**LATE, "batch_size": 16},
    "late-selfcond": {**LATE, "self_condition": 0.5},
    "late-geomfirst06": {**LATE, "geometry_end": 0.6},
    "late-geomfirst08": {**LATE, "geometry_end": 0.8},
    "late-rowalign": {**LATE, "row_alignment": True},
    "late-valuesfirst08": {**LATE, "values_end": 0.8},
    "late-symlog01": {**LATE, "value_scale": 0.01},
    "late-symlog02": {**LATE, "value_scale": 0.02},
    "late-surface4": {**LATE, "field_surface_weight": 4.0},
    "late-spacing1": {**LATE, "spacing_weight": 1.0},
    "late-spacing3": {**LATE, "spacing_weight": 3.0},
    "late-loc2": {**LATE, "logit_normal_loc": 2.0},
    "late-fourier6": {**LATE, "model": {"centre_freqs": 6}},
    "set-field1-cosine-geomfirst08": {"field_weight": 1.0, "schedule": "cosine", "geometry_end": 0.8},
    "slotnorm-wide": {"model": {"slots": True, "width": 192, "heads": 6, "row_hidden": 192}, "normalization": "slot"},
    "slots-logitnormal": {"model": {"slots": True}, "time_sampler": "logit_normal"},
    "slots-geom1": {"model": {"slots": True}, "geometry_weight": 1.0},
    "slots-ot": {"model": {"slots": True}, "ot_coupling": True},
    "slots-wide": {"model": {"slots": True, "width": 192, "heads": 6, "row_hidden": 192}},
    "slots-deep": {"model": {"slots": True, "depth": 5}},
    "slots-b16": {"model": {"slots": True}, "batch_size": 16},
    "slots-lr1e-3": {"model": {"slots": True}, "lr": 1e-3},
    "slots-ema999": {"model": {"slots": True}, "ema_decay": 0.999},
}


DEFAULT_GUIDANCE = 2.0  # as msdf generate / evaluate
PLAIN_TEMPERATURE = 1.0  # the ablation judges training designs by plain sampling (no restarts, tau 1)


def variant_config(name: str) -> dict:
    """:data:`BASE` with ``VARIANTS[name]`` laid over it (a YAML-ready dict)."""
    cfg = json.loads(json.dumps(BASE))
    for key, value in VARIANTS[name].items():
        if key == "model":
            cfg["model"].update(value)
        else:
            cfg[key] = value
    return cfg


def launch(name: str, args: argparse.Namespace) -> subprocess.Popen | None:
    """Start ``msdf train`` for variant ``name`` (None when its run already finished: the bench resumes)."""
    run = Path(args.work) / name
    if (run / "checkpoints" / "latest.json").exists():
        return None
    run.mkdir(parents=True, exist_ok=True)
    cfg_path = run.parent / f"{name}.yaml"
    cfg_path.write_text(yaml.safe_dump(variant_config(name)))
    budget = ["--steps", str(args.steps)] if args.steps else ["--minutes", str(args.minutes)]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    cmd = [sys.executable, "-m", "msdf", "train", "--data", args.store, "--config", str(cfg_path), "--cond",
           args.cond, "--seed", str(args.seed), "--out", str(run), "--quiet", *budget]
    print("$ " + " ".join(cmd), flush=True)
    return subprocess.Popen(cmd, env=env, stdout=open(run.parent / f"{name}.log", "w"), stderr=subprocess.STDOUT)


def train_all(names: list[str], args: argparse.Namespace) -> None:
    """Train every variant, ``args.parallel`` at a time."""
    pending, running = list(names), []
    while pending or running:
        while pending and len(running) < args.parallel:
            name = pending.pop(0)
            proc = launch(name, args)
            if proc is not None:
                running.append((name, proc))
        for name, proc in list(running):
            if proc.poll() is not None:
                running.remove((name, proc))
                if proc.returncode != 0:
                    raise RuntimeError(f"training {name} failed (status {proc.returncode}); see {name}.log")
        time.sleep(2)


def row_name(variant: str, guidance: float, tag: str | None = None) -> str:
    """A variant judged at the default guidance keeps its name; other weights are ``"variant w=W"``; a ``tag`` (the
    store's representation, when it is not the demo's) goes in front: ``"tag: variant"``."""
    name = variant if guidance == DEFAULT_GUIDANCE else f"{variant} w={guidance:g}"
    return f"{tag}: {name}" if tag else name


def judged(report: dict) -> dict:
    """The columns of a row from a :func:`msdf.evaluation.judge_matrices` / ``evaluate_run`` report."""
    return {"wholeness": report["wholeness"], "accuracy": report["conditional"]["accuracy"],
            "per_class_accuracy": report["conditional"]["per_class"],
            "per_class_wholeness": {c: m["wholeness"]["median_wholeness"] for c, m in report["per_class"].items()},
            "per_class_1nna": {c: m["1nna_cd"] for c, m in report["per_class"].items()},
            "per_class_nn": {c: m["nn_cd"] for c, m in report["per_class"].items()},
            "per_class_open": {c: m["wholeness"].get("share_open") for c, m in report["per_class"].items()},
            "per_class_completeness": {c: m["wholeness"]["median_completeness"]
                                       for c, m in report["per_class"].items()},
            "cov": report["overall"]["cov"], "mmd_cd": report["overall"]["mmd_cd"],
            "1nna_cd": report["overall"]["1nna_cd"], "nn_cd": report["overall"]["nn_cd"],
            "num_failed": report["num_failed"], "samples": report["overall"]["num_generated"]}


def print_row(name: str, r: dict) -> None:
    w, t = r["wholeness"], r.get("training")
    steps = f"steps {t['steps']:>6} ({t['samples_per_s']:6.1f} samples/s)" if t else " " * 32
    print(f"{name:<34} {steps}  wholeness {w['median_wholeness']:.3f}  >=0.9 {100 * w['share_whole']:3.0f}%  "
          f"components {w['median_components']:>5g}  stray rows {w['median_stray_rows']:>5g}  "
          f"completeness {w['median_completeness']:.3f}  "
          f"acc {100 * r['accuracy']:5.1f}%  1-NNA {100 * r['1nna_cd']:5.1f}%  COV {100 * r['cov']:5.1f}%  "
          f"failed {r['num_failed']}", flush=True)


def data_like_reference(store_dir: str, ref_labels: list[str]) -> tuple[torch.Tensor, list[str]]:
    """Training encodings (B, n, 4 + k^3) with the class make-up of the references: for each reference of class c,
    the next stored shape of class c (store order). Returns the matrices and their labels."""
    store = MSDFStore(store_dir)
    by_class: dict[str, list[int]] = {}
    for i in range(len(store)):
        by_class.setdefault(store[i]["label"], []).append(i)
    taken: dict[str, int] = {}
    picked = []
    for c in ref_labels:
        j = taken.get(c, 0)
        if j >= len(by_class.get(c, [])):
            raise ValueError(f"{store_dir}: fewer stored shapes of class {c!r} than references")
        picked.append(by_class[c][j])
        taken[c] = j + 1
    return torch.from_numpy(np.stack([store[i]["msdf"] for i in picked])).float(), list(ref_labels)


def judge_data(store_dir: str, ref: torch.Tensor, ref_labels: list[str], seed: int, resolution: int,
               method: str = "mc") -> dict:
    """The columns of a row for the store's own encodings (:func:`data_like_reference`) judged like samples
    (decoded with ``method``): the ceiling of every column."""
    matrices, labels = data_like_reference(store_dir, ref_labels)
    return judged(judge_matrices(matrices, labels, ref, ref_labels, seed=seed, resolution=resolution, quiet=True,
                                 method=method))


def progress(run: Path) -> dict:
    latest = json.loads((run / "checkpoints" / "latest.json").read_text())
    state = json.loads((run / "checkpoints" / latest["dir"] / "state.json").read_text())
    p = state["progress"]
    return {"steps": p["step"], "seconds": p["elapsed_s"], "seed": state["config"]["seed"],
            "samples_per_s": p["samples_seen"] / max(p["elapsed_s"], 1e-9)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", required=True, help="training M-SDF store (msdf preprocess)")
    ap.add_argument("--reference", required=True, help="held-out reference meshes (msdf synth-dataset, other seed)")
    ap.add_argument("--work", required=True, help="folder for the runs (an existing run is reused)")
    ap.add_argument("--variant", action="append", choices=sorted(VARIANTS), help="variants (default: set, slots)")
    ap.add_argument("--steps", type=int, default=None, help="optimiser steps per variant")
    ap.add_argument("--minutes", type=float, default=15.0, help="time budget per variant when --steps is not given")
    ap.add_argument("--cond", default="text", choices=["text", "class"])
    ap.add_argument("--parallel", type=int, default=1, help="trainings at once")
    ap.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 1)), help="torch threads per training")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--guidance", action="append", type=float, metavar="W",
                    help=f"classifier-free guidance weight (default {DEFAULT_GUIDANCE:g}); repeat to judge every run "
                         "at several")
    ap.add_argument("--restarts", type=int, default=0,
                    help="restart passes after each solve (msdf.flow.sampler.Restart)")
    ap.add_argument("--restart-t", type=float, default=Restart().t, help="time the restart passes re-noise to")
    ap.add_argument("--temperature", action="append", type=float, metavar="TAU",
                    help="sampling temperature (x_0 = tau eps; default 1, plain sampling); repeat to judge every "
                         "run at several")
    ap.add_argument("--guidance-interval", type=float, nargs=2, default=(0.0, 1.0), metavar=("LO", "HI"),
                    help="guide only at times LO <= t < HI (default 0 1: at every time, the protocol of the table's "
                         "earlier rows; msdf generate's default is 0 0.8)")
    ap.add_argument("--autoguide", action="append", metavar="STEP:A", default=None,
                    help="judge with autoguidance weight A against the run's checkpoint of STEP, or 'off' "
                         "(repeatable; default off; the run must have kept the checkpoint)")
    ap.add_argument("--judge-data", action="store_true",
                    help="also judge the training store's own encodings the same way (the ceiling of every column)")
    ap.add_argument("--tag", default=None, help="prefix of the row names (e.g. the store's representation)")
    ap.add_argument("--name", default="generation_quality", help="results file name")
    args = ap.parse_args()
    names = args.variant or ["set", "slots"]
    store = MSDFStore(args.store)
    t0 = time.perf_counter()
    train_all(names, args)
    torch.set_num_threads(os.cpu_count() or 1)
    ref, labels, captions = load_reference(args.reference, seed=args.seed, quiet=True)
    rows = {}
    restart = Restart(args.restarts, args.restart_t)
    guides = [None if g == "off" else tuple(float(v) for v in g.split(":")) for g in args.autoguide or ["off"]]
    settings = ((v, w, tau, g) for v in names for w in args.guidance or [DEFAULT_GUIDANCE]
                for tau in args.temperature or [PLAIN_TEMPERATURE] for g in guides)
    for variant, guidance, tau, guide in settings:
        run = Path(args.work) / variant
        sampler = FlowSampler.load(run, "cpu").with_guidance_interval(*args.guidance_interval)
        if guide is not None:
            sampler.with_autoguide(int(guide[0]), guide[1])
        report = evaluate_run(sampler, make_solver("midpoint", 32), ref, labels, captions,
                              guidance=guidance, seed=args.seed, resolution=args.resolution, quiet=True,
                              restart=restart, temperature=tau)
        name = (row_name(variant, guidance, args.tag) + (f" tau={tau:g}" if tau != PLAIN_TEMPERATURE else "")
                + (f" + {restart.count} restarts to t={restart.t:g}" if restart.count else "")
                + (f" autoguide {guide[1]:g}@{int(guide[0])}" if guide else "")
                + (" gi={:g}:{:g}".format(*sampler.guidance_interval) if sampler.guidance_interval != (0, 1) else ""))
        rows[name] = {"overrides": VARIANTS[variant], "guidance": guidance, "temperature": tau,
                      "autoguide": {"step": int(guide[0]), "weight": guide[1]} if guide else None,
                      "restart": asdict(restart), "guidance_interval": list(sampler.guidance_interval),
                      "training": progress(run), **judged(report)}
        print_row(name, rows[name])
    data = None
    if args.judge_data:
        data = judge_data(args.store, ref, labels, args.seed, args.resolution)
        print_row(row_name("data (training encodings)", DEFAULT_GUIDANCE, args.tag), data)
    write_result(args.name, {
        "settings": {"store": args.store, "store_n": store.n, "store_k": store.k, "reference": args.reference,
                     "references": len(labels),
                     "steps": args.steps, "minutes": None if args.steps else args.minutes, "cond": args.cond,
                     "parallel": args.parallel, "threads": args.threads, "seed": args.seed, "tag": args.tag,
                     "solver": "midpoint", "nfe": 32, "guidance": args.guidance or [DEFAULT_GUIDANCE],
                     "temperature": args.temperature or [PLAIN_TEMPERATURE],
                     "guidance_interval": list(args.guidance_interval),
                     "resolution": args.resolution,
                     "base_config": BASE},
        "rows": rows, "data": data, "seconds": time.perf_counter() - t0})
    return 0


if __name__ == "__main__":
    sys.exit(main())
