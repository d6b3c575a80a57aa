"""Benchmark the encoder's optimiser: ``msdf.adam.adam_minimize`` vs ``torch.optim.Adam`` (the baseline).

Two measurements, same problem for both:

* cold start: a fresh Python process imports the encoder's modules and runs one optimiser step on a small tensor:
  wall time of the whole process (what a new preprocessing worker pays once; ``torch.optim`` imports
  ``torch._dynamo`` on first use), median of ``--repeats``;
* per step: full-batch steps on a refinement-sized problem (``--size`` values, sparse L1 data term), ms per step,
  median of ``--repeats`` after one warm-up run; and the largest difference between the two final iterates (they
  follow the same formula).

    python bench/bench_adam.py --repeats 5

Writes ``bench/results/adam.json``.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.results_io import write_result  # noqa: E402
from msdf.adam import adam_minimize  # noqa: E402
from msdf.refine import SparseOperator  # noqa: E402

COLD = {
    "torch.optim.Adam": ("import msdf.encoder, torch; x = torch.zeros(8, requires_grad=True); "
                         "o = torch.optim.Adam([x], lr=0.1); (x - 1).pow(2).sum().backward(); o.step()"),
    "msdf.adam": ("import msdf.encoder, torch; from msdf.adam import adam_minimize; "
                  "adam_minimize(lambda x: (x - 1).pow(2).sum(), torch.zeros(8), 1, 0.1)"),
}


def cold_start(code: str, repeats: int) -> float:
    """Median wall seconds of ``python -c code`` in a fresh process."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def problem(size: int, seed: int = 0):
    """Refinement's data term on random data: loss(x) = mean |A x - b|, A sparse (0.4 size, size) with 40 non-zeros
    per row, applied with the encoder's :class:`msdf.refine.SparseOperator`."""
    rng = np.random.default_rng(seed)
    rows = 4 * size // 10
    vals = rng.random(40 * rows) / 40
    cols = rng.integers(size, size=40 * rows)
    A = sp.csr_matrix((vals, (np.repeat(np.arange(rows), 40), cols)), shape=(rows, size))
    op = SparseOperator(A, torch.device("cpu"))
    b = torch.from_numpy(rng.standard_normal(rows).astype(np.float32))
    return lambda x: (op(x) - b).abs().mean()


def torch_adam(loss, x0: torch.Tensor, steps: int, lr: float) -> torch.Tensor:
    x = x0.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss(x).backward()
        opt.step()
    return x.detach()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--size", type=int, default=1024 * 7**3, help="optimised values (default n=1024, k=7)")
    ap.add_argument("--steps", type=int, default=50)
    args = ap.parse_args()
    cold = {name: cold_start(code, args.repeats) for name, code in COLD.items()}
    loss = problem(args.size)
    x0 = torch.zeros(args.size)
    step_ms, finals = {}, {}
    for name, fn in (("torch.optim.Adam", lambda: torch_adam(loss, x0, args.steps, 5e-3)),
                     ("msdf.adam", lambda: adam_minimize(loss, x0, args.steps, 5e-3))):
        fn()  # warm-up: first-use imports are the cold-start column's business
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            finals[name] = fn()
            times.append(time.perf_counter() - t0)
        step_ms[name] = 1e3 * statistics.median(times) / args.steps
    diff = float((finals["torch.optim.Adam"] - finals["msdf.adam"]).abs().max())
    print(f"optimiser cold start and step cost, {args.size} values, {args.steps} steps, "
          f"torch threads {torch.get_num_threads()}, median of {args.repeats}")
    print(f"{'optimiser':<18} {'cold start s':>12} {'ms/step':>9}")
    for name in COLD:
        print(f"{name:<18} {cold[name]:>12.2f} {step_ms[name]:>9.2f}")
    print(f"cold start saved: {cold['torch.optim.Adam'] - cold['msdf.adam']:.2f} s; "
          f"max |x_torch - x_ours| after {args.steps} steps: {diff:.1e}")
    write_result("adam", {"date": time.strftime("%Y-%m-%d"), "machine": platform.platform(),
                          "cpus": torch.get_num_threads(), "repeats": args.repeats, "size": args.size,
                          "steps": args.steps, "cold_start_s": cold, "ms_per_step": step_ms, "max_abs_diff": diff})


if __name__ == "__main__":
    main()
