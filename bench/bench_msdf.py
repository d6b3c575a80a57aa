"""Main Mosaic-SDF benchmark: mesh -> representation -> mesh fidelity and timings, against a dense SDF grid.

For each mesh (default: every file in ``../shared/meshes/watertight``) and three methods with the same parameter count:

* ``dense71``  — the exact oracle SDF on a 71^3 lattice over the unit-frame domain [-1, 1]^3 (71^3 = 357,911 values
  ~ 1024 x 347), marching cubes (scikit-image);
* ``msdf``     — :func:`msdf.encode` with ``refine_steps=0`` (FPS centres, shared covering half-width, exact values);
* ``msdf+ref`` — :func:`msdf.encode` with the default refinement;

M-SDFs are decoded with :func:`msdf.decode` at ``--resolution`` (256). Fidelity (:func:`msdf.metrics.fidelity`,
metric frame of the mesh, exact point-to-mesh distances): Chamfer-L1, F-score@0.01, normal consistency, IoU.
Prints a per-mesh table and the medians, checks the issue-2 targets, and writes ``bench/results/msdf.json``.

    python bench/bench_msdf.py                      # all watertight meshes
    python bench/bench_msdf.py --limit 6            # the first 6
    python bench/bench_msdf.py --meshes cow.off pinion.off --refine-steps 500

Timings on a shared machine are inflated by contention; compare medians on a quiet machine.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import trimesh
from skimage import measure
from tqdm.auto import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.results_io import write_result  # noqa: E402
from msdf.decoder import decode  # noqa: E402
from msdf.encoder import encode  # noqa: E402
from msdf.meshio import load_mesh  # noqa: E402
from msdf.metrics import fidelity  # noqa: E402
from msdf.normalization import Normalization  # noqa: E402
from msdf.oracle import SDFOracle  # noqa: E402
from msdf.refine import DEFAULT_REFINE_STEPS  # noqa: E402

DEFAULT_DIR = REPO.parent / "shared" / "meshes" / "watertight"
METRICS = ("chamfer_l1", "fscore", "normal_consistency", "iou")


def dense_grid(mesh: trimesh.Trimesh, res: int) -> tuple[trimesh.Trimesh, float]:
    """Baseline: exact SDF on a res^3 lattice over the unit-frame domain [-1, 1]^3, marching cubes. Returns
    the mesh (user frame) and the encode time."""
    t0 = time.perf_counter()
    norm = Normalization.fit(mesh.vertices)
    oracle = SDFOracle(trimesh.Trimesh(norm.to_unit(np.asarray(mesh.vertices)), mesh.faces, process=False))
    t = np.linspace(-1.0, 1.0, res)
    nodes = np.stack(np.meshgrid(t, t, t, indexing="ij"), axis=-1).reshape(-1, 3)
    volume = oracle(nodes).reshape(res, res, res)
    seconds = time.perf_counter() - t0
    verts, faces, _, _ = measure.marching_cubes(volume, 0.0, spacing=(2.0 / (res - 1),) * 3,
                                                gradient_direction="descent")
    return trimesh.Trimesh(norm.to_user(verts - 1.0), faces), seconds


def run_mesh(path: Path, args) -> dict:
    mesh = load_mesh(path)
    row: dict = {"mesh": path.name, "faces": int(len(mesh.faces))}
    dense, t_dense = dense_grid(mesh, args.dense_res)
    row["dense71"] = {"encode_s": t_dense, **fidelity(dense, mesh, args.points, seed=args.seed)}
    for name, steps in (("msdf", 0), ("msdf+ref", args.refine_steps)):
        t0 = time.perf_counter()
        m = encode(mesh, n_grids=args.grids, k=args.k, refine_steps=steps, seed=args.seed, device=args.device)
        t_enc = time.perf_counter() - t0
        t0 = time.perf_counter()
        rec = decode(m, resolution=args.resolution, device=args.device)
        t_dec = time.perf_counter() - t0
        row[name] = {"encode_s": t_enc, "init_s": m.info["init_seconds"], "refine_s": m.info["refine_seconds"],
                     "decode_s": t_dec, "coverage": m.info["coverage"], "half_width": m.info["half_width"],
                     "refine_loss": m.info["refine_loss"], **fidelity(rec, mesh, args.points, seed=args.seed)}
    return row


def median(rows: list[dict], method: str, key: str) -> float:
    return float(statistics.median(r[method][key] for r in rows))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="folder of meshes (default: shared watertight)")
    ap.add_argument("--meshes", nargs="*", help="file names inside --dir (default: all)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N meshes (sorted by name)")
    ap.add_argument("--grids", type=int, default=1024)
    ap.add_argument("--k", type=int, default=7)
    ap.add_argument("--refine-steps", type=int, default=DEFAULT_REFINE_STEPS)
    ap.add_argument("--resolution", type=int, default=256, help="decode resolution")
    ap.add_argument("--dense-res", type=int, default=71)
    ap.add_argument("--points", type=int, default=100_000, help="samples per fidelity metric")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "msdf.json")
    args = ap.parse_args(argv)

    files = sorted(p for p in args.dir.iterdir() if p.is_file() and not p.name.startswith("."))
    if args.meshes:
        files = [args.dir / m for m in args.meshes]
    files = files[: args.limit] if args.limit else files
    rows = [run_mesh(p, args) for p in tqdm(files, desc="meshes", unit="mesh")]

    methods = ("dense71", "msdf", "msdf+ref")
    print(f"\n{'mesh':18s} {'method':9s} {'enc s':>7s} {'init':>6s} {'refine':>6s} {'dec256':>6s} "
          f"{'chamfer':>9s} {'F@.01':>6s} {'NC':>6s} {'IoU':>6s}")
    for r in rows:
        for m in methods:
            d = r[m]
            print(f"{r['mesh'][:18]:18s} {m:9s} {d['encode_s']:7.2f} {d.get('init_s', float('nan')):6.2f} "
                  f"{d.get('refine_s', float('nan')):6.2f} {d.get('decode_s', float('nan')):6.2f} "
                  f"{d['chamfer_l1']:9.6f} {d['fscore']:6.4f} {d['normal_consistency']:6.4f} {d['iou']:6.4f}")
    medians = {m: {k: median(rows, m, k) for k in ("encode_s",) + METRICS} for m in methods}
    for m in ("msdf", "msdf+ref"):
        medians[m].update({k: median(rows, m, k) for k in ("init_s", "refine_s", "decode_s", "coverage")})
    print("\nmedians")
    for m in methods:
        print(f"  {m:9s} " + "  ".join(f"{k}={v:.6g}" for k, v in medians[m].items()))

    ref, base, dense = medians["msdf+ref"], medians["msdf"], medians["dense71"]
    targets = {
        "chamfer <= 0.5 x dense71 (median)": ref["chamfer_l1"] <= 0.5 * dense["chamfer_l1"],
        "no mesh worse than dense71 (chamfer)": all(r["msdf+ref"]["chamfer_l1"] <= r["dense71"]["chamfer_l1"]
                                                    for r in rows),
        "fscore >= dense71 (median)": ref["fscore"] >= dense["fscore"],
        "refinement lowers median chamfer >= 10%": ref["chamfer_l1"] <= 0.9 * base["chamfer_l1"],
        "encode with refinement <= 10 s (median)": ref["encode_s"] <= 10.0,
        "decode 256^3 <= 2 s (median)": ref["decode_s"] <= 2.0,
        "coverage == 1 on every mesh": all(r["msdf+ref"]["coverage"] == 1.0 for r in rows),
    }
    print("\ntargets (issue 2)")
    for k, ok in targets.items():
        print(f"  [{'ok' if ok else 'MISS'}] {k}")
    result = {"config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "machine": {"platform": platform.platform(), "cpus": torch.get_num_threads(),
                          "note": "timings inflated if the machine was shared"},
              "rows": rows, "medians": medians, "targets": targets}
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
