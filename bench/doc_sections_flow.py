"""Sections of docs/benchmarks.md for the generative side: training, the demo's model, solvers, generation,
evaluation, D-Flow, the GPU runs, and the demo's own metrics (also quoted in the README)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from bench.doc_format import Section, fixed, median, num, pct, table
from msdf.encoder import HALF_WIDTH_FACTOR
from msdf.choices import (ALIGNMENT_DEFAULT, GUIDANCE_DEFAULT, GUIDANCE_INTERVAL_DEFAULT, REPULSION_DEFAULT,
                          REPULSION_RADIUS_DEFAULT, RESTART_DEFAULTS, SDE_NOISE_DEFAULT, SOLVER_DEFAULT,
                          TEMPERATURE_DEFAULT)

Data = dict[str, Any]
REPO = Path(__file__).resolve().parents[1]


def train(d: Data) -> str:
    rows = [[r["preset"], f"n {r['n']}, k {r['k']}", num(r["batch"]), num(r["steps"]), r["coupling"],
             fixed(r["samples_per_s"], 2), ", ".join(fixed(x, 2) for x in r["all"])] for r in d["throughput"]]
    ab = d.get("ablation")
    out = [f"Throughput on `{d['device']}` with {d['threads']} thread(s); each repeat is a fresh run of the given "
           f"number of steps and the figure is the median of the repeats (\"{d.get('note', '')}\").", "",
           table(["preset", "size", "batch", "steps", "coupling", "samples/s", "repeats"], rows)]
    if d.get("assignment"):
        out += ["", "The assignment alone, seconds per batch on standard-normal data (`ot`: B × B over whole "
                "samples; `rows`: B assignments of n × n over whole rows, `align_rows`); scipy solves both on the "
                "CPU, so a GPU step pays the same; independent coupling (the baseline) pays nothing:", "",
                table(["preset", "size", "batch", "ot s", "rows s", "rows ms per sample"],
                      [[r["preset"], f"n {r['n']}, k {r['k']}", num(r["batch"]), fixed(r["ot_s"], 4),
                        fixed(r["rows_s"], 3), fixed(1e3 * r["rows_s"] / r["batch"], 1)]
                       for r in d["assignment"]])]
    if ab:
        nfes = list(ab["rows"][0]["rms_error_vs_nfe"])
        out += ["", f"Multisample flow matching ablation ({ab['data']}, {ab['steps']} steps, batch {ab['batch']}, "
                "same seed); Euler RMS error against a 128-step reference:", "",
                table(["coupling", "val loss", "straightness", "train s"] + [f"NFE {n}" for n in nfes],
                      [[r["coupling"], fixed(r["val_loss"], 3), fixed(r["straightness"], 3),
                        fixed(r["train_seconds"], 0)] + [fixed(r["rms_error_vs_nfe"][n], 3) for n in nfes]
                       for r in ab["rows"]])]
    return "\n".join(out)


def precision(d: Data) -> str:
    """CPU training throughput by precision (``bench/bench_precision.py``): float32 against the file's other modes
    (float32 + compile, bf16, bf16 + compile)."""
    rows = [[r["preset"], r["mode"], num(r["batch"]), num(r["steps"]), fixed(r["samples_per_s"], 1),
             f"{r['speedup']:.2f}×", fixed(r["warmup_s"], 1), fixed(r["first_warmup_s"], 1)] for r in d["rows"]]
    native = "has" if d["native_bf16"] else "does **not** have"
    emulated = "" if d["native_bf16"] else ": any bf16 rows ran in float32"
    return (f"`msdf.flow.trainer.train` at the demo's representation (n = {d['n']}, k = {d['k']}) on {d['threads']} "
            "thread(s), each preset at its own batch; float32 is the baseline. Each mode trains S and then 2 S steps "
            "from scratch: samples/s = S · batch / (T(2 S) − T(S)) is the steady-state rate, warm-up = T(S) − "
            "S · batch / rate; medians of the repeats. *First run* is the same warm-up for the mode's first run, "
            "before any of them: in the compile rows, what compiling with torch's caches empty adds (warm-ups within a "
            "second of zero, negative ones included, are timing noise). This CPU "
            f"{native} native bf16 instructions (AVX512-BF16 or AMX, `msdf.flow.precision`){emulated}.\n\n"
            + table(["preset", "mode", "batch", "S", "samples/s", "speed-up", "warm-up s", "first run s"], rows)
            + _attention(d))


def optimizer(d: Data) -> str:
    """Per-step bookkeeping of training (``bench/bench_optimizer.py``): fused AdamW and one foreach EMA lerp against
    torch's default per-tensor loops, alone and inside training."""
    updates = [[r["preset"], fixed(r["parameters"] / 1e6, 2), num(r["tensors"]), fixed(r["adamw_loop_ms"], 2),
                fixed(r["adamw_fused_ms"], 2), fixed(r["ema_loop_ms"], 2), fixed(r["ema_foreach_ms"], 2)]
               for r in d["updates"]]
    steps = [[r["preset"], r["mode"], num(r["batch"]), num(r["steps"]), fixed(r["baseline_step_ms"], 1),
              fixed(r["trainer_step_ms"], 1), fixed(r["baseline_update_ms"], 2), fixed(r["trainer_update_ms"], 2),
              pct(1 - r["trainer_update_ms"] / r["baseline_update_ms"]),
              pct((r["baseline_update_ms"] - r["trainer_update_ms"]) / r["baseline_step_ms"])]
             for r in d["training"]]
    return ("What `msdf.flow.trainer` does after each backward pass: torch's fused AdamW (one kernel for the whole "
            "update) and one foreach lerp of all EMA tensors, against the baseline, torch's default AdamW on the CPU "
            "(a Python loop of small kernels per parameter tensor) and one lerp call per tensor (the trainer before "
            f"them). On {d['threads']} thread(s); the update alone, milliseconds per call on each preset's model "
            "(float32 parameters, random gradients; median of the timed blocks):\n\n"
            + table(["preset", "parameters (M)", "tensors", "AdamW loop ms", "AdamW fused ms", "EMA loop ms",
                     "EMA foreach ms"], updates)
            + f"\n\nInside training at the demo's representation (n = {d['n']}, k = {d['k']}), each preset in its "
            "own precision, S steps per run, baseline (the same trainer with both loops swapped back in) and trainer "
            "alternating; medians of the runs. *Step ms*: the first optimiser step's start to the last one's end over "
            "S − 1 steps (it carries the machine's noise); *update ms*: the AdamW step and the EMA update, timed call "
            "by call; *saved*: the update's saving as a share of the update and of the baseline's whole step.\n\n"
            + table(["preset", "mode", "batch", "S", "baseline step ms", "trainer step ms", "baseline update ms",
                     "trainer update ms", "update saved", "of a step"], steps))


def _attention(d: Data) -> str:
    """The attention-kernel table of ``precision.json`` (empty when the run skipped it)."""
    if not d.get("attention"):
        return ""
    rows = [[num(r["batch"]), num(r["heads"]), num(r["n"]), num(r["head_dim"]), r["dtype"],
             fixed(r["explicit_ms"], 2), fixed(r["fused_ms"], 2), f"{r['fused_ms'] / r['explicit_ms']:.2f}×"]
            for r in d["attention"]]
    return ("\n\nAttention alone, milliseconds per forward + backward: the explicit softmax(q kᵀ / √d) v against "
            "`F.scaled_dot_product_attention` (fused, the baseline). `msdf.flow.model.attention` takes the explicit "
            f"product on the CPU in bf16 up to {num(d['explicit_attention_max_rows'])} rows, the fused kernel "
            "everywhere else.\n\n"
            + table(["batch", "heads", "n", "head dim", "dtype", "explicit ms", "fused ms", "explicit speed-up"], rows))


def flow_e2e(d: Data) -> str:
    t = d["training"]
    held_out = any("wholeness" in r for r in d["rows"].values())  # files before the held-out protocol lack it
    rows = []
    for name, r in d["rows"].items():
        w = r.get("wholeness")
        rows.append([name, num(r["samples"]), pct(r["accuracy"])]
                    + ([fixed(w["median_wholeness"], 3), pct(w["share_whole"], 0), num(w["median_components"])]
                       if held_out else []))
    first = d["rows"].get("first caption per class", {}).get("per_class", {})
    weak = ", ".join(f"{c} {pct(a, 0)}" for c, a in first.items() if a < 1.0)
    judged = ("the nearest **held-out** reference mesh (the demo's `data/reference`, another seed; a sample without "
              "a mesh counts as a miss)" if held_out else "the nearest dataset mesh (the training shapes)")
    return (f"The demo's trained model (`{d['demo']}`): {num(t['steps'])} steps in {fixed(t['seconds'] / 60, 1)} min, "
            f"{fixed(t['samples_per_s'], 1)} samples/s. A sample counts as correct when {judged} "
            f"(Chamfer, bounding-box normalised) has the prompted class; chance {pct(d['chance'])}.\n\n"
            + table(["prompts", "samples", "accuracy"]
                    + (["median wholeness", "wholeness ≥ 0.9", "median components"] if held_out else []), rows)
            + (f"\n\nClasses below 100% for the first captions: {weak}." if weak else ""))


def _solver_rows(d: Data, nfes: tuple[int, ...] | None = None) -> list[list[str]]:
    has_min = any("psnr_min" in r for r in d["rows"])
    rows = []
    for r in sorted(d["rows"], key=lambda r: (r["nfe"], r["solver"])):
        if nfes is None or r["nfe"] in nfes:
            rows.append([r["solver"], num(r["nfe"]), fixed(r["psnr"], 1)]
                        + ([fixed(r.get("psnr_min"), 1)] if has_min else []) + [num(r["rmse"], 3)]
                        + ([num(r["chamfer"], 2)] if "chamfer" in r else []))
    return rows


def _solver_headers(d: Data) -> list[str]:
    return (["solver", "NFE", "mean PSNR dB"] + (["worst PSNR dB"] if any("psnr_min" in r for r in d["rows"]) else [])
            + ["pooled RMSE"] + (["decoded Chamfer"] if any("chamfer" in r for r in d["rows"]) else []))


def solvers_gmm(d: Data) -> str:
    a = d["args"]
    return (f"Analytic CondOT flow to a Gaussian mixture (dimension {d['info']['dim']}), reference dopri5 at tol 1e-8; "
            f"BNS trained {a['iters']} iterations, lr {a['lr']}, batch {a['batch_size']}, {a['train_pairs']} training "
            f"and {a['test_pairs']} test pairs.\n\n" + table(_solver_headers(d), _solver_rows(d)))


def solvers_model(*files: Data) -> str:
    rows = []
    for name, d in zip(MODEL_SOLVER_FILES, files):
        a, bns = d["args"], next(r for r in d["rows"] if r["solver"] == "bns" and r["nfe"] == 8)
        mid = next(r for r in d["rows"] if r["solver"] == "midpoint" and r["nfe"] == 16)
        rows.append([f"`{name}.json`", num(a["train_pairs"]), num(a["iters"]), num(a["lr"]), num(a["batch_size"]),
                     a.get("loss_space", "normalised"), fixed(bns["psnr"], 1), num(bns["rmse"], 3),
                     num(bns.get("chamfer"), 2), fixed(mid["psnr"], 1), num(mid["rmse"], 3),
                     num(mid.get("chamfer"), 2)])
    tols = sorted({d["args"]["tol"] for d in files})
    return ("The demo's text model, CFG weight 2, 32 test pairs; every row's reference is dopri5 at tol "
            f"{', '.join(num(t) for t in tols)} (`msdf distill-solver` trains against dopri5 at tol 1e-5). Worst-case "
            "PSNR was not recorded by these runs (the script records it since).\n\n"
            + table(["file", "training pairs", "iterations", "lr", "batch", "loss space", "BNS-8 PSNR", "BNS-8 RMSE",
                     "BNS-8 Chamfer", "midpoint-16 PSNR", "midpoint-16 RMSE", "midpoint-16 Chamfer"], rows))


MODEL_SOLVER_FILES = ("bench_solvers_model", "bench_solvers_model_msdf_loss", "bench_solvers_model_lr1e-2",
                      "bench_solvers_model_lr2e-2", "bench_solvers_model_cpu_300iters",
                      "bench_solvers_model_cpu_500iters")


def generate(d: Data) -> str:
    a, rows = d["args"], {r["name"]: r for r in d["rows"]}
    total = rows["generate total"]
    parts = ", ".join(f"{k[7:-2]} {fixed(total[k])} s" for k in ("median_ode_s", "median_decode_s", "median_render_s")
                      if total.get(k) == total.get(k))  # NaN (not rendered) fails x == x
    run = f"`{'/'.join(Path(a['run']).parts[-2:])}`" if a["run"] else "a briefly trained cpu-small-sized model"
    return (f"{run}, {a['n']} samples, {a['solver']} {a['nfe']} NFE, {a['resolution']}³, median of "
            f"{a['repeats']} on `{a['device']}`: one `generate` call {fixed(total['time_s'])} s ({parts}). ODE for all "
            f"samples batched {fixed(rows['ode batched']['time_s'])} s vs one at a time "
            f"{fixed(rows['ode sequential (baseline)']['time_s'])} s.")


def evaluate(d: Data) -> str:
    m = d["methods"]
    note = ("" if "provenance" in d else " In this file the KD-tree queries ran one pair at a time on one core "
            "(before `workers=-1` and batched queries).")
    return (f"{d['clouds']}×{d['clouds']} clouds of {num(d['points'])} points on `{d['device']}`, median of "
            f"{d['repeats']}.{note}\n\n"
            + table(["method", "ms per pair", "speed-up over brute force", "max difference to brute force"],
                    [[k, fixed(1e3 * v["seconds_per_pair"], 3), fixed(v["speedup_vs_brute"], 2),
                      num(v["max_abs_diff_vs_brute"], 2)] for k, v in m.items()]))


def dflow(d: Data) -> str:
    a, s = d["args"], d["summary"]
    judged = "wholeness_plain" in s  # the held-out half-shape protocol (wholeness and class of each completion)
    conditioning = ("conditions a text model on \"a <label>\" and a class model on the label" if judged else
                    "samples a text model unconditionally and conditions class models on the reference label")
    source = (f"model `{'/'.join(Path(a['run']).parts[-2:])}`, references "
              f"`{'/'.join(Path(a['reference']).parts[-3:])}`"
              + (f" (classes {', '.join(a['classes'])})" if a.get("classes") else "")
              + f"; the script {conditioning}" if a["run"]
              else "a small class model on sphere M-SDFs, trained on the spot")
    extra = ["median wholeness", "median components", "class accuracy"] if judged else []
    rows = [[m, num(s[f"chamfer_{m}"]), num(s[f"obs_loss_{m}"]), fixed(s[f"time_{m}_s"])]
            + ([fixed(s[f"wholeness_{m}"], 3), num(s[f"components_{m}"]), pct(s[f"class_accuracy_{m}"], 0)]
               if judged else []) for m in ("plain", "dflow")]
    return (f"{len(d['rows'])} half-view shapes, {a['optimizer']} {a['steps']} steps through {a['nfe']}-NFE midpoint, "
            f"{source}, on `{a['device']}`. Medians:\n\n"
            + table(["method", "Chamfer to the full shape", "observation loss", "s per shape"] + extra, rows)
            + f"\n\nD-Flow is closer to the full shape on {d['wins']}/{len(d['rows'])} shapes.")


def gpu_train(d: Data) -> str:
    return train(d) + ("\n\nThe first repeat includes CUDA start-up; `cpu-small` is launch-bound at this size.")


def gpu_solvers(*files: Data) -> str:
    out = []
    for name, d in zip(("solvers_bns2000", "solvers_bns1000", "solvers_bns_nfes"), files):
        a = d["args"]
        bns = next(r for r in d["rows"] if r["solver"] == "bns")
        out += [f"**`h200/{name}.json`**: {a['train_pairs']} training pairs, {a['iters']} iterations, batch "
                f"{a['batch_size']}, dopri5 reference at tol {num(a['tol'])}; BNS training "
                f"{fixed(bns['train_s'], 0)} s.", "", table(_solver_headers(d), _solver_rows(d)), ""]
    return "\n".join(out).rstrip()


def gpu_visco(d: Data) -> str:
    rows = d["pointsets"]
    by = {r["method"]: r for r in rows}
    gpu, cpu = by.get("visco256"), by.get("visco256-cpu")
    if "points" in rows[0]:
        count = f"{num(rows[0]['points'])} points"
    else:  # older files did not record it: count the file's points (one per line), which the run read in full
        lines = (REPO / d["args"]["shared"] / "points" / rows[0]["pointset"]).read_text().split("\n")
        count = f"all {num(sum(1 for line in lines if line.strip()))} points of the file (`--points` does not apply)"
    calls = ("" if "seconds_per_call" in rows[0] else
             " Only the median of the calls was recorded, so the first call (which includes CUDA start-up) is not shown.")
    gather = {r["method"]: r["seconds"] for r in d.get("gather", [])}
    return (f"`{rows[0]['pointset']}` from `{d['args']['shared']}/points`, {count}, 256³, median of "
            f"{d['args']['repeats']} calls.{calls}\n\n"
            + table(["device", "s", "mean distance points→surface", "90% distance", "watertight"],
                    [[k, fixed(r["seconds"]), num(r["mean_dist"]), num(r["p90_dist"]), str(r["watertight"])]
                     for k, r in (("GPU", gpu), ("16 CPU cores", cpu)) if r])
            + (f"\n\nMean distances differ by {num(abs(gpu['mean_dist'] - cpu['mean_dist']), 1)} of the longest side."
               if gpu and cpu else "")
            + ("\n\nGrid gather, forward + backward on a 256³ band: "
               + ", ".join(f"`{k}` {fixed(1e3 * v)} ms" for k, v in gather.items()) + "." if gather else ""))


def demo(d: Data) -> str:
    """The demo's own ``metrics.json`` (saved as ``bench/results/demo_metrics.json`` by bench_flow_e2e.py)."""
    stages = d.get("stage_seconds") or {}
    ev = (d.get("evaluation") or {}).get("overall") or {}
    cond = (d.get("evaluation") or {}).get("conditional") or {}
    lines = [table(["stage", "seconds"], [[k, fixed(v, 0)] for k, v in stages.items()])]
    if stages:
        lines.append(f"\nStages together: {fixed(sum(v for v in stages.values() if v) / 60, 1)} min.")
    if d.get("peak_rss_mb"):
        lines.append(f"Peak memory of the largest process: {fixed(d['peak_rss_mb'] / 1024, 1)} GB.")
    if ev:
        lines.append("Generation metrics against the held-out reference set: "
                     + ", ".join(f"{k} {num(v)}" for k, v in ev.items() if isinstance(v, (int, float))) + ".")
    if cond.get("accuracy") is not None:
        per_class = cond.get("per_class") or {}
        lines.append(f"Conditional accuracy: {pct(cond['accuracy'])}"
                     + (" (" + ", ".join(f"{c} {pct(a)}" for c, a in per_class.items()) + ")" if per_class else "")
                     + ".")
    gen = d.get("generation") or {}
    if gen.get("restart") is not None:
        r = gen["restart"]
        lo, hi = gen.get("guidance_interval") or (0.0, 1.0)
        at = f" at t in [{lo:g}, {hi:g})" if (lo, hi) != (0.0, 1.0) else ""
        rep = gen.get("repulsion") or {"strength": 0.0}
        repel = (f", grid repulsion {rep['strength']:g} at radius {rep['radius']:g}" if rep["strength"]
                 else ", no grid repulsion")
        lines.append(f"Sampling: {gen['solver']}, guidance {num(gen['guidance'])}{at}, temperature "
                     f"{num(gen['temperature'])}, {r['count']} restart passes to t = {r['t']:g} ({num(gen['nfe'])} "
                     f"NFE per sample in all){repel}.")
    for what, w in (("the prompts' samples", d.get("generation_wholeness")),
                    ("the evaluation's samples", (d.get("evaluation") or {}).get("wholeness"))):
        if w:
            lines.append(f"Wholeness of {what} ({w['count']}, raw meshes): median {fixed(w['median_wholeness'], 3)}, "
                         f"{pct(w['share_whole'], 0)} at least 0.9, median {num(w['median_components'])} components.")
    return "\n".join(lines)


def generation_quality(*files: Data) -> str:
    """The training-design ablation of ``bench/bench_generation_quality.py`` (one or more result files, one table)."""
    rows, settings, seen = [], files[0]["settings"], set()
    for d in files:
        for name, r in d["rows"].items():
            w, t = r["wholeness"], r["training"]
            if t.get("seed", settings["seed"]) != settings["seed"]:
                name = f"{name} (trained with seed {t['seed']})"
            elif d["settings"]["seed"] != settings["seed"]:
                name = f"{name} (seed {d['settings']['seed']})"
            key = (name, t["steps"], t["seconds"], w["median_wholeness"])
            if key in seen:  # the same run listed again in a later round (same weights: the same figures)
                continue
            seen.add(key)
            rows.append([name, ", ".join(f"{k}={v}" for k, v in _flat_overrides(r["overrides"]).items()),
                         num(t["steps"]), fixed(t["samples_per_s"], 1), fixed(w["median_wholeness"], 3),
                         pct(w["share_whole"], 0), num(w["median_components"]),
                         num(w["median_stray_rows"]) if "median_stray_rows" in w else "–",
                         _per_mille(w.get("median_disagreement")), pct(r["accuracy"]),
                         pct(r["1nna_cd"]), pct(r["cov"]), num(r["num_failed"])])
    ceilings = []
    for d in files:  # the training store's own encodings, judged the same way: the ceiling of each column
        data, tag = d.get("data"), d["settings"].get("tag")
        if data is not None:
            w = data["wholeness"]
            ceilings.append([f"{tag}: data (training encodings)" if tag else "data (training encodings)", "–", "–",
                             "–", fixed(w["median_wholeness"], 3), pct(w["share_whole"], 0),
                             num(w["median_components"]), num(w["median_stray_rows"]),
                             _per_mille(w.get("median_disagreement")), pct(data["accuracy"]),
                             pct(data["1nna_cd"]), pct(data["cov"]), num(data["num_failed"])])
    rows = ceilings + rows
    budget = f"{settings['steps']} steps" if settings.get("steps") else f"{settings['minutes']} min"
    timed: dict[str, list[str]] = {}  # budget sentence -> the rows trained on it, each named once
    for d in files:
        s = d["settings"]
        if not s.get("steps"):
            why = ("the demo's budget: one training alone on 2 threads" if s["parallel"] == 1 and s["threads"] == 2
                   else "equal wall time with the step budget of today's preset, same parallelism")
            names = timed.setdefault(f"trained for {s['minutes']:g} minutes instead ({why})", [])
            names += [n for n in d["rows"] if n not in names]
    other_budgets = "".join(f" {', '.join(f'`{n}`' for n in names)}: {sentence}, so they compare at equal cost."
                            for sentence, names in timed.items())
    for d in files:  # more optimiser steps than the preset
        steps, threads = d["settings"].get("steps"), d["settings"]["threads"]
        if steps and settings.get("steps") and steps > settings["steps"]:
            other_budgets += (f" {', '.join(f'`{n}`' for n in d['rows'])}: trained for {num(steps)} steps instead "
                              f"(on {threads} thread{'s' if threads > 1 else ''}), so they show what more optimiser "
                              "steps buy.")
    for d in files:  # fewer steps with a larger batch: the same number of samples seen
        steps = d["settings"].get("steps")
        if steps and settings.get("steps") and steps < settings["steps"]:
            base_batch = d["settings"]["base_config"]["batch_size"]
            for name, r in d["rows"].items():
                batch = r["overrides"].get("batch_size", base_batch)
                other_budgets += (f" `{name}`: batch {batch} instead of {base_batch} for {num(steps)} steps, "
                                  f"{num(batch * steps)} samples against the preset's {num(base_batch * settings['steps'])}"
                                  " (about the same compute).")
    return ("Each variant is the baseline (the `cpu-small` preset before the field loss, the cosine LR and the late "
            "time sampler: rows as a set, column statistics, constant LR, uniform t) plus the overrides shown; "
            "today's `cpu-small` is `set-field1-cosine-late`. Trained "
            f"with `--cond {settings['cond']}` "
            f"for {budget} (seed {settings['seed']}, {settings['threads']} thread(s), {settings['parallel']} "
            "trainings at once) on the demo's store (360 synthetic shapes as n = 256 grids of 5³ with 25 refinement "
            "steps; rows tagged `n128 k7`: the same shapes as 128 grids of 7³; rows tagged `refine0`, `refine100`: "
            "the same grids with 0 or 100 refinement steps; rows tagged `data80`: 720 shapes, 80 per class, whose "
            "first 40 of each class are the demo's, encoded the same way), then judged on "
            f"{settings['references']} held-out references "
            f"(a synthetic set drawn with another seed): one sample per reference caption, {settings['solver']} "
            f"{settings['nfe']} NFE, guidance {num(settings['guidance'])} unless the name says otherwise, raw "
            f"marching cubes at {settings['resolution']}³. "
            "Wholeness = area of the largest connected component / total area; stray rows = grids whose centre lies "
            "farther than its half-width from that component (`msdf/wholeness.py`; – where a round did not record "
            "them); row disagreement = `msdf/disagreement.py` (×1e3, unit-frame length; – where a round did not "
            "record it); failed decodes count as failures. The `data` rows judge the training store's own encodings the "
            "same way: the ceiling of every column. `set-field1-cosine` appears twice: the same config trained "
            "twice (rounds 4 and 7), so the gap between its two rows is the run-to-run spread of this table. "
            "Rows named `+ R restarts to t=T` sample the same trained run with restart passes "
            "(`msdf generate --restarts R --restart-t T`: re-noise to T, integrate to 1 again, 8 NFE each); rows "
            "named `tau=T` sample it at temperature T (`msdf generate --temperature T`: source noise T·N(0, I)); "
            "rows marked `(seed S)` judge the same trained run again with sample seeds S + j and reference clouds "
            "drawn with seed S, a second look at the sampling noise of a row; rows marked `(trained with seed S)` "
            "are a second training of the config (training, sample and reference seeds S), a second look at the "
            "training noise. Rows named `autoguide A@S` add autoguidance with weight A against the run's own EMA "
            "weights of step S (`FlowSampler.with_autoguide`); their runs were trained again with every checkpoint "
            "kept, and the unguided rows of that second training repeat the first training's quality columns exactly "
            "(training on one thread is deterministic). The `late-wide192` row with 6,000 steps (one training on 2 "
            "threads) and the `late-deep6` rows with 6,000 steps (one thread) are those variants at equal steps "
            "instead of equal time. `late-space1` and `late-space3` ran the space loss without "
            "its margin (`space_margin: 0`, "
            "the first version: the stored overrides predate the option). The first `late-deep6-wide192-fast` row "
            "ran torch's fused attention kernel in bf16, the second the explicit product that "
            "`msdf.flow.model.attention` now chooses on the CPU in bf16 (`bench/bench_precision.py`). "
            "The `late-surface4` rows (the field loss weighted towards near-surface nodes, `field_surface_weight: "
            "4`), `late-spacing1`, `late-spacing3` (the spacing loss), `late-loc2` (the logit-normal time sampler "
            "at location 2) and `late-fourier6` (Fourier features of each row's centre, `model.centre_freqs: 6`) "
            "were trained on a later machine, an AVX2 CPU (each trains in float32 like every 6,000-step row, but the "
            "same seed on another CPU is another training), on one thread each: the `late-surface4` rows two at "
            "once, the others four at once (the second `late-fourier6` training beside other jobs). "
            "The budget is in steps, so the quality columns do not depend on the machine's load; samples/s does "
            "(trainings shared the 2 cores with each other and with other jobs) and is no speed comparison."
            + other_budgets + "\n\n"
            + table(["variant", "overrides", "steps", "samples/s", "median wholeness", "wholeness ≥ 0.9",
                     "median components", "median stray rows", "row disagreement", "held-out accuracy", "1-NNA",
                     "COV", "failed"], rows))


def _per_mille(x: float | None) -> str:
    return "–" if x is None else fixed(1e3 * x, 1)


def _sampling_row(name: str, r: Data, st: Data) -> list[str]:
    """One table row of a ``bench_sampling`` setting ``r`` (named ``name``) judged under settings ``st``."""
    w, restart = r["wholeness"], r["restart"]
    missed = ", ".join(f"{c} {pct(a)}" for c, a in r["per_class_accuracy"].items() if a < 1.0) or "–"
    default = (r["temperature"] == TEMPERATURE_DEFAULT and r.get("nfe", st["nfe"]) == st["nfe"]
               and r.get("guidance", st["guidance"]) == GUIDANCE_DEFAULT
               and tuple(r.get("guidance_interval", (0.0, 1.0))) == GUIDANCE_INTERVAL_DEFAULT
               and (restart["count"], restart["t"], restart["nfe"]) == RESTART_DEFAULTS
               and r.get("sde") == (SDE_NOISE_DEFAULT if SOLVER_DEFAULT == "sde" else None)
               and r.get("guidance_columns", "all") == "all"
               and ("repulsion" not in r  # files from before grid repulsion: their time's default
                    or (r["repulsion"]["strength"], r["repulsion"]["radius"]) == (REPULSION_DEFAULT,
                                                                                   REPULSION_RADIUS_DEFAULT))
               and r.get("alignment", {"strength": 0.0})["strength"] == ALIGNMENT_DEFAULT)
    return [f"{name} (the default)" if default else name, fixed(r["temperature"], 2),
            num(restart["count"]) + (f" to t={restart['t']:g}" if restart["count"] else ""),
            num(r.get("nfe", st["nfe"]) + restart["count"] * restart["nfe"]),
            fixed(w["median_wholeness"], 3),
            pct(w["share_whole"], 0), num(w["median_components"]), num(w["median_stray_rows"]),
            pct(r["accuracy"]), missed, pct(r["1nna_cd"]), pct(r["cov"]), num(r["num_failed"]),
            fixed(r["generate_s"], 0)]


_SAMPLING_COLUMNS = ["setting", "temperature", "restarts", "NFE per sample", "median wholeness", "wholeness ≥ 0.9",
                     "median components", "median stray rows", "held-out accuracy", "classes below 100%", "1-NNA",
                     "COV", "failed", "sampling s (all samples)"]


def _sampling_protocol(files: tuple[Data, ...], vary: tuple[str, ...] = ()) -> str:
    """How every ``bench_sampling`` row is judged; the files must share reference set (its folder, however the
    path was spelled), seed and resolution, except the keys named in ``vary``."""
    st = files[0]["settings"]

    def key(settings: Data) -> dict:
        return {"reference": Path(settings["reference"]).name, "seed": settings["seed"],
                "resolution": settings["resolution"]}

    differ = sorted({k for d in files for k, v in key(d["settings"]).items() if v != key(st)[k]} - set(vary))
    if differ:
        raise ValueError(f"sampling: the files differ in {', '.join(differ)}")
    first = next(iter(files[0]["rows"].values()))
    per_class = st["references"] // len(first["per_class_accuracy"])
    return ("Judged like `msdf evaluate`: one sample per held-out reference caption "
            f"({st['references']} references drawn with a seed the training set never used, {per_class} per class), "
            f"{st['solver']} {st['nfe']} NFE unless a row's `nfe=N` says otherwise, guidance {num(st['guidance'])} "
            f"unless a row's `w=G` says otherwise, at every time t unless `gi=LO:HI` limits it to LO ≤ t < HI "
            "(`--guidance-interval`; the conditional velocity alone elsewhere), raw marching cubes at "
            + ("the row's resolution" if "resolution" in vary else f"{st['resolution']}³")
            + f", failed decodes count as failures. Temperature T: source noise T·N(0, I) "
            "(`--temperature`); restarts: re-noise to t and integrate to 1 again, 8 NFE each unless `rnfe=N` says "
            "otherwise (`--restarts`); `sde=ETA`: the main solve is Euler–Maruyama on the SDE with the flow's "
            "marginals at noise level ETA, with the same NFE (`--solver sde --sde-noise ETA`); `gc=geometry`: the "
            "guidance weight on the 4 centre/half-width columns of each row only, the values follow the conditional "
            "velocity (`FlowSampler.with_guidance_columns`), `gc=values` the reverse; `repel=L@R`: crowded grids "
            "pushed apart along their surface with strength L and radius R mean half-widths at 0.5 ≤ t < 0.95 "
            "(`--repel L --repel-radius R`, "
            "[repulsion](#repulsion); rows without it sample without repulsion, and *the default* marks the command "
            "line's sampling of the file's time, without repulsion in files from before it); `align=L`: each grid "
            "moved onto its neighbours' surface along the normal with strength L at 0.5 ≤ t < 0.95 (`--align L`, "
            "[alignment](#alignment); rows without it sample without alignment). "
            f"One sample is {pct(1 / per_class)} of a class's accuracy. Sampling s: wall time of drawing all the "
            "samples (solve and restarts, not decoding), on the machine of the file's source line: compare it within "
            "one file.")


def sampling(*files: Data) -> str:
    """Sampling settings on one trained model (``bench/bench_sampling.py``; files of the same run, one table)."""
    st = files[0]["settings"]
    if any(d["settings"]["run"] != st["run"] for d in files):
        raise ValueError("sampling: the files judge different runs")
    rows, seen = [], set()
    for name, r in ((n, r) for d in files for n, r in d["rows"].items()):
        if name in seen:  # the same setting (same seeds) measured again in a later file
            continue
        seen.add(name)
        rows.append(_sampling_row(name, r, st))
    run = "/".join(Path(st["run"]).parts[-2:])
    return (f"One trained model (`{run}`: the `run/` folder of an `msdf demo` run), so every difference "
            f"comes from sampling; the first row is the baseline. {_sampling_protocol(files)}\n\n"
            + table(_SAMPLING_COLUMNS, rows))


def _training_label(st: Data) -> str:
    """The run folder of a ``bench_sampling`` file, with its steps and model size where the file records them."""
    label = f"`{'/'.join(Path(st['run']).parts[-2:])}`"
    if "step" in st:
        label += (f" ({num(st['step'])} steps, width {st['model']['width']}, depth {st['model']['depth']}"
                  + (", distance-biased attention" if st["model"].get("locality") else "")
                  + (", predicts the clean estimate" if st["model"].get("prediction") == "data" else "")
                  + (f", sample seed {st['seed']}" if st.get("seed") else "") + ")")
    return label


def sampling_trainings(*files: Data, vary: tuple[str, ...] = ()) -> str:
    """The same sampling settings on several trainings (``bench/bench_sampling.py``, one file per run); ``vary``:
    the protocol keys the files may differ in (:func:`_sampling_protocol`)."""
    rows = [[_training_label(d["settings"]), *_sampling_row(name, r, d["settings"])]
            for d in files for name, r in d["rows"].items()]
    return ("Several trainings; the rows of one training share its model and sample seeds, so they differ only "
            f"in sampling. {_sampling_protocol(files, vary)}\n\n"
            + table(["training", *_SAMPLING_COLUMNS], rows))


def _trainings_with(intro: str, vary: tuple[str, ...] = ()) -> Callable[..., str]:
    """A section body: ``intro`` (what each training is), then :func:`sampling_trainings` of the section's files."""
    return lambda *files: intro + sampling_trainings(*files, vary=vary)


# What each training of a multi-training bench_sampling section is (the section bodies' intros).
DEMO_TRAININGS_INTRO = (
    "`demo_rows/run` is the `run/` folder of `msdf demo` at revision d01d8e8 (the `cpu-medium` preset with "
    "128 rows per step, the 5,081-step demo recording); `demo_local/run` is `msdf demo` with the same "
    "preset plus distance-biased attention (`model.locality`, revision 5221ef4; the preset does not keep "
    "it, [network](#network)). ")

REPULSION_INTRO = (
    "Grid repulsion (`msdf/flow/repulsion.py`): at 0.5 ≤ t < 0.95 each grid of the current clean estimate "
    "nearer than R mean half-widths to another is pushed away from it, along its own surface (the push is "
    "projected with the structure tensor of the grid's values: within a board, along a leg), with strength L; "
    "the values are left to the model's next evaluations, and the decode stays raw. `demo_rows/run` is the "
    "5,081-step demo recording's model (revision d01d8e8, recorded without repulsion); "
    "`late-deep6-wide192-bf16-rows128` the same preset trained by `bench/bench_generation_quality.py` "
    "([row subsets](#row-subsets)). ")

ALIGNMENT_INTRO = (
    "Grid alignment (`msdf/flow/alignment.py`): at 0.5 ≤ t < 0.95 each grid of the current clean estimate "
    "moves by L times the mean over its near-surface nodes of r g, r its value minus the other grids' blend "
    "there and g its own lattice gradient: onto its neighbours' surface, along the normal only (a board's "
    "grid across the board, a leg's across the leg). Only centres move; the decode stays raw. Both rows of "
    "a training sample with the default grid repulsion. `demo_rows/run` is the 5,081-step demo "
    "recording's model (revision d01d8e8); `late-deep6-wide192-bf16-rows128` the same preset trained by "
    "`bench/bench_generation_quality.py` ([row subsets](#row-subsets)). ")

GUIDANCE_INTERVAL_INTRO = (
    "The trainings: `run_s0` is `msdf train --preset cpu-medium --cond text --minutes 15 --seed 0` on the "
    "demo's store (the preset before row subsets: every row per step), `run_small` the same with `--preset "
    "cpu-small`, `demo_gi/run` the demo recording before row subsets; "
    "all three on a CPU without native bf16, so `cpu-medium` trained in float32. The rows without `gi` guide "
    "at every time (the default before the interval). ")

SAMPLING_SDE_INTRO = (
    "The trainings are those of [guidance in a limited interval](#guidance-interval). The rows marked "
    "(the default) sample as the command line does, measured again in the same run. ")

# The demo preset's bf16 trainings (bench_sampling files, one per training and reference set).
DEMO_PRESET_INTRO = (
    "The demo's preset, `cpu-medium` (128 random rows of each shape per step), trained for 15 minutes on the demo's "
    "store by `msdf train --preset cpu-medium --cond text --minutes 15` on a 2-core VM whose CPU has native bf16 "
    "(AVX512-BF16), so the preset trained in bf16: about 73 samples/s and 8,000 steps, where the earlier "
    "recordings' float32 CPU made 4,400 to 5,100. `demo/run` is `msdf demo`'s own training, the README's demo "
    "recording (revision c09bb4b); `seed1/run` and `seed2/run` the same command with `--seed 1` and `--seed 2`; "
    "`space0/run` adds the space loss "
    "without its margin (`space_weight: 1`, `space_margin: 0`, on row subsets since revision 78f8723); "
    "`rows64/run` draws 64 rows of each shape per step instead of 128 (`train_rows: 64`). ")
SUPPORT_LEVERS_INTRO = (
    "Two training levers aimed at the grids that a plain solve takes from legs and pedestals "
    "([layout](#layout-time)), against the three bf16 trainings of [the preset](#demo-preset) (`demo/run`, "
    "`seed1/run`, `seed2/run`: 8,203 to 8,455 steps in 15 minutes). The preset draws its training times late-heavy, "
    "t = sigmoid(1 + z) with z ~ N(0, 1) (median 0.73), so about 3% of its steps see t < 0.3, where a plain solve "
    "loses much of the chairs' and stools' support grids. `loc05/run`: location 0.5 (`logit_normal_loc: 0.5`: 9% "
    "of the times below 0.3), trained for 15 minutes, which made 9,317 steps on a faster day of the same VM; "
    "`loc05s1/run`: the same at seed 1 for 8,300 steps (`--steps 8300`, the baselines' median); `mix03/run`: "
    "location 1 with 30% of the times drawn uniformly instead (`time_uniform_share: 0.3`: 11% below 0.3, the late "
    "emphasis kept), 8,300 steps; `sparse1/run`: [sparse-row loss weights](training.md#sparse-rows) with gamma 1 "
    "and K = 16 (`sparse_weight: 1`: a leg's row weighs about twice a table top's, and sheet rows fall below 1 so "
    "that a shape's mean stays 1), 8,300 steps; `sparse1f/run`: the same with the weights floored at 1 "
    "(`sparse_floor: 1`: sheets keep 1, only the chains weigh more), 8,300 steps. ")
PRESET_KNOBS_INTRO = (
    "Six more knobs of the demo's preset and its faster optimiser step, against the three bf16 trainings of "
    "[the preset](#demo-preset) (`demo/run`, `seed1/run`, `seed2/run`: 8,203 to 8,455 steps in 15 minutes on the "
    "demo's store of n = 256 grids of 5³). `n128/run`: the same 360 synthetic shapes encoded as n = 128 grids of "
    "5³ (`msdf preprocess --grids 128 --k 5 --refine-steps 25`: larger grids, wider node spacing) and trained "
    "with the preset for 15 minutes; its 128-row cap (`train_rows`) is then every row, so a step sees as many tokens as the baseline's and the whole "
    "shape; 9,002 steps; `n128s1/run`: the same at training seed 1 for 9,000 steps (`--steps 9000`). "
    "`lr4e3/run`: the preset at twice its learning rate (`lr: 0.004`, cosine to 4e-4), 15 minutes on the same day "
    "as `n128/run`, 9,008 steps (so a step costs the same at n = 128 and 256); `lr4e3s1/run`: the same at training "
    "seed 1 for 9,000 steps. The row marked *sample seed 1* samples `demo/run` again with sample seeds 1 + j and the "
    "references' point clouds drawn with seed 1: the spread that sampling alone adds to one training's row. "
    "`geom3/run`: the loss weights the 4 centre/half-width columns 3 times the values instead of the preset's 10 "
    "(`geometry_weight: 3`; rescaled to mean 1, the geometry's share of the weight falls from 24% to 9%), 8,300 "
    "steps (`--steps 8300`, the baselines' median); a second training was stopped once this one came out below all "
    "three baselines in wholeness and above them in 1-NNA. `geom20/run`: the other way, the geometry columns "
    "weighted 20 times the values (`geometry_weight: 20`: the geometry's share of the weight rises to 39%), 8,300 "
    "steps; `geom20s1/run`: the same at training seed 1. `fused/run`: the preset as it trains now, with torch's "
    "fused AdamW and one foreach EMA lerp per step ([optimiser step](training.md#optimiser-step)), 15 minutes at "
    "seed 0 like `demo/run`: 8,757 steps on this day (step counts of other days do not compare); each class's own "
    "1-NNA is in [class by class](#one-nna-classes). "
    "`wide256/run`: the preset's model at width 256 instead of 192 (8 heads, a row MLP of 256; (256/192)² ≈ 1.8 "
    "times the multiply-adds of the linear layers per row token), 15 minutes at seed 0 on a quiet machine, so "
    "fewer, costlier steps in the same time; `wide256s1/run`: the same at training seed 1. `pu02/run`: the "
    "condition dropped to the null one with probability 0.2 instead of the preset's 0.1 (`p_uncond: 0.2`: more "
    "training of the unconditional velocity that guidance extrapolates from), 8,300 steps; `pu02s1/run`: the same at "
    "training seed 1. `allrows/run`: every row of each shape in every step (`train_rows: 0`) instead of 128 random "
    "rows of its 256, so each step sees whole layouts, 15 minutes at seed 0: 4,399 steps. ")
DEMO_PRESET_EVAL_INTRO = (
    "The three bf16 trainings of [the demo's preset](#demo-preset), `demo/run` (the README's demo recording), "
    "`seed1/run` and `seed2/run`, judged as the demo's own evaluation judges: its held-out references (the demo's "
    "`data/reference`, 8 per class), the same sample seeds. `demo/run`'s row repeats the recorded demo's "
    "evaluation figures (README). ")


def one_nna_classes(*files: Data) -> str:
    """Per class, the 1-NNA of each training's samples and the nearest-neighbour distances behind it
    (:func:`msdf.evaluation.neighbour_distances`), next to the training encodings where a file judged them
    (``bench_sampling --judge-data``)."""
    protocol = _sampling_protocol(files)  # also checks that the files share references, seed and resolution
    judged = [(_training_label(d["settings"]), r) for d in files for r in d["rows"].values()]
    data = next((d["data"] for d in files if d.get("data")), None)
    if data is not None:
        judged.append(("the training encodings", data))
    classes = list(judged[0][1]["per_class_nn"])
    headers = ["class", "ref → ref"] + [h for label, _ in judged
                                        for h in (f"{label}: 1-NNA", "gen → gen", "gen → ref")]
    rows = []
    for c in classes:
        cells = [c, _per_mille(judged[0][1]["per_class_nn"][c]["ref_ref"])]
        for _, r in judged:
            nn = r["per_class_nn"][c]
            cells += [pct(r["per_class_1nna"][c]), _per_mille(nn["gen_gen"]), _per_mille(nn["gen_ref"])]
        rows.append(cells)
    overall = ["all", _per_mille(judged[0][1]["nn_cd"]["ref_ref"])]
    for _, r in judged:
        overall += [pct(r["1nna_cd"]), _per_mille(r["nn_cd"]["gen_gen"]), _per_mille(r["nn_cd"]["gen_ref"])]
    rows.append(overall)
    return ("Where each training's 1-NNA comes from, class by class: a class's 1-NNA is its own samples against "
            "its own references (16 and 16; the last row, all 144 against all 144, is the 1-NNA of the other "
            "tables), and the Chamfer distances (×1e3, bbox-normalised clouds, medians over "
            "the class) are those `msdf evaluate` records under `nn_cd` ([evaluation](evaluation.md)): *ref → ref* "
            "each reference to its nearest other reference, *gen → gen* each sample to its nearest other sample, "
            "*gen → ref* each sample to its nearest reference. Samples *scattered* around the references have "
            "gen → gen about gen → ref; samples *offset* from them, sharing one error, sit near each other and far "
            "from every reference (gen → gen a fraction of gen → ref); either way "
            "their 1-NNA nears 100%. *The training encodings* judge the store's own encodings (one per reference, "
            "of its class) the same way: the ceiling. The error the bottles' samples share is a hollow body: their "
            "grid shells are open ([open shells](#open-shells)). " + protocol + "\n\n" + table(headers, rows))


def open_shells(*files: Data) -> str:
    """Per class, the share of open grid shells (:mod:`msdf.sealing`) of each training's samples and of the training
    encodings, and the 1-NNA of the same samples decoded with the enclosed-pocket rule (``mc``) and with the
    nearest-covered rule (``mc-nearest``, the files whose ``settings.decode`` says so)."""
    standard = [d for d in files if d["settings"].get("decode", "mc") == "mc"]
    nearest = [d for d in files if d["settings"].get("decode", "mc") == "mc-nearest"]
    if len(nearest) != 1 or {d["settings"]["run"] for d in nearest} - {d["settings"]["run"] for d in standard}:
        raise ValueError("open shells: need one mc-nearest file of a run that also has an mc file")
    protocol = _sampling_protocol(files)
    twin = next(d for d in standard if d["settings"]["run"] == nearest[0]["settings"]["run"])
    runs = [(_training_label(d["settings"]), next(iter(d["rows"].values()))) for d in standard]
    data, data_near = twin["data"], nearest[0]["data"]
    if data is None or data_near is None:
        raise ValueError("open shells: the mc and mc-nearest files of the run must both judge the encodings")
    row, row_near = next(iter(twin["rows"].values())), next(iter(nearest[0]["rows"].values()))
    twin_label = _training_label(twin["settings"])
    headers = (["class", "encodings: open shells"] + [f"{label}: open shells" for label, _ in runs]
               + [f"{twin_label}: 1-NNA (mc)", "1-NNA (mc-nearest)", "encodings: 1-NNA (mc)", "(mc-nearest)"])
    rows = []
    for c in row["per_class_open"]:
        rows.append([c, pct(data["per_class_open"][c])] + [pct(r["per_class_open"][c]) for _, r in runs]
                    + [pct(row["per_class_1nna"][c]), pct(row_near["per_class_1nna"][c]),
                       pct(data["per_class_1nna"][c]), pct(data_near["per_class_1nna"][c])])
    rows.append(["all", pct(data["wholeness"]["share_open"])] + [pct(r["wholeness"]["share_open"]) for _, r in runs]
                + [pct(row["1nna_cd"]), pct(row_near["1nna_cd"]), pct(data["1nna_cd"]), pct(data_near["1nna_cd"])])
    wn = row_near["wholeness"]
    return ("A thick part of a shape (a bottle's body, a sofa's seat) is a shell of grids around an uncovered core, "
            "which decodes as inside when the shell encloses it ([space no grid covers]"
            "(representation.md#space-no-grid-covers)). A sample's shell is *open* when more than "
            f"{pct(data['wholeness']['open_at'])} of the covered nodes next to the outside (uncovered space that "
            "reaches the border of the lattice) lie inside the shape (`msdf/sealing.py`, [evaluation]"
            "(evaluation.md)): somewhere no grid covers the surface, the core joins the outside and the shape decodes "
            "hollow, with an inner surface along the inside of its shell, still one piece, so wholeness does not see "
            "it. An encoding's grids reach past its surface everywhere, so none of its shells is open. The last four "
            "columns judge the same samples and "
            "the same encodings decoded with the enclosed-pocket rule (`mc`, the default) and with the "
            "nearest-covered rule (`mc-nearest`: each uncovered node takes the sign of its nearest covered node, so "
            "a hole stays a local defect; its meshes are open where the surface leaves the grids, so it is a "
            "measurement, not the default). Under `mc-nearest` the samples' median wholeness is "
            f"{wn['median_wholeness']:.3f} and {pct(wn['share_whole'])} reach 0.9. Wider grids on thick parts, an "
            "encoder option, close most of the shells at some cost in wholeness ([wider grids](#grid-overlap)). "
            + protocol + "\n\n"
            + table(headers, rows))


def _half_widths(st: Data) -> tuple[float, float | None]:
    """``(F, FT)`` of the store a ``bench_sampling`` file judged (``settings.data_encoding``; files from before
    ``--half-width-factor`` existed, and stores made without it, used the encoder's default; FT None = off)."""
    enc = st.get("data_encoding") or {}
    return enc.get("half_width_factor") or HALF_WIDTH_FACTOR, enc.get("thick_half_width_factor")


def _half_widths_label(st: Data) -> str:
    """``F`` or ``F, thick parts up to FT`` of :func:`_half_widths` (``, spaced centres`` for a store made with the
    since removed ``--spaced-centres``), with ``k = K`` for a store whose grids are not the demo's 5^3."""
    f, ft = _half_widths(st)
    enc = st.get("data_encoding") or {}
    k = enc.get("k", 5)
    return (fixed(f, 1) + (f", thick parts up to {fixed(ft, 1)}" if ft else "")
            + (", spaced centres" if enc.get("spaced") else "") + (f", k = {k}" if k != 5 else ""))


def _store_label(d: Data) -> str:
    """Column header of one training in the per-class tables: its encoding and run folder."""
    return f"{_half_widths_label(d['settings'])}: `{Path(d['settings']['run']).parts[-2]}`"


def grid_overlap(*files: Data) -> str:
    """Trainings of the demo's preset on stores encoded with several half-width rules (each file judged its own
    store, ``--judge-data``): overall figures of samples and encodings, then per class; files whose
    ``settings.decode`` is ``mc-nearest`` (the same runs' samples with no hollow cores) are a last table."""
    protocol = _sampling_protocol(files)
    if any(d["data"] is None for d in files):
        raise ValueError("grid overlap: every file must judge its training store (--judge-data)")
    nearest = [d for d in files if d["settings"].get("decode", "mc") == "mc-nearest"]
    files = tuple(d for d in files if d not in nearest)
    files = tuple(sorted(files, key=lambda d: (_half_widths(d["settings"])[1] or 0, _half_widths(d["settings"])[0],
                                               d["settings"]["run"])))
    rows, per_class = [], {}
    for d in files:
        r, data = next(iter(d["rows"].values())), d["data"]
        w = r["wholeness"]
        rows.append([_half_widths_label(d["settings"]), _training_label(d["settings"]), fixed(w["median_wholeness"], 3),
                     pct(w["share_whole"], 0), pct(r["accuracy"]), pct(r["1nna_cd"]), pct(w["share_open"]),
                     pct(data["1nna_cd"]), fixed(data["wholeness"]["median_wholeness"], 3),
                     pct(data["wholeness"]["share_whole"], 0), pct(data["wholeness"]["share_open"])])
        for c in r["per_class_open"]:
            per_class.setdefault(c, [c]).append(f"{fixed(r['per_class_wholeness'][c], 2)} / "
                                                f"{pct(r['per_class_open'][c], 0)} / {pct(r['per_class_1nna'][c], 0)}")
    return ("The encoder gives every grid a half-width `F` times the largest distance from a surface sample to its "
            "nearest centre (`msdf preprocess --half-width-factor F`, default "
            f"{fixed(HALF_WIDTH_FACTOR, 1)}; [representation](representation.md)). A larger `F` makes neighbouring "
            "grids overlap more, so a generated layout with crowded pairs and gaps ([row spacing](#row-spacing)) "
            "still covers the surface and closes its shells ([open shells](#open-shells)); the price is coarser "
            "nodes (spacing 2·s/(k − 1)), which thin parts (legs, boards, stems) pay for. `thick parts up to FT` "
            "(`--thick-half-width-factor FT`) widens only the grids on thick parts: each grid's half-width grows to "
            "the shape's half-thickness under its centre (read off the SDF along the inward normal), at most FT/F "
            "times the covering one, so thin parts keep their nodes. Each row is one 15-minute training of the "
            "demo's preset on the demo's shapes encoded that way (n = 256, k = 5 unless the row says k = 7, 25 "
            "refinement steps; training seed 0, except `thick20s1` and `thick20s2`, seeds 1 and 2 on the same "
            "store). `spaced centres` was an encoder option (`--spaced-centres`, at the file's revision; removed "
            "since, as it measured worse): the thick-part widths, but centres placed by farthest-point sampling with "
            "a target spacing that grows with the local thickness, so thick parts got fewer grids and thin parts "
            "(stems, legs) more of the 256. Each row is judged "
            "with `msdf generate`'s defaults next to its own training encodings. With k = 7 (`k7hw20`: 7³ nodes at "
            "F = 2.0 are about as fine as 5³ at 1.2) the geometry columns' loss weight was raised from 10 to 27.4, "
            "so that the 4 centre/half-width columns keep their 24% of the loss against 343 values instead of 125. "
            + protocol + "\n\n"
            + table(["half-widths", "training", "median wholeness", "wholeness ≥ 0.9", "held-out accuracy", "1-NNA",
                     "open shells", "encodings: 1-NNA", "encodings: median wholeness", "encodings: wholeness ≥ 0.9",
                     "encodings: open shells"], rows)
            + "\n\nPer class, median wholeness / open shells / 1-NNA of the samples:\n\n"
            + table(["class"] + [_store_label(d) for d in files], list(per_class.values()))
            + (_grid_overlap_nearest(files, nearest) if nearest else ""))


def _grid_overlap_nearest(files: tuple[Data, ...], nearest: list[Data]) -> str:
    """Median wholeness per class of runs judged twice, with ``mc`` and with ``mc-nearest`` (a hole in a thick
    part's shell stays local, so no hollow core's inner surface adds to the largest piece)."""
    pairs = []
    for near in nearest:
        twin = [d for d in files if d["settings"]["run"] == near["settings"]["run"]]
        if len(twin) != 1:
            raise ValueError("grid overlap: each mc-nearest file needs the mc file of the same run")
        pairs.append((twin[0], near))
    rows = []
    firsts = [(next(iter(a["rows"].values())), next(iter(b["rows"].values()))) for a, b in pairs]
    for c in firsts[0][0]["per_class_wholeness"]:
        rows.append([c] + [f"{fixed(a['per_class_wholeness'][c], 2)} / {fixed(b['per_class_wholeness'][c], 2)}"
                           for a, b in firsts])
    rows.append(["all (median)"] + [f"{fixed(a['wholeness']['median_wholeness'], 3)} / "
                                    f"{fixed(b['wholeness']['median_wholeness'], 3)}" for a, b in firsts])
    return ("\n\nUnder the default decoding a hollow core's inner surface joins the outer one through the hole, "
            "so an open shell adds area to the largest piece and a sealed one does not. The same samples decoded "
            "with the nearest-covered rule (`--decode mc-nearest`: each uncovered node takes the sign of its nearest "
            "covered node, so a hole stays local and no core is hollow; [open shells](#open-shells)) compare the "
            "encodings without that difference. Median wholeness, `mc` / `mc-nearest`:\n\n"
            + table(["class"] + [_store_label(a) for a, _ in pairs], rows))


def completeness_and_pair_repulsion(*files: Data) -> str:
    """Runs sampled twice with the same seeds: with repulsion at the sample's mean half-width (the rule, the first
    file of each pair) and at each pair's own (reverted, the second, which also records :mod:`msdf.completeness`);
    ``files`` alternate (before, pair-scale) run by run, and the pair-scale files judge their encodings where they
    carry ``--judge-data``."""
    pairs = list(zip(files[::2], files[1::2]))
    if len(files) % 2 or any(a["settings"]["run"] != b["settings"]["run"] for a, b in pairs):
        raise ValueError("completeness: the files must alternate (rule, pair scale) over the same runs")
    protocol = _sampling_protocol(files)
    rows, per_class, headers = [], {}, ["class"]
    for before, after in pairs:
        # the encoding's settings: from whichever file of the pair judged the training store
        known = after if after["settings"].get("data_encoding") else before
        label = _half_widths_label(known["settings"])
        for d, scale in ((before, "sample's mean (the rule)"), (after, "each pair's mean")):
            r = next(iter(d["rows"].values()))
            w = r["wholeness"]
            rows.append([_training_label(d["settings"]), label, scale, fixed(w["median_wholeness"], 3),
                         pct(w["share_whole"], 0), fixed(w["median_completeness"], 3) if "median_completeness" in w
                         else "–", pct(r["accuracy"]), pct(r["1nna_cd"]), pct(w["share_open"])])
        r = next(iter(after["rows"].values()))
        headers.append(_store_label(known))
        for c in r["per_class_completeness"]:
            per_class.setdefault(c, [c]).append(f"{fixed(r['per_class_wholeness'][c], 2)} / "
                                                f"{fixed(r['per_class_completeness'][c], 2)}")
    for _, after in pairs:
        if after["data"] is not None:
            headers.append(f"encodings: {_half_widths_label(after['settings'])}")
            for c, v in after["data"]["per_class_completeness"].items():
                per_class[c].append(f"{fixed(after['data']['per_class_wholeness'][c], 2)} / {fixed(v, 2)}")
    return ("Wholeness is the largest piece's share of the decoded surface, so a part that never formed costs "
            "nothing and a part that came loose costs its area; *completeness* ([evaluation](evaluation.md), "
            "`msdf/completeness.py`) is the share of the nearest reference's surface points within 0.1 of the "
            "largest piece (bounding boxes spanning 2), so both cost. It also falls with any difference of shape "
            "from the nearest reference, so read it against the training encodings judged the same way (the last "
            "columns of the second table). The samples were drawn twice with the same seeds: with grid repulsion "
            "measured in the sample's mean half-width (the rule) and in each pair's own mean half-width "
            "(revision 213c819, reverted since): with grids of one width per shape the two agree, and with wider "
            "grids on thick parts a sample-wide mean inflated by a thick body's grids might spread a leg's or a "
            "stem's narrow grids too far. The second rows of each training record completeness, the first (older "
            "files) do not. " + protocol + "\n\n"
            + table(["training", "half-widths", "repulsion radius in", "median wholeness", "wholeness ≥ 0.9",
                     "median completeness", "held-out accuracy", "1-NNA", "open shells"], rows)
            + "\n\nPer class, median wholeness / median completeness (pair-scale sampling; the encodings: their "
              "own):\n\n" + table(headers, list(per_class.values())))


def decode_resolution(*files: Data) -> str:
    """The same samples of one run judged at each file's marching-cubes resolution (``bench/bench_sampling.py
    --resolution``; same run, settings and seeds, so only the decoding differs)."""
    if len({d["settings"]["run"] for d in files}) != 1:
        raise ValueError("decode resolution: the files judge different runs")
    rows = [[f"{d['settings']['resolution']}³", *_sampling_row(name, r, d["settings"])]
            for d in files for name, r in d["rows"].items()]
    resolutions = " and ".join(f"{d['settings']['resolution']}³" for d in files)
    return (f"One trained model, {_training_label(files[0]['settings'])}, sampled with the same settings and "
            f"seeds and decoded at {resolutions} (`msdf evaluate` decodes at 128³ by default, `msdf generate` "
            "exports at 256³). The lattice has that many nodes along the longest side of the grids' bounding box, "
            "which spans about 2 in the unit frame (shapes span [-0.9, 0.9]): nodes about 0.015 apart at 128³ and "
            "0.008 at 256³, and a part thinner than the spacing can fall between nodes and break. "
            f"{_sampling_protocol(files, vary=('resolution',))}\n\n"
            + table(["resolution", *_SAMPLING_COLUMNS], rows))


def sampling_spread(d: Data) -> str:
    """:func:`sampling` of one file that repeats settings of the SDE files at another sample seed."""
    return ("Two settings of [stochastic sampling](#sampling-sde) on the 2,504-step demo recording's model again, "
            "with sample seeds "
            f"{num(d['settings']['seed'])} + j and the reference clouds drawn with that seed instead of 0: how far "
            "the same setting moves with the sampling noise alone. " + sampling(d))


def guidance_columns(d: Data) -> str:
    """:func:`sampling` of the guidance-columns file."""
    return ("Guidance on the grids' layout only: the class is decided by where the grids go, and the extrapolation "
            "`u_null + w (u_c - u_null)` of the SDF values is a suspect for grids that carry a wrong surface. "
            + sampling(d))


QUALITY_HEADERS = ["seed", "steps", "samples/s", "median wholeness", "wholeness ≥ 0.9", "median components",
                   "median stray rows", "held-out accuracy", "1-NNA", "COV", "MMD", "failed"]


QualityRows = tuple[list[list[str]], dict[str, list[str]], list[str]]


def _quality_rows(files: tuple[Data, ...], label: Callable[[Data | None, Data], str]) -> QualityRows:
    """Table rows (one per judged run; ``label(run, file)`` names it), per-class median wholeness and the labels,
    from ``bench/bench_generation_quality.py`` files. A file's ``data`` row (the training encodings judged alike)
    comes after every file's runs, without training columns."""
    runs = [(label(r, d), r, r["training"]) for d in files for r in d["rows"].values()]
    data = [(label(None, d), d["data"], None) for d in files if d.get("data")]
    rows, classes, heads = [], {}, []
    for name, r, t in runs + data:
        w = r["wholeness"]
        rows.append([name, num(t["seed"]) if t else "–", num(t["steps"]) if t else "–",
                     fixed(t["samples_per_s"], 1) if t else "–",
                     fixed(w["median_wholeness"], 3), pct(w["share_whole"], 0), num(w["median_components"]),
                     num(w["median_stray_rows"]), pct(r["accuracy"]), pct(r["1nna_cd"]), pct(r["cov"]),
                     fixed(1e3 * r["mmd_cd"], 1), num(r["num_failed"])])
        heads.append(f"{name}, seed {t['seed']}" if t else name)
        for c, v in r["per_class_wholeness"].items():
            classes.setdefault(c, []).append(fixed(v, 2))
    return rows, classes, heads


def _quality_section(files: tuple[Data, ...], label: Callable[[Data | None, Data], str], intro: str,
                     after: str) -> str:
    """A generation-quality section: ``intro``, how the rows were judged, ``after``, the overall table (one row
    per run, named by ``label``) and the per-class median wholeness."""
    rows, classes, heads = _quality_rows(files, label)
    st = files[0]["settings"]
    interval = "every time" if st["guidance_interval"] == [0.0, 1.0] else "t in [{:g}, {:g})".format(
        *st["guidance_interval"])
    restart = next(iter(files[0]["rows"].values()))["restart"]
    return (f"{intro} Judged on {num(st['references'])} held-out references as `msdf generate` samples "
            f"({st['solver']} {st['nfe']} NFE, guidance {num(st['guidance'][0])} at {interval}, temperature "
            f"{num(st['temperature'][0])}, {restart['count']} restarts to t={restart['t']:g}; the seed of the samples "
            f"and of the references' point clouds is the row's seed). {after} MMD in ×1e-3.\n\n"
            + table(["training", *QUALITY_HEADERS], rows) + "\n\nMedian wholeness per class:\n\n"
            + table(["class", *heads], [[c, *v] for c, v in classes.items()]))


def _run_label(r: Data | None, name: str) -> str:
    """``"name, M rows per step"`` (or ``every row``) for a judged run, the data row's name for ``None``."""
    if r is None:
        return "the training encodings"
    m = r["overrides"].get("train_rows", 0)
    return f"{name}, " + (f"{m} rows per step" if m else "every row")


def row_subsets(*files: Data) -> str:
    """Training on row subsets against every row (``bench/bench_generation_quality.py``: the cpu-medium variant
    with and without ``train_rows``, and with its saved time spent on width), overall and per class."""
    def label(r: Data | None, _: Data) -> str:
        return _run_label(r, f"width {r['overrides']['model']['width']}" if r else "")

    st = files[0]["settings"]
    return _quality_section(
        files, label,
        "The `cpu-medium` design (depth 6; the demo's model, in float32 on this CPU) trained for "
        f"{num(st['minutes'])} minutes alone on {st['threads']} threads with every row of each shape per step "
        "(the baseline), with a random subset of 128 of its 256 rows (`train_rows`, `msdf/flow/row_subset.py`), "
        "and with that subset and width 256 (8 heads) instead of 192; sampling always makes all 256 rows.",
        "The first two runs were trained by `msdf train` with the variants' configs before the script judged them "
        "(it reuses a finished run); the third was trained by the script.")


def representation(*files: Data) -> str:
    """The demo's design on several representations of the same shapes (``bench/bench_generation_quality.py``;
    the settings' ``store_n``, ``store_k``, or in older files the ``--tag``, e.g. ``n128 k5``, name the
    representation; untagged older files used the demo's n = 256, k = 5 store)."""
    def label(r: Data | None, d: Data) -> str:
        st = d["settings"]  # files before store_n/store_k name the representation in their tag ("n128 k5")
        n, k = ((st["store_n"], st["store_k"]) if "store_n" in st else
                (int(part[1:]) for part in (st["tag"] or "n256 k5").split()))
        grids = f"n = {n}" + (f", k = {k}" if k != 5 else "")
        if r is None:
            return f"{grids}: the training encodings"
        m = r["overrides"].get("train_rows", 0)
        return f"{grids}, " + (f"{m} rows per step" if m and m < n else "every row")

    st = files[0]["settings"]
    return _quality_section(
        files, label,
        "The `cpu-medium` design (the demo's model: depth 6, width 192, `train_rows: 128`, float32 on this CPU), "
        f"trained for {num(st['minutes'])} minutes alone on {st['threads']} threads on the demo's 360 synthetic "
        "shapes encoded several ways, each with 25 refinement steps (`msdf preprocess --grids N --k K`): n = 256 "
        "grids of 5³ (the demo's store), 192 and 128 grids of 5³ (fewer, larger grids: the node spacing goes as "
        "1/√n), and 128 grids of 6³ (labelled k = 6: finer nodes in the larger grids, rows of 4 + 216 columns). "
        "Each step trains on the rows a row's label names: 128 random rows of each shape (the preset's "
        "`train_rows: 128`, which is every row at n = 128), 64 where the label says so (`train_rows: 64`), every "
        "row in the n = 256 baseline; sampling makes all n.",
        "The rows named *the training encodings* judge a store's own encodings, one per reference, of the "
        "reference's class: the ceiling of every column (for n = 256 see the `data` row of the "
        "[ablation](#generation-quality)).")


def network(*files: Data) -> str:
    """The demo's design with two changes to its network, each alone (``bench/bench_generation_quality.py``: the
    cpu-medium variants with ``model.prediction: data`` and with ``model.locality``)."""
    def label(r: Data | None, _: Data) -> str:
        model = r["overrides"]["model"] if r else {}
        return _run_label(r, "predicts the clean estimate" if model.get("prediction") == "data" else
                          "distance-biased attention" if model.get("locality") else "velocity, plain attention")

    st = files[0]["settings"]
    return _quality_section(
        files, label,
        "The `cpu-medium` design (depth 6, width 192; float32 on this CPU) trained for "
        f"{num(st['minutes'])} minutes alone on {st['threads']} threads, with its network as the preset had it before "
        "(the last layer predicts the velocity `u`; plain attention: the baseline), predicting the clean estimate `x1_hat` instead "
        "(`model.prediction: data`; the velocity is then `(x1_hat - x) / max(1 - t, 0.05)`, and the loss is the "
        "same velocity regression), or with distance-biased attention (`model.locality`: each head adds "
        "`-a_h |p_i - p_j|^2` of the rows' current centres to its logits, `a_h` a zero-initialised linear map of the "
        "time and condition embedding; the preset's since this measurement). Rows per step as labelled (the preset: "
        "`train_rows: 128`).",
        "The baseline's rows are those of the [row-subset section](#row-subsets).")


def _flat_overrides(overrides: Data, prefix: str = "") -> Data:
    out: Data = {}
    for k, v in overrides.items():
        out.update(_flat_overrides(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def row_precision(d: Data) -> str:
    """Disagreement of a run's samples against the training encodings under known row errors
    (``bench/bench_row_precision.py``), with the diagnosis that makes the samples' grids agree."""
    st, rows = d["settings"], d["rows"]
    gen, agreed = rows["generated"], rows["generated, grids made to agree (diagnosis)"]
    calib = [(name, r) for name, r in rows.items() if name.startswith("encodings +")]
    near = min(calib, key=lambda nr: abs(nr[1]["median_disagreement"] - gen["median_disagreement"]))
    body = (f"{st['per_class']} training encodings per class of the store (n = {st['n']}, k = {st['k']}) and one "
            f"sample per held-out reference caption, {st['per_class']} per class, from the run "
            f"`{Path(st['run']).name}` (the demo's design; {st['sampling']}), decoded raw at {st['resolution']}³. "
            "*Disagreement* (`msdf/disagreement.py`): at the near-surface nodes another grid covers, own value minus "
            "the other grids' blend, root mean square in unit-frame length. `shift@σ`, `offset@σ`: the encodings "
            "after one draw of a row-level error of size σ (centres moved; all of a row's values offset). The last "
            f"row is a diagnosis, never part of generation: the samples after {st['steps']} Adam steps that minimise "
            "their disagreement.\n\n"
            + table(["rows", "median disagreement (×1e3)", "median wholeness"],
                    [[name, fixed(1e3 * r["median_disagreement"], 1), fixed(r["median_wholeness"], 3)]
                     for name, r in rows.items()]))
    return (body + f"\n\nThe samples' grids disagree as much as the encodings do after `{near[0][len('encodings + '):]}`"
            f" ({fixed(1e3 * gen['median_disagreement'], 1)} against {fixed(1e3 * near[1]['median_disagreement'], 1)}"
            f" ×1e-3). Made to agree ({fixed(1e3 * agreed['median_disagreement'], 1)} ×1e-3), their median wholeness "
            f"goes from {fixed(gen['median_wholeness'], 3)} to {fixed(agreed['median_wholeness'], 3)}: "
            + ("much of the debris is a disagreement between overlapping grids."
               if agreed["median_wholeness"] > gen["median_wholeness"] + 0.05 else
               "the debris is not a disagreement between overlapping grids but grids that agree on a wrong surface, "
               "or too few grids on the right one."))


def row_spacing(*files: Data) -> str:
    """Generated grids' layout against the training encodings' (``bench/bench_row_spacing.py``), one file per run."""
    st = files[0]["settings"]
    rows = []
    for d in files:
        repel = d["settings"].get("repulsion") or {"strength": 0.0}
        run = _training_label(d["settings"]) + (
            f", repel={repel['strength']:g}@{repel['radius']:g}" if repel["strength"] else "")
        for c, g in d["rows"]["generated"].items():
            e = d["rows"]["encodings"][c]
            lower = [fixed(r["lower"], 3) if "lower" in r else "–" for r in (e, g)]  # older files lack it
            rows.append([run, c, fixed(e["spacing"], 2), fixed(g["spacing"], 2), fixed(e["inside"], 3),
                         fixed(g["inside"], 3), fixed(e["width"], 3), fixed(g["width"], 3), *lower])
    interval = "every time" if st["guidance_interval"] == [0.0, 1.0] else "t in [{:g}, {:g})".format(
        *st["guidance_interval"])
    return ("One sample per held-out reference caption (" + num(st["references"]) + " references), drawn as `msdf "
            f"generate` draws them ({st['solver']} {st['nfe']} NFE, guidance {num(st['guidance'])} at {interval}, "
            f"temperature {num(st['temperature'])}, {st['restart']['count']} restarts to t={st['restart']['t']:g}; "
            "rows marked `repel=L@R` with [grid repulsion](#repulsion)), against the run's training encodings with the references' class make-up (the baseline). Medians per "
            "class. *Spacing*: each grid's distance to the nearest other centre in units of its own half-width; "
            "*inside*: share of the SDF values below zero; *width*: half-width (unit frame); *lower*: share of the "
            "grids whose centre lies in the lowest 40% of the centres' height (the shapes stand Y-up: legs, "
            "pedestals, bases; files from before it have none). No decoding.\n\n"
            + table(["training", "class", "spacing (encodings)", "spacing (generated)", "inside (encodings)",
                     "inside (generated)", "width (encodings)", "width (generated)", "lower (encodings)",
                     "lower (generated)"], rows))



def layout_time(*files: Data) -> str:
    """The layout left after integrating from data noised to time s (``bench/bench_layout_time.py``), per run."""
    st = files[0]["settings"]
    classes = st["classes"]
    rows = []
    for d in files:
        run = _training_label(d["settings"])
        for name, r in d["rows"].items():
            rows.append([run, name.replace("from s=", "from s = ") if name != "encodings" else "the encodings",
                         *[fixed(r[c]["lower"], 3) for c in classes], *[fixed(r[c]["spacing"], 2) for c in classes]])
    repel = st["repulsion"]
    return ("Each held-out reference of the classes that stand on legs or a pedestal (" + ", ".join(classes)
            + f"; {num(st['references'])} references) takes the training store's next encoding of its class, "
            "noised to time s on the run's path with the reference's seed (x_s = (1 − s) ε + s x1), and the run's "
            "guided ODE "
            f"integrates it from s to 1 ({st['solver']} at {st['nfe_full']} (1 − s) NFE, at least 8; guidance w at "
            "t in [{:g}, {:g})".format(*st["guidance_interval"])
            + (f"; grid repulsion {repel['strength']:g}@{repel['radius']:g}" if repel["strength"] else "")
            + "; no restarts). s = 0 is a plain sample from fresh noise; the encodings are s = 1. *Lower*: median "
            "share of the grids in the lowest 40% of the centres' height (legs, pedestals); *spacing*: median "
            "distance to the nearest other centre in own half-widths ([row spacing](#row-spacing)). A share kept "
            "from s = 0.5 on but lost from s = 0 is lost early in the solve, where the flow decides where the rows "
            "go. No decoding.\n\n"
            + table(["training", "start", *[f"lower: {c}" for c in classes], *[f"spacing: {c}" for c in classes]],
                    rows))

SECTIONS = [
    Section("train", "Training throughput and the OT ablation", "bench/bench_train.py", ("train",), train),
    Section("precision", "CPU training precision: float32, bf16, compile", "bench/bench_precision.py", ("precision",),
            precision),
    Section("optimizer", "Training bookkeeping: fused AdamW and the foreach EMA", "bench/bench_optimizer.py",
            ("optimizer",), optimizer),
    Section("precision-fp32", "CPU training without native bf16: float32 against float32 + compile",
            "bench/bench_precision.py", ("precision_fp32",), precision),
    Section("flow-e2e", "The demo's model end to end", "bench/bench_flow_e2e.py", ("flow_e2e",), flow_e2e),
    Section("generation-quality", "Whole shapes: the training-design ablation",
            "bench/bench_generation_quality.py",
            ("gq_set_vs_slots_6k", "gq_round2_6k", "gq_round3_6k", "gq_round4_6k", "gq_round5_6k",
             "gq_round6_6k", "gq_round7_6k", "gq_round8_6k", "gq_n128k7_6k", "gq_restart_6k", "gq_restart04_6k",
             "gq_restart02_6k", "gq_temperature_6k", "gq_temperature2_6k", "gq_temperature_restart_6k",
             "gq_temperature_restart06_6k", "gq_temperature_restart1_6k", "gq_restart08_6k", "gq_capacity_16min",
             "gq_seed1_plain_6k", "gq_seed1_default_6k", "gq_guidance1_default_6k", "gq_space_6k",
             "gq_space_default_6k", "gq_space_seed1_default_6k", "gq_space_margin_default_6k",
             "gq_space_margin_seed1_default_6k", "gq_guidance3_default_6k", "gq_guidance3_seed1_default_6k",
             "gq_geom_ema_default_6k", "gq_selfcond_default_6k", "gq_selfcond_seed1_default_6k",
             "gq_autoguide_default_6k", "gq_autoguide_seed1_default_6k", "gq_autoguide2_default_6k",
             "gq_autoguide2_seed1_default_6k", "gq_selfcond_6k", "gq_selfcond_seed1_6k", "gq_steps12k_default",
             "gq_wide192_steps_default_6k", "gq_geomfirst06_default_6k", "gq_geomfirst08_default_6k",
             "gq_valuesfirst08_default_6k", "gq_rowalign_default_6k", "gq_geomfirst08_uniform_6k",
             "gq_deep6_steps_default_6k", "gq_deep6_steps_seed1_default_6k", "gq_refine0_default_6k",
             "gq_refine100_default_6k", "gq_symlog02_default_6k", "gq_symlog01_default_6k",
             "gq_b16_default_3k", "gq_b16_default_6k", "gq_ema999_default_6k",
             "gq_deep6_default_12k", "gq_deep6_wide192_default_6k", "gq_deep6_wide192_seed1_default_6k",
             "gq_deep6_wide192_fast_15min", "gq_deep6_wide192_bf16_15min", "gq_deep6_wide192_bf16_seed1_15min",
             "gq_deep6_wide192_fast_explicit_15min", "gq_deep6_wide192_bf16_space1_15min",
             "gq_deep6_wide192_bf16_data80_15min", "gq_deep6_wide192_bf16_lr1e-3_15min", "gq_surface4_6k",
             "gq_surface4_seed1_6k", "gq_spacing1_6k", "gq_spacing3_6k", "gq_loc2_6k", "gq_fourier6_6k",
             "gq_fourier6_seed1_6k"),
            generation_quality),
    Section("row-subsets", "Row subsets: more optimiser steps in the demo's 15 minutes",
            "bench/bench_generation_quality.py", ("gq_rows128_15min", "gq_wide256_rows128_15min"), row_subsets),
    Section("representation", "Fewer, larger grids: n = 128 and 192 against 256 in the demo's 15 minutes",
            "bench/bench_generation_quality.py", ("gq_rows128_15min", "gq_n192k5_15min", "gq_n128k5_15min",
                                                  "gq_n128k5_seed1_15min", "gq_n128k5_rows64_15min",
                                                  "gq_n128k6_15min"),
            representation),
    Section("network", "The network: predicting the clean estimate, distance-biased attention",
            "bench/bench_generation_quality.py",
            ("gq_rows128_15min", "gq_xpred_rows128_15min", "gq_local_rows128_15min",
             "gq_local_seed1_rows128_15min"), network),
    Section("row-subsets-demo", "The demos' models on the 144 references: row subsets, distance-biased attention",
            "bench/bench_sampling.py", ("sampling_rows_demo", "sampling_local_demo"),
            _trainings_with(DEMO_TRAININGS_INTRO)),
    Section("repulsion", "Grid repulsion while sampling, on two 15-minute trainings", "bench/bench_sampling.py",
            ("sampling_repel_demo", "sampling_repel_rows128"), _trainings_with(REPULSION_INTRO)),
    Section("alignment", "Grid alignment while sampling, on two 15-minute trainings", "bench/bench_sampling.py",
            ("sampling_align_demo", "sampling_align_rows128"), _trainings_with(ALIGNMENT_INTRO)),
    Section("demo-preset", "The demo's preset in bf16 (about 8,000 steps): three trainings, the space loss, 64 rows",
            "bench/bench_sampling.py", ("demo_preset_base", "demo_preset_gcvalues", "demo_preset_seed1",
                                        "demo_preset_seed2", "demo_preset_space0", "demo_preset_rows64"),
            _trainings_with(DEMO_PRESET_INTRO)),
    Section("demo-preset-eval", "The demo's evaluation on the three bf16 trainings of its preset",
            "bench/bench_sampling.py", ("demo_preset_eval72_demo", "demo_preset_eval72_seed1",
                                        "demo_preset_eval72_seed2"),
            _trainings_with(DEMO_PRESET_EVAL_INTRO)),
    Section("support-levers", "Aimed at the legs' grids: the time sampler and sparse-row weights",
            "bench/bench_sampling.py", ("demo_preset_base", "demo_preset_seed1", "demo_preset_seed2",
                                        "demo_preset_loc05", "demo_preset_loc05_seed1", "demo_preset_mix03",
                                        "demo_preset_sparse1", "demo_preset_sparse1f"),
            _trainings_with(SUPPORT_LEVERS_INTRO)),
    Section("preset-knobs",
            "The demo's preset in bf16: grids, learning rate, geometry weight, width, condition dropout, rows per step",
            "bench/bench_sampling.py", ("demo_preset_base", "demo_preset_seed1", "demo_preset_seed2",
                                        "demo_preset_n128", "demo_preset_n128_seed1", "demo_preset_lr4e3",
                                        "demo_preset_lr4e3_seed1", "demo_preset_base_seed1samples",
                                        "demo_preset_geom3", "demo_preset_geom20", "demo_preset_geom20_seed1",
                                        "demo_preset_fused", "demo_preset_wide256", "demo_preset_wide256_seed1",
                                        "demo_preset_puncond02", "demo_preset_puncond02_seed1",
                                        "demo_preset_allrows"),
            _trainings_with(PRESET_KNOBS_INTRO, vary=("seed",))),
    Section("one-nna-classes", "Where the 1-NNA comes from, class by class", "bench/bench_sampling.py --judge-data",
            ("demo_preset_base", "demo_preset_fused"), one_nna_classes),
    Section("open-shells", "Open grid shells: the holes that turn a thick part hollow",
            "bench/bench_sampling.py --judge-data [--decode mc-nearest]",
            ("demo_preset_base", "demo_preset_fused", "demo_preset_base_nearest"), open_shells),
    Section("grid-overlap", "Wider grids: the half-width factor against open shells",
            "bench/bench_sampling.py --judge-data [--decode mc-nearest]",
            ("demo_preset_base", "demo_preset_hw16", "demo_preset_hw20", "demo_preset_thick16", "demo_preset_thick20",
             "demo_preset_thick20_seed1", "demo_preset_thick20_seed2", "demo_preset_spaced", "demo_preset_k7hw20",
             "demo_preset_base_nearest", "demo_preset_thick20_nearest"),
            grid_overlap),
    Section("completeness", "Completeness next to wholeness; repulsion at each pair's own scale",
            "bench/bench_sampling.py [--judge-data]",
            ("demo_preset_base", "pairrep_demo", "demo_preset_thick20", "pairrep_thick20", "demo_preset_thick20_seed1",
             "pairrep_thick20s1", "demo_preset_thick20_seed2", "pairrep_thick20s2"), completeness_and_pair_repulsion),
    Section("decode-resolution", "The same samples decoded at 128³ and at 256³ (`msdf generate`'s default)",
            "bench/bench_sampling.py --resolution", ("sampling_rows_demo", "sampling_rows_demo_res256"),
            decode_resolution),
    Section("row-precision", "How precise are a trained model's rows?", "bench/bench_row_precision.py",
            ("row_precision",), row_precision),
    Section("row-spacing", "Where generated grids sit: spacing and inside share against the encodings",
            "bench/bench_row_spacing.py",
            ("row_spacing_small", "row_spacing_demo", "row_spacing_spacing1", "row_spacing_fourier6",
             "row_spacing_rows_demo", "row_spacing_repel_demo", "row_spacing_lower_demo",
             "row_spacing_lower_demo8k", "row_spacing_lower_loc05", "row_spacing_lower_mix03",
             "row_spacing_lower_loc05_seed1", "row_spacing_lower_sparse1", "row_spacing_lower_sparse1f"),
            row_spacing),
    Section("layout-time", "Where along the solve the legs' grids are lost", "bench/bench_layout_time.py",
            ("layout_time_demo8k", "layout_time_loc05", "layout_time_mix03", "layout_time_sparse1"),
            layout_time),
    Section("sampling", "Sampling settings on a cpu-small demo model", "bench/bench_sampling.py",
            ("sampling_demo", "sampling_demo_more"), sampling),
    Section("sampling-medium", "Sampling settings on a cpu-medium demo model (bf16)", "bench/bench_sampling.py",
            ("sampling_medium", "sampling_medium_more", "sampling_medium_plain", "sampling_nfe_medium"),
            sampling),
    Section("sampling-trainings", "Temperature on the cpu-medium preset's two ablation trainings",
            "bench/bench_sampling.py", ("sampling_preset_seed0", "sampling_preset_seed1"), sampling_trainings),
    Section("guidance-interval", "Guidance in a limited interval, on three 15-minute trainings without bf16",
            "bench/bench_sampling.py", ("sampling_interval_fp32_s0", "sampling_interval_small",
                                        "sampling_interval_demo", "sampling_interval_weight_demo"),
            _trainings_with(GUIDANCE_INTERVAL_INTRO)),
    Section("sampling-sde", "Stochastic sampling (an SDE with the flow's marginals) on three 15-minute trainings",
            "bench/bench_sampling.py", ("sampling_sde_demo", "sampling_sde_demo_more", "sampling_sde_s0",
                                        "sampling_sde_small"), _trainings_with(SAMPLING_SDE_INTRO)),
    Section("guidance-columns", "Guidance on the geometry columns only", "bench/bench_sampling.py",
            ("sampling_columns_demo",), guidance_columns),
    Section("sampling-spread", "The same sampling at a second sample seed", "bench/bench_sampling.py --seed 1",
            ("sampling_sde_demo_seed1",), sampling_spread),
    Section("solvers-gmm", "Few-step solvers on an analytic flow", "bench/bench_solvers.py", ("bench_solvers",),
            solvers_gmm),
    Section("solvers-model", "Few-step solvers on a cpu-small demo model (CPU)", "bench/bench_solvers.py --run",
            MODEL_SOLVER_FILES, solvers_model),
    Section("generate", "Generation time", "bench/bench_generate.py", ("bench_generate",), generate),
    Section("evaluate", "Chamfer matrix for the generation metrics", "bench/bench_evaluate.py", ("evaluate",),
            evaluate),
    Section("dflow", "D-Flow shape completion", "bench/bench_dflow.py", ("bench_dflow",), dflow),
    Section("dflow-halves", "D-Flow: completing held-out half chairs and tables", "bench/bench_dflow.py --classes",
            ("dflow_halves",), dflow),
    Section("gpu-train", "GPU: training throughput", "scripts/gpu_checks.sh (bench/bench_train.py)", ("h200/train",),
            gpu_train),
    Section("gpu-solvers", "GPU: learned solvers", "scripts/gpu_checks.sh (bench/bench_solvers.py)",
            ("h200/solvers_bns2000", "h200/solvers_bns1000", "h200/solvers_bns_nfes"), gpu_solvers),
    Section("gpu-generate", "GPU: generation time", "scripts/gpu_checks.sh (bench/bench_generate.py)",
            ("h200/generate",), generate),
    Section("gpu-evaluate", "GPU: Chamfer matrix", "scripts/gpu_checks.sh (bench/bench_evaluate.py)",
            ("h200/evaluate",), evaluate),
    Section("gpu-dflow", "GPU: D-Flow", "scripts/gpu_checks.sh (bench/bench_dflow.py)", ("h200/dflow",), dflow),
    Section("gpu-visco", "GPU: VisCo", "scripts/gpu_checks.sh (bench/bench_visco.py)", ("h200/visco",), gpu_visco),
    Section("demo", "The demo run", "msdf demo", ("demo_metrics",), demo,
            missing="No demo run is recorded yet: after `bash scripts/demo.sh` (or `msdf demo`), run "
                    "`python bench/bench_flow_e2e.py --demo demo_output` (it saves the demo's `metrics.json` as "
                    "`bench/results/demo_metrics.json`) and `python bench/render_docs.py`."),
]
