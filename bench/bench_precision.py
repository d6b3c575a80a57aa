"""Benchmark of CPU training precision: float32 (baseline) against bfloat16 autocast, with and without torch.compile.

For each CPU preset (``cpu-small``, ``cpu-medium``) at the demo's representation (n = 256 grids of k = 5, rows of
4 + 125) and the preset's own batch, ``msdf.flow.trainer.train`` first runs S steps once from scratch in each mode
(the *first* run: in a compile mode it compiles with torch's kernel caches empty, a fresh cache folder per bench
run), then, ``--repeats`` times, S and 2 S steps from scratch. The difference of those two wall times is the
steady-state cost of S steps:

    samples/s = S * batch / (T(2 S) - T(S))                      (median over the repeats)
    warm-up s = T(S) - S * batch / (samples/s)                   (start-up; median over the repeats)
    first-run warm-up s = T_first(S) - S * batch / (samples/s)   (what a first compile adds)

S is 160 steps for cpu-small and 60 for cpu-medium (each S-step run lasts several seconds), or ``--steps``.
bf16 pays only on CPUs with native bf16 (AVX512-BF16 or AMX: ``msdf.flow.precision``);
elsewhere the bf16 rows run in float32 and the file says so (``native_bf16``). The data are standard-normal
matrices with class labels (the text encoder adds a fixed start-up cost, not a per-step one); the field loss is on,
as in both presets.

Attention alone (``--attention``): forward + backward seconds of ``msdf.flow.model.attention``'s two kernels, the
explicit ``softmax(q k^T / sqrt d) v`` against ``F.scaled_dot_product_attention`` (the baseline), in float32 and
bfloat16, at n = 128 ... 1024 rows for the CPU presets' head size (batch 8, 6 heads of 32) and the paper preset's (16
heads of 64, batch 2); median of 20 after 5 warm-up calls. This is what sets
``msdf.flow.model.EXPLICIT_ATTENTION_MAX_ROWS``.

Writes ``bench/results/precision.json`` and prints tables. Timings on a shared machine are inflated; compare rows.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results_io import write_result  # noqa: E402
from msdf.flow.config import build_config  # noqa: E402
from msdf.flow.dataset import ArrayStore  # noqa: E402
from msdf.flow.model import EXPLICIT_ATTENTION_MAX_ROWS, explicit_attention  # noqa: E402
from msdf.flow.precision import native_bf16  # noqa: E402
from msdf.flow.trainer import train  # noqa: E402

N, K = 256, 5
MODES = {"float32": {"bf16": False, "compile": False}, "float32 + compile": {"bf16": False, "compile": True},
         "bf16": {"bf16": True, "compile": False}, "bf16 + compile": {"bf16": True, "compile": True}}


def timed_train(store: ArrayStore, preset: str, mode: str, steps: int, seed: int) -> float:
    """Wall seconds of a fresh ``train`` of ``steps`` steps of ``preset`` in ``mode`` (no checkpoints on the way)."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = build_config(preset, overrides={**MODES[mode], "steps": steps, "val_fraction": 0.0,
                                              "ckpt_every": 10 ** 9, "seed": seed})
        t0 = time.perf_counter()
        train(store, cfg, Path(tmp) / "run", quiet=True)
        return time.perf_counter() - t0


STEPS = {"cpu-small": 160, "cpu-medium": 60}


def random_store() -> ArrayStore:
    """16 standard-normal matrices at the demo's representation (n x (4 + k^3)) with two class labels: timing data
    (what a step costs does not depend on the values)."""
    return ArrayStore(np.random.default_rng(0).normal(size=(16, N, 4 + K ** 3)).astype(np.float32), K,
                      labels=["a", "b"] * 8)


def measure(presets: list[str], modes: list[str], steps: int | None, repeats: int) -> list[dict]:
    """One row per preset and mode (``modes``: keys of MODES, float32 first): steady-state samples/s, warm-up
    seconds (module doc), all repeats."""
    rows = []
    store = random_store()
    for preset in presets:
        batch, s = build_config(preset).batch_size, steps or STEPS.get(preset, 60)
        for mode in modes:
            first = timed_train(store, preset, mode, s, 0)
            rates, warmups = [], []
            for r in range(repeats):
                short, long = (timed_train(store, preset, mode, n, r) for n in (s, 2 * s))
                rates.append(s * batch / (long - short))
                warmups.append(short - s * batch / rates[-1])
            rate = statistics.median(rates)
            rows.append({"preset": preset, "mode": mode, "batch": batch, "steps": s, "samples_per_s": rate,
                         "warmup_s": statistics.median(warmups), "first_warmup_s": first - s * batch / rate,
                         "all_samples_per_s": rates, "all_warmup_s": warmups})
            print(f"  {preset:10s} {mode:17s} {rate:7.1f} samples/s  warm-up {rows[-1]['warmup_s']:5.1f} s, first "
                  f"run {rows[-1]['first_warmup_s']:5.1f} s  (median of {repeats})", flush=True)
    for row in rows:
        base = next(r for r in rows if r["preset"] == row["preset"] and r["mode"] == "float32")
        row["speedup"] = row["samples_per_s"] / base["samples_per_s"]
    return rows


ATTENTION_SHAPES = [(8, 6, n, 32) for n in (128, 256, 512, 1024)] + [(2, 16, n, 64) for n in (256, 512, 1024)]


def attention_times(repeats: int = 20, warmup: int = 5) -> list[dict]:
    """Milliseconds per forward + backward of both kernels (module doc) for every shape and dtype."""
    rows = []
    kernels = {"explicit": explicit_attention, "fused (SDPA)": F.scaled_dot_product_attention}
    for shape in ATTENTION_SHAPES:
        for dtype in (torch.float32, torch.bfloat16):
            gen = torch.Generator().manual_seed(0)
            q, k, v, grad = (torch.randn(shape, generator=gen).to(dtype) for _ in range(4))
            ms = {}
            for name, fn in kernels.items():
                leaves = [x.clone().requires_grad_() for x in (q, k, v)]
                times = []
                for i in range(warmup + repeats):
                    t0 = time.perf_counter()
                    fn(*leaves).backward(grad)
                    times.append(time.perf_counter() - t0)
                ms[name] = 1e3 * statistics.median(times[warmup:])
            b, h, n, d = shape
            rows.append({"batch": b, "heads": h, "n": n, "head_dim": d, "dtype": str(dtype).removeprefix("torch."),
                         "explicit_ms": ms["explicit"], "fused_ms": ms["fused (SDPA)"]})
            print(f"  B {b:2d} heads {h:2d} n {n:4d} d {d:2d} {rows[-1]['dtype']:8s}: explicit "
                  f"{ms['explicit']:7.2f} ms, fused {ms['fused (SDPA)']:7.2f} ms", flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="*", default=["cpu-small", "cpu-medium"])
    ap.add_argument("--steps", type=int, default=None,
                    help="S, steps of the short run (the long one runs twice as many; default per preset)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--modes", nargs="*", choices=list(MODES), default=list(MODES),
                    help="modes to time (float32, the baseline, always runs)")
    ap.add_argument("--attention", action=argparse.BooleanOptionalAction, default=True,
                    help="also time the two attention kernels")
    ap.add_argument("--out", default="precision")
    args = ap.parse_args()
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-precision-inductor-")  # a cold first run
    native = native_bf16(torch.device("cpu"))
    print(f"CPU training precision ({torch.get_num_threads()} threads, native bf16: {native}):")
    rows = measure(args.presets, ["float32"] + [m for m in args.modes if m != "float32"], args.steps,
                   args.repeats)
    print(f"{'preset':10s} {'mode':17s} {'samples/s':>9s} {'speed-up':>8s} {'warm-up s':>9s} {'first run':>9s}")
    for r in rows:
        print(f"{r['preset']:10s} {r['mode']:17s} {r['samples_per_s']:9.1f} {r['speedup']:7.2f}x {r['warmup_s']:9.1f} "
              f"{r['first_warmup_s']:9.1f}")
    attention = None
    if args.attention:
        print("attention, forward + backward:")
        attention = attention_times()
    write_result(args.out, {"threads": torch.get_num_threads(), "native_bf16": native,
                            "n": N, "k": K, "rows": rows, "attention": attention,
                            "explicit_attention_max_rows": EXPLICIT_ATTENTION_MAX_ROWS,
                            "note": "timings on a shared machine are inflated; compare rows of the same run"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
