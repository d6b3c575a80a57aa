"""Benchmark of flow-matching training: throughput (samples/s), the cost of the assignments behind the couplings,
and the multisample-FM (OT coupling) ablation.

1. Throughput of ``msdf.flow.trainer.train`` on ``--device`` (CPU by default), each preset in its own precision
   (``bf16``: ``paper`` autocasts where bf16 is native, ``msdf.flow.precision``; ``cpu-small`` is float32) for
   the ``cpu-small`` (n=256, k=5) and ``paper`` (n=1024, k=7) model sizes, independent coupling (baseline) vs exact
   OT coupling within each condition (``ot``) vs row alignment (``rows``: each sample's noise rows matched to its
   data rows, ``msdf.flow.coupling.align_rows``); median of ``--repeats``.
   The assignment alone: wall time per batch of ``ot_permutation`` (B x B) and ``align_rows`` (B times n x n, whole
   rows of 4 + k^3 columns) on standard-normal data at each size and at the preset's own batch (``paper``: 32),
   median of ``--repeats``; the baseline, independent coupling, costs nothing. ``scipy`` solves the assignment on
   the CPU whatever the training device, so this is also what it adds to a GPU step.
2. Ablation, same data, same seed, same number of steps, independent (baseline) vs OT coupling:
   validation loss (EMA), straightness of the learned flow ``E_k ||u(x_k, t_k) - (x_1 - x_0)||^2 / E||x_1 - x_0||^2``
   along Euler trajectories (0 = straight lines), and sample error vs NFE (RMS distance of Euler samples with NFE
   steps to a 128-step reference from the same noise, normalised space).  Data: ``--data STORE`` or, by default, an
   analytic toy store (spheres / boxes / tori as exact M-SDF rows: surface centres, analytic SDF values).

Writes ``bench/results/train.json`` and prints tables.  Timings on a shared machine are inflated; compare columns.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results_io import write_result  # noqa: E402
from msdf.flow.sampler import FlowSampler  # noqa: E402
from msdf.flow.config import build_config  # noqa: E402
from msdf.flow.coupling import align_rows, ot_permutation  # noqa: E402
from msdf.flow.dataset import ArrayStore  # noqa: E402
from msdf.flow.solvers import solve  # noqa: E402
from msdf.flow.trainer import train  # noqa: E402


def _sdf(kind: str, p: np.ndarray, a: float, b: float) -> np.ndarray:
    if kind == "sphere":
        return np.linalg.norm(p, axis=-1) - a
    if kind == "box":
        q = np.abs(p) - np.array([a, b, 0.5 * (a + b)])
        return np.linalg.norm(np.maximum(q, 0), axis=-1) + np.minimum(q.max(-1), 0)
    q = np.stack([np.linalg.norm(p[..., :2], axis=-1) - a, p[..., 2]], -1)  # torus in the xy plane
    return np.linalg.norm(q, axis=-1) - b


def toy_store(per_class: int, n: int, k: int, seed: int = 0) -> ArrayStore:
    """Exact M-SDF matrices of analytic shapes: centres = n surface points, one half-width, analytic SDF values."""
    rng = np.random.default_rng(seed)
    t = np.linspace(-1, 1, k)
    offs = np.stack(np.meshgrid(t, t, t, indexing="ij"), -1).reshape(-1, 3)
    mats, labels = [], []
    for kind in ("sphere", "box", "torus"):
        for _ in range(per_class):
            a, b = (rng.uniform(0.4, 0.8), rng.uniform(0.15, 0.3)) if kind == "torus" else rng.uniform(0.3, 0.8, 2)
            pts = rng.uniform(-1, 1, size=(20 * n, 3))
            for _ in range(30):  # project onto the zero level set by Newton steps on the analytic SDF
                g = np.stack([(_sdf(kind, pts + e, a, b) - _sdf(kind, pts - e, a, b)) / 2e-4
                              for e in np.eye(3) * 1e-4], -1)
                pts = pts - _sdf(kind, pts, a, b)[:, None] * g / np.maximum(np.linalg.norm(g, axis=-1,
                                                                                            keepdims=True) ** 2, 1e-9)
            centers = pts[rng.choice(len(pts), n, replace=False)]
            s = 0.15
            vals = _sdf(kind, centers[:, None, :] + s * offs[None], a, b)
            mats.append(np.concatenate([centers, np.full((n, 1), s), vals], 1))
            labels.append(kind)
    return ArrayStore(np.stack(mats).astype(np.float32), k, labels=labels)


SIZES = {"cpu-small": (256, 5), "paper": (1024, 7)}
COUPLINGS = {"independent": {}, "ot": {"ot_coupling": True}, "rows": {"row_alignment": True}}


def throughput(presets: list[str], repeats: int, steps: dict[str, int], batch: dict[str, int],
               device: str = "cpu") -> list[dict]:
    rows = []
    for preset in presets:
        n, k = SIZES[preset]
        store = ArrayStore(np.random.default_rng(0).normal(size=(8, n, 4 + k ** 3)).astype(np.float32), k,
                           labels=["a", "b"] * 4)
        for coupling, flags in COUPLINGS.items():
            sps = []
            for r in range(repeats):
                with tempfile.TemporaryDirectory() as tmp:
                    cfg = build_config(preset, overrides={"steps": steps[preset], "batch_size": batch[preset],
                                                          **flags, "val_fraction": 0.0,
                                                          "ckpt_every": 10 ** 9, "seed": r})
                    sps.append(train(store, cfg, Path(tmp) / "run", device=device, quiet=True).samples_per_s)
            rows.append({"preset": preset, "n": n, "k": k, "batch": batch[preset], "steps": steps[preset],
                         "coupling": coupling, "samples_per_s": statistics.median(sps), "all": sps})
            print(f"  {preset:9s} {coupling:11s} batch {batch[preset]:3d}: "
                  f"{statistics.median(sps):8.3f} samples/s (median of {repeats})", flush=True)
    return rows


def assignment_cost(presets: list[str], batches: dict[str, list[int]], repeats: int) -> list[dict]:
    """Seconds per batch of the two assignments (module doc, section 1) on (B, n, 4 + k^3) standard-normal data and
    noise; a fresh draw per repeat, median over ``repeats``."""
    rows = []
    for preset in presets:
        n, k = SIZES[preset]
        for b in batches[preset]:
            times: dict[str, list[float]] = {"ot": [], "rows": []}
            for r in range(repeats):
                gen = torch.Generator().manual_seed(r)
                x0, x1 = (torch.randn(b, n, 4 + k ** 3, generator=gen) for _ in range(2))
                for name, fn in (("ot", lambda: ot_permutation(x0, x1)), ("rows", lambda: align_rows(x0, x1))):
                    t0 = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - t0)
            rows.append({"preset": preset, "n": n, "k": k, "batch": b,
                         **{f"{name}_s": statistics.median(ts) for name, ts in times.items()},
                         "all": times})
            print(f"  {preset:9s} batch {b:3d}: ot {rows[-1]['ot_s']:.4f} s, rows {rows[-1]['rows_s']:.3f} s per "
                  f"batch (median of {repeats})", flush=True)
    return rows


@torch.no_grad()
def flow_metrics(run: Path, num: int, nfes: list[int], seed: int = 0) -> dict:
    s = FlowSampler.load(run)
    classes = s.class_names or [None]
    cond = s.condition(classes=[classes[i % len(classes)] for i in range(num)]) if s.class_names else None
    x0 = torch.randn(num, s.n, s.dim, generator=torch.Generator().manual_seed(seed))

    def vel(x, t):
        return s.velocity(x, t, cond, 1.0)

    ref = solve(vel, x0, "euler", 128, return_trajectory=True)
    traj = ref.trajectory
    u = (traj[1:] - traj[:-1]) * 128  # Euler: exactly u(x_k, t_k)
    chord = traj[-1] - traj[0]
    straight = ((u - chord[None]).pow(2).mean() / chord.pow(2).mean()).item()
    err = {str(m): (solve(vel, x0, "euler", m).x - ref.x).pow(2).mean().sqrt().item() for m in nfes}
    return {"straightness": straight, "rms_error_vs_nfe": err}


def ablation(store, steps: int, batch: int, width: int, depth: int, nfes: list[int], num: int) -> list[dict]:
    rows = []
    for ot in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            cfg = build_config(overrides={
                "model": {"width": width, "depth": depth, "heads": 4, "mlp_ratio": 2.0, "row_hidden": width},
                "steps": steps, "batch_size": batch, "lr": 1e-3, "warmup_steps": 20, "schedule": "constant",
                "ot_coupling": ot, "val_fraction": 0.15, "val_every": 10 ** 9, "ckpt_every": 10 ** 9,
                "ema_decay": 0.99, "cond": "class"})
            t0 = time.perf_counter()
            res = train(store, cfg, Path(tmp) / "run", quiet=True)
            wall = time.perf_counter() - t0
            m = flow_metrics(Path(tmp) / "run", num, nfes)
        rows.append({"coupling": "ot" if ot else "independent", "train_loss": res.loss, "val_loss": res.val_loss,
                     "train_seconds": wall, **m})
        print(f"  {'ot' if ot else 'indep':5s}: val loss {res.val_loss:.4f}  straightness {m['straightness']:.4f}  "
              + "  ".join(f"NFE{k}: {v:.4f}" for k, v in m["rms_error_vs_nfe"].items()), flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="M-SDF store for the ablation (default: analytic toy store)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--small-steps", type=int, default=4, help="throughput steps, cpu-small")
    ap.add_argument("--paper-steps", type=int, default=2, help="throughput steps, paper")
    ap.add_argument("--small-batch", type=int, default=16, help="cpu-small batch")
    ap.add_argument("--paper-batch", type=int, default=2, help="paper batch on CPU (the preset's 32 is for GPUs)")
    ap.add_argument("--device", default="cpu", help="throughput device (cpu, cuda)")
    ap.add_argument("--assignment-repeats", type=int, default=5,
                    help="repeats of the assignment timing at both sizes, whatever --presets says (0: skip)")
    ap.add_argument("--ablation-steps", type=int, default=600, help="0: skip the ablation")
    ap.add_argument("--ablation-batch", type=int, default=24)
    ap.add_argument("--presets", nargs="*", default=["cpu-small", "paper"], choices=["cpu-small", "paper"],
                    help="throughput presets (none: skip); paper on CPU costs minutes per step")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "train.json"))
    args = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    out: dict = {"device": args.device if args.device == "cpu" else torch.cuda.get_device_name(),
                 "threads": torch.get_num_threads(),
                 "note": "timings on a shared machine are inflated; compare columns of the same run"}
    if args.presets:
        print(f"train throughput ({out['device']}):")
        out["throughput"] = throughput(args.presets, args.repeats,
                                       {"cpu-small": args.small_steps, "paper": args.paper_steps},
                                       {"cpu-small": args.small_batch, "paper": args.paper_batch}, args.device)
    if args.assignment_repeats > 0:
        print("assignment cost (CPU, scipy):")
        batches = {"cpu-small": sorted({args.small_batch, build_config("cpu-small").batch_size}),
                   "paper": sorted({args.paper_batch, build_config("paper").batch_size})}
        out["assignment"] = assignment_cost(list(SIZES), batches, args.assignment_repeats)
    if args.ablation_steps > 0:
        if args.data:
            from msdf.data import MSDFStore

            store, width, depth, data_name = MSDFStore(args.data), 128, 4, args.data
        else:
            store, width, depth = toy_store(24, 64, 3), 96, 3
            data_name = "analytic toy store (3 classes x 24, n=64, k=3)"
        print(f"multisample FM ablation on {data_name}, {args.ablation_steps} steps:")
        out["ablation"] = {"data": data_name, "steps": args.ablation_steps, "batch": args.ablation_batch,
                           "rows": ablation(store, args.ablation_steps, args.ablation_batch, width, depth,
                                            [2, 4, 8, 16], 24)}
    write_result(args.out, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
