"""Generation speed: the full ``msdf generate`` pipeline (ODE, decode, render, files) and batched vs one-at-a-time ODE.

Acceptance (issue 6): 4 samples at 256^3 with midpoint at 32 NFE on the cpu-small model in <= 30 s on the CPU.

Rows (median of --repeats runs, same model, same seeds):
* ``ode batched``      the K samples through the ODE together (what ``msdf generate`` does);
* ``ode sequential``   baseline: the same K samples solved one at a time;
* ``generate total``   :func:`msdf.generate.generate` end to end (model already loaded), with its breakdown.

Without --run the script trains a model of the cpu-small architecture for a few steps on analytic sphere M-SDFs
(256 grids, k = 5, like a ``--grids 256 --k 5`` store) into a temporary folder: the ODE cost depends only on the
architecture; decode/render costs depend on the shapes, so re-run with the real model for the acceptance figure.

    python bench/bench_generate.py --run runs/cpu-small
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.results_io import write_result  # noqa: E402
from msdf.flow.sampler import Restart  # noqa: E402
from msdf.generate import generate, make_solver  # noqa: E402


def sphere_store(count: int, n: int = 256, k: int = 5, half_width: float = 0.12, seed: int = 0):
    """An ArrayStore of exact sphere M-SDFs (radii 0.4-0.85, grids on the surface) with labels small/large."""
    from msdf.flow.dataset import ArrayStore

    g = np.random.default_rng(seed)
    off = np.stack(np.meshgrid(*[np.linspace(-1, 1, k)] * 3, indexing="ij"), -1).reshape(-1, 3)
    mats, labels = [], []
    for i in range(count):
        r = g.uniform(0.4, 0.85)
        d = g.normal(size=(n, 3))
        c = d / np.linalg.norm(d, axis=1, keepdims=True) * r
        s = np.full(n, half_width)
        v = np.linalg.norm(c[:, None] + s[:, None, None] * off[None], axis=2) - r
        mats.append(np.concatenate([c, s[:, None], v], 1))
        labels.append("large" if r > 0.6 else "small")
    return ArrayStore(np.stack(mats).astype(np.float32), k, labels=labels)


def fallback_run(root: Path, steps: int) -> Path:
    from msdf.flow.config import build_config
    from msdf.flow.trainer import train

    cfg = build_config("cpu-small", overrides={"steps": steps, "ckpt_every": steps, "val_fraction": 0.0})
    train(sphere_store(32), cfg, root / "run", quiet=True)
    return root / "run"


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", default=None, help="trained run (default: a briefly trained cpu-small-sized model)")
    ap.add_argument("--prompt", default="a chair with armrests", help="prompt for a text-conditioned --run")
    ap.add_argument("--fallback-steps", type=int, default=50)
    ap.add_argument("-n", type=int, default=4, help="samples (default 4)")
    ap.add_argument("--solver", default="midpoint")
    ap.add_argument("--nfe", type=int, default=32)
    ap.add_argument("--resolution", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-render", action="store_true", help="skip the PNG renders (e.g. where Open3D is missing)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_generate.json"))
    args = ap.parse_args()

    from msdf.flow.sampler import FlowSampler

    with tempfile.TemporaryDirectory() as tmp:
        run = args.run or str(fallback_run(Path(tmp), args.fallback_steps))
        sampler = FlowSampler.load(run, args.device)
        cls = sampler.class_names[:1] * args.n if sampler.cond_type == "class" else None
        prompt = args.prompt if sampler.cond_type == "text" else ""
        prompts = None if cls is not None else [prompt] * args.n
        solver = make_solver(args.solver, args.nfe)
        seeds = list(range(args.n))

        def ode(batch_size: int):
            return sampler.sample(sampler.condition(prompts=prompts, classes=cls), seeds, solver,
                                  batch_size=batch_size, quiet=True, restart=Restart(0))  # the ODE at --nfe only

        load_before = os.getloadavg()[0]
        t_batched, _ = median_time(lambda: ode(args.n), args.repeats)
        t_seq, _ = median_time(lambda: ode(1), args.repeats)
        breakdowns = []

        def full():
            res = generate(sampler, Path(tmp) / "out", classes=sampler.class_names[:1] if cls else None,
                           prompts=[prompt] if sampler.cond_type == "text" else None,
                           num_samples=args.n, solver=args.solver, nfe=args.nfe, resolution=args.resolution,
                           render=not args.no_render, quiet=True, restart=Restart(0))  # the ODE at --nfe only
            breakdowns.append(res.timings)
            return res

        t_total, res = median_time(full, args.repeats)
        failed = sum("error" in s for s in res.samples)
    keys = ("ode_s", "decode_s", "render_s", "total_s")
    breakdown = {k: statistics.median(b.get(k, float("nan")) for b in breakdowns) for k in keys}
    rows = [{"name": "ode batched", "time_s": t_batched}, {"name": "ode sequential (baseline)", "time_s": t_seq},
            {"name": "generate total", "time_s": t_total, **{f"median_{k}": v for k, v in breakdown.items()}}]
    print(f"model: {args.run or 'cpu-small architecture, briefly trained on spheres (fallback)'}; "
          f"{args.n} samples, {args.solver} {args.nfe} NFE, {args.resolution}^3, device {args.device}")
    print(f"{'step':<28} {'median s':>9}")
    for r in rows:
        print(f"{r['name']:<28} {r['time_s']:>9.2f}")
    print("generate breakdown (median s): " + ", ".join(f"{k} {v:.2f}" for k, v in breakdown.items()))
    print(f"batched ODE speed-up over one-at-a-time: {t_seq / t_batched:.2f}x; failed samples: {failed}; "
          f"acceptance (<= 30 s): {'PASS' if t_total <= 30 else 'FAIL'}")
    write_result(args.out, {"args": vars(args), "rows": rows, "failed_samples": failed,
                            "load_average_1min_before": load_before})


if __name__ == "__main__":
    main()
