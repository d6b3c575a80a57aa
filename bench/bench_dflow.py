"""D-Flow shape completion vs plain conditional sampling, from half-view point clouds.

For each reference shape (unit frame: its own bounding box normalised like the training data) the observed part is
the half of its 2048 surface samples with x >= 0 (a view from +x). Two ways to produce a full shape, same class,
same seeds, same few-step solver:

* ``plain``  conditional sampling from the seed's noise (ignores the observation);
* ``dflow``  :func:`msdf.flow.dflow.complete`: the noise optimised so the field vanishes on the observed half.

Reported: Chamfer distance (squared-L2 convention of :mod:`msdf.evaluation`, unit frame, not renormalised: position
and size matter for a completion) between the decoded shape and the *full* reference cloud, the observation loss,
the :mod:`msdf.wholeness` of the raw decoded mesh (a failed decode counts as 0 and as a miss) and its class: the label
of the nearest reference by bbox-normalised Chamfer. A text model is conditioned on "a <label>".

    python bench/bench_dflow.py --run demo_output/run --reference demo_output/data/reference --classes chair table
    python bench/bench_dflow.py --run runs/cpu-small --reference data/synth-store --limit 16
    python bench/bench_dflow.py            # fallback: a small model trained here on spheres of varying radius
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench.results_io import write_result  # noqa: E402
from msdf.choices import GUIDANCE_DEFAULT  # noqa: E402
from msdf.evaluation import chamfer_matrix, load_reference, mesh_point_cloud, normalize_bbox  # noqa: E402
from msdf.flow.dflow import complete, observation_loss  # noqa: E402
from msdf.flow.solvers import solve  # noqa: E402
from msdf.normalization import Normalization  # noqa: E402
from msdf.wholeness import wholeness  # noqa: E402


def fallback(root: Path, steps: int):
    """A small class model trained on exact sphere M-SDFs (radius in [0.4, 0.85]) and half-sphere references."""
    from bench_generate import sphere_store

    from msdf.flow.config import TrainConfig
    from msdf.flow.trainer import train

    store = sphere_store(96, n=64, k=3, half_width=0.25)
    cfg = TrainConfig.from_dict({"model": {"width": 96, "depth": 3, "heads": 4, "mlp_ratio": 2.0, "row_hidden": 96},
                                 "steps": steps, "batch_size": 16, "lr": 1e-3, "warmup_steps": 20,
                                 "schedule": "constant", "ema_decay": 0.99, "ckpt_every": steps, "val_fraction": 0.0})
    train(store, cfg, root / "run", quiet=True)
    g = np.random.default_rng(1)
    clouds, labels = [], []
    for r in (0.45, 0.55, 0.7, 0.8):
        d = g.normal(size=(2048, 3))
        clouds.append(d / np.linalg.norm(d, axis=1, keepdims=True) * r)
        labels.append("large" if r > 0.6 else "small")
    return root / "run", torch.tensor(np.stack(clouds), dtype=torch.float32), labels, "unit"


def decoded_cloud(raw: torch.Tensor, resolution: int, seed: int) -> tuple[torch.Tensor | None, dict]:
    """(2048-point cloud or None, wholeness) of the raw decoded mesh of one matrix."""
    from msdf.decoder import decode_batch

    mesh = next(decode_batch(raw[None], resolution=resolution)).mesh
    cloud = None if mesh is None else torch.from_numpy(mesh_point_cloud(mesh, 2048, seed))
    return cloud, wholeness(mesh)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", default=None)
    ap.add_argument("--reference", default=None, help="store or mesh folder (with --run)")
    ap.add_argument("--limit", type=int, default=16, help="shapes (per class with --classes)")
    ap.add_argument("--classes", nargs="+", default=None, help="complete only references of these labels")
    ap.add_argument("--fallback-steps", type=int, default=400)
    ap.add_argument("--guidance", type=float, default=GUIDANCE_DEFAULT)
    ap.add_argument("--nfe", type=int, default=8, help="midpoint NFE of the differentiable solve")
    ap.add_argument("--steps", type=int, default=20, help="optimiser steps")
    ap.add_argument("--optimizer", default="lbfgs")
    ap.add_argument("--resolution", type=int, default=96)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_dflow.json"))
    args = ap.parse_args()

    from msdf.flow.sampler import FlowSampler

    with tempfile.TemporaryDirectory() as tmp:
        if args.run:
            if not args.reference:
                ap.error("--run needs --reference")
            run = args.run
            all_clouds, all_labels, _ = load_reference(args.reference, quiet=True)
            keep = [i for i, lab in enumerate(all_labels) if args.classes is None or lab in args.classes]
            if args.classes:
                keep = [i for c in args.classes for i in [j for j in keep if all_labels[j] == c][:args.limit]]
            else:
                keep = keep[:args.limit]
            clouds, labels = all_clouds[keep], [all_labels[i] for i in keep]
            ref_normed = normalize_bbox(all_clouds)
            frame = "fit"
        else:
            run, clouds, labels, frame = fallback(Path(tmp), args.fallback_steps)
            all_labels, ref_normed = labels, normalize_bbox(clouds)
        sampler = FlowSampler.load(run, args.device)
        solver = lambda v, x: solve(v, x, "midpoint", args.nfe)  # noqa: E731
        rows = []
        for i, full in enumerate(clouds):
            pts = full.numpy().astype(np.float64)
            norm = Normalization.fit(pts) if frame == "fit" else Normalization.identity()
            unit = torch.as_tensor(norm.to_unit(pts), dtype=torch.float32)
            observed = unit[unit[:, 0] >= 0][None].to(sampler.device)
            if sampler.cond_type == "class" and labels[i]:
                cond = sampler.condition(classes=[labels[i]])
            elif sampler.cond_type == "text" and labels[i]:
                cond = sampler.condition(prompts=[f"a {labels[i]}"])
            else:
                cond = sampler.condition()
            v = sampler.velocity_fn(cond, args.guidance)
            x0 = sampler.noise([i])
            t0 = time.perf_counter()
            with torch.no_grad():
                plain = sampler.denormalize(solver(v, x0).x)
            t_plain = time.perf_counter() - t0
            t0 = time.perf_counter()
            res = complete(v, solver, sampler.denormalize, x0, observed, sampler.k, steps=args.steps,
                           optimizer=args.optimizer, quiet=True)
            t_dflow = time.perf_counter() - t0
            completed = sampler.denormalize(res.x1).detach()
            row = {"index": i, "label": labels[i], "observed_points": int(observed.shape[1]),
                   "time_plain_s": t_plain, "time_dflow_s": t_dflow}
            for name, raw in (("plain", plain), ("dflow", completed)):
                with torch.no_grad():
                    row[f"obs_loss_{name}"] = float(observation_loss(raw.float(), observed, sampler.k)[0])
                cloud, whole = decoded_cloud(raw[0].float().cpu(), args.resolution, i)
                row[f"chamfer_{name}"] = (float("nan") if cloud is None else
                                          float(chamfer_matrix(cloud[None], unit[None])[0, 0]))
                row[f"wholeness_{name}"], row[f"components_{name}"] = whole["wholeness"], whole["components"]
                row[f"class_{name}"] = (None if cloud is None else
                                        all_labels[int(chamfer_matrix(normalize_bbox(cloud[None]), ref_normed).argmin())])
            rows.append(row)
            print(f"shape {i} ({labels[i]}): chamfer plain {row['chamfer_plain']:.4g} -> dflow "
                  f"{row['chamfer_dflow']:.4g}; obs loss {row['obs_loss_plain']:.4g} -> {row['obs_loss_dflow']:.4g}",
                  file=sys.stderr)

    def med(key):
        vals = [r[key] for r in rows if r[key] == r[key]]
        return statistics.median(vals) if vals else float("nan")

    summary = {k: med(k) for k in ("chamfer_plain", "chamfer_dflow", "obs_loss_plain", "obs_loss_dflow",
                                   "time_plain_s", "time_dflow_s", "wholeness_plain", "wholeness_dflow",
                                   "components_plain", "components_dflow")}
    for m in ("plain", "dflow"):
        summary[f"class_accuracy_{m}"] = sum(r[f"class_{m}"] == r["label"] for r in rows) / len(rows)
    # a failed decode (NaN Chamfer) is never a win
    wins = sum(r["chamfer_dflow"] < r["chamfer_plain"] or (r["chamfer_dflow"] == r["chamfer_dflow"]
                                                            and r["chamfer_plain"] != r["chamfer_plain"]) for r in rows)
    print(f"\nmodel: {args.run or 'fallback sphere model'}; {len(rows)} shapes; midpoint {args.nfe} NFE; "
          f"{args.optimizer} {args.steps} steps")
    print(f"{'method':<8} {'median Chamfer':>15} {'median obs loss':>16} {'median time s':>14} {'wholeness':>10} "
          f"{'components':>11} {'class acc.':>10}")
    for m in ("plain", "dflow"):
        print(f"{m:<8} {summary['chamfer_' + m]:>15.4g} {summary['obs_loss_' + m]:>16.4g} "
              f"{summary['time_' + m + '_s']:>14.2f} {summary['wholeness_' + m]:>10.3f} "
              f"{summary['components_' + m]:>11g} {100 * summary['class_accuracy_' + m]:>9.0f}%")
    print(f"D-Flow closer to the full shape than plain sampling on {wins}/{len(rows)} shapes")
    write_result(args.out, {"args": vars(args), "summary": summary, "wins": wins, "rows": rows})


if __name__ == "__main__":
    main()
