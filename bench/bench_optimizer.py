"""Benchmark of the per-step bookkeeping of training: torch's fused AdamW and one foreach EMA lerp (what
``msdf.flow.trainer`` runs) against the baseline, torch's default AdamW on the CPU (a Python loop of small kernels
per parameter tensor) and an EMA that lerps each parameter tensor in its own call (the trainer before them).

1. The update alone, on each preset's model (``cpu-small``, ``cpu-medium``, ``paper``; float32 parameters with
   random gradients): milliseconds of one ``AdamW.step`` and of one EMA update, median of ``--repeats`` blocks of
   ``--block-s`` seconds each after one warm-up call.
2. Inside training: runs of ``--train-steps`` steps of the CPU presets at the demo's representation (n = 256 grids
   of 5^3, each preset in its own precision: ``cpu-medium`` in bf16 where the CPU has it natively) by
   :func:`bench.bench_precision.timed_train`, the baseline (the same trainer with the two updates swapped back in)
   and the trainer alternating, ``--repeats`` times. Per run: milliseconds per whole step (the first optimiser
   step's start to the last one's end, over steps - 1) and per update (the AdamW step, timed by torch's global
   optimiser hooks, plus the EMA update); medians of the runs. The update's milliseconds are timed call by call;
   the whole step's carry the machine's noise.

Writes ``bench/results/optimizer.json`` (or ``--out``) and prints tables. Timings on a shared machine are inflated;
compare rows of the same run.
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import torch
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_precision import K, N, random_store, timed_train  # noqa: E402
from bench.results_io import write_result  # noqa: E402
from msdf.flow import checkpoint as ckpt  # noqa: E402
from msdf.flow.config import build_config  # noqa: E402
from msdf.flow.ema import EMA  # noqa: E402


class LoopAdamW(torch.optim.AdamW):
    """The baseline optimiser: torch's AdamW with its per-tensor loop whatever the caller asks for."""

    def __init__(self, params, **kwargs):
        super().__init__(params, **{**kwargs, "fused": None, "foreach": False})


@torch.no_grad()
def loop_ema_update(ema: EMA, model: torch.nn.Module, step: int) -> None:
    """The baseline EMA update: one lerp call per parameter tensor, buffers copied."""
    d = ema.current_decay(step)
    for e, p in zip(ema.module.parameters(), model.parameters()):
        e.lerp_(p.detach(), 1.0 - d)
    for e, b in zip(ema.module.buffers(), model.buffers()):
        e.copy_(b)


@contextlib.contextmanager
def baseline_updates() -> Iterator[None]:
    """Within the block the trainer builds :class:`LoopAdamW` and updates its EMA with :func:`loop_ema_update`."""
    adamw, update = torch.optim.AdamW, EMA.update
    torch.optim.AdamW, EMA.update = LoopAdamW, loop_ema_update
    try:
        yield
    finally:
        torch.optim.AdamW, EMA.update = adamw, update


def ms_per_call(fn: Callable[[], None], block_s: float, repeats: int) -> float:
    """Median over ``repeats`` blocks of the milliseconds per call of ``fn``; a block calls it until ``block_s``
    seconds have passed (at least once), after one warm-up call."""
    fn()
    blocks = []
    for _ in range(repeats):
        calls, t0 = 0, time.perf_counter()
        while calls == 0 or time.perf_counter() - t0 < block_s:
            fn()
            calls += 1
        blocks.append(1e3 * (time.perf_counter() - t0) / calls)
    return statistics.median(blocks)


def update_times(presets: list[str], block_s: float, repeats: int) -> list[dict]:
    """One row per preset: parameter count and tensors, ms per AdamW step and per EMA update, both ways."""
    rows = []
    for preset in presets:
        cfg = build_config(preset, overrides={"cond": "text"})
        model = ckpt.build_model(cfg, {"dim": 4 + K ** 3, "n": N, "class_names": [], "text_dim": 384})
        params = list(model.parameters())
        gen = torch.Generator().manual_seed(0)
        for p in params:
            p.grad = 1e-3 * torch.randn(p.shape, generator=gen)
        kw = {"lr": 1e-4, "betas": (0.9, 0.999), "weight_decay": 0.0}
        ema = EMA(model, 0.995)
        ms = {"adamw_loop_ms": ms_per_call(LoopAdamW(params, **kw).step, block_s, repeats),
              "adamw_fused_ms": ms_per_call(torch.optim.AdamW(params, **kw, fused=True).step, block_s, repeats),
              "ema_loop_ms": ms_per_call(lambda: loop_ema_update(ema, model, 1000), block_s, repeats),
              "ema_foreach_ms": ms_per_call(lambda: ema.update(model, 1000), block_s, repeats)}
        rows.append({"preset": preset, "parameters": sum(p.numel() for p in params), "tensors": len(params), **ms})
        print(f"  {preset:10s} {rows[-1]['parameters'] / 1e6:7.2f} M in {len(params):3d} tensors: AdamW "
              f"{ms['adamw_loop_ms']:8.2f} -> {ms['adamw_fused_ms']:8.2f} ms, EMA {ms['ema_loop_ms']:7.2f} -> "
              f"{ms['ema_foreach_ms']:7.2f} ms", flush=True)
    return rows


@contextlib.contextmanager
def step_clock() -> Iterator[dict[str, float]]:
    """Within the block, every optimiser step and EMA update adds its wall time to ``clock["update_s"]``, and
    ``clock["first"]`` / ``clock["last"]`` hold the times of the first step's start and the last step's end."""
    clock = {"update_s": 0.0, "first": float("nan"), "last": float("nan"), "steps": 0}
    started = [0.0]

    def pre(opt, args, kwargs):
        started[0] = time.perf_counter()
        if clock["steps"] == 0:
            clock["first"] = started[0]

    def post(opt, args, kwargs):
        clock["last"] = time.perf_counter()
        clock["update_s"] += clock["last"] - started[0]
        clock["steps"] += 1

    update = EMA.update

    def timed_update(self, model, step):
        t0 = time.perf_counter()
        update(self, model, step)
        clock["update_s"] += time.perf_counter() - t0

    hooks = [register_optimizer_step_pre_hook(pre), register_optimizer_step_post_hook(post)]
    EMA.update = timed_update
    try:
        yield clock
    finally:
        EMA.update = update
        for h in hooks:
            h.remove()


def training_steps(presets: list[str], steps: int, repeats: int) -> list[dict]:
    """One row per CPU preset: milliseconds per whole training step and per update (AdamW step + EMA update) inside
    it, baseline and trainer (module doc); medians of the repeats."""
    store = random_store()
    rows = []
    for preset in presets:
        cfg = build_config(preset)
        mode = "bf16" if cfg.bf16 else "float32"
        runs: dict[str, list[tuple[float, float]]] = {"baseline": [], "trainer": []}
        for r in range(repeats):
            for name in runs:
                with baseline_updates() if name == "baseline" else contextlib.nullcontext(), step_clock() as clock:
                    timed_train(store, preset, mode, steps, r)
                # the first step's start to the last step's end spans steps - 1 whole steps
                runs[name].append((1e3 * (clock["last"] - clock["first"]) / (steps - 1),
                                   1e3 * clock["update_s"] / clock["steps"]))
        row = {"preset": preset, "mode": mode, "batch": cfg.batch_size, "steps": steps}
        for name, values in runs.items():
            row[f"{name}_step_ms"] = statistics.median(v[0] for v in values)
            row[f"{name}_update_ms"] = statistics.median(v[1] for v in values)
            row[f"all_{name}"] = values
        rows.append(row)
        print(f"  {preset:10s} {mode:8s} ms per step (update inside it): baseline {row['baseline_step_ms']:6.1f} "
              f"({row['baseline_update_ms']:5.2f}), trainer {row['trainer_step_ms']:6.1f} "
              f"({row['trainer_update_ms']:5.2f}), median of {repeats}", flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="*", default=["cpu-small", "cpu-medium", "paper"])
    ap.add_argument("--train-presets", nargs="*", default=["cpu-small", "cpu-medium"],
                    choices=["cpu-small", "cpu-medium"])
    ap.add_argument("--train-steps", type=int, default=150, help="steps of each timed training run")
    ap.add_argument("--block-s", type=float, default=0.5, help="seconds per timed block of the update alone")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default="optimizer")
    args = ap.parse_args()
    print(f"the update alone ({torch.get_num_threads()} threads), baseline -> trainer:")
    updates = update_times(args.presets, args.block_s, args.repeats)
    print("inside training:")
    inside = training_steps(args.train_presets, args.train_steps, args.repeats)
    write_result(args.out, {"threads": torch.get_num_threads(), "n": N, "k": K, "updates": updates,
                            "training": inside,
                            "note": "timings on a shared machine are inflated; compare rows of the same run"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
