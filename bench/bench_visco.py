"""Benchmark VisCo Grids reconstruction and its two pipeline bridges.

1. ``points``: on the watertight meshes of /work/shared/meshes, 100k area-uniform points with normals, clean and with
   Gaussian noise of 0.5% of the longest side. VisCo (``--resolution``, default 256; also without normals with
   ``--no-normals-too``) against Open3D screened Poisson depth 8 and 9, both as Open3D returns it (``poisson9``) and
   with the lowest 2% density vertices trimmed (``poisson9-trim``), in the same run on the same points. The meshes the
   noise factor was calibrated on (``CALIBRATION``, the ``noise`` section) are left out unless
   ``--include-calibration``. Metrics: Chamfer-L1, F-score@0.01, normal consistency (``msdf.metrics.fidelity``: longest side
   -> [-1, 1], exact point-to-mesh distances) and seconds (VisCo split by level).
2. ``pointsets``: the oriented point sets of /work/shared/meshes/points (no ground-truth mesh), all points of each
   file (``--points`` does not apply): mean / 90% distance from the points to each reconstruction (fraction of the
   longest side), watertightness, seconds of every call.
   ``noise``: the noise-adaptive point weight's factor swept on clean/noisy points of the ``CALIBRATION`` meshes.
3. ``decode``: M-SDFs encoded from a few watertight meshes, decoded by marching cubes (``mc``) and by VisCo
   (``visco``), fidelity against the original mesh.
4. ``proxy``: open meshes made by cutting holes into watertight ones (faces within random balls removed); the sign of
   ``msdf.oracle.SDFOracle`` of the holed mesh vs of its watertight proxy, against the sign of the intact mesh, at
   uniform and near-surface query points (the plain path vs ``msdf preprocess --watertight-proxy``).
5. ``gather``: the hand-written gather of :mod:`viscogrid.grid` (backward by ``index_add_``) against plain
   indexing ``x[idx]`` (backward by accumulating ``index_put_``), forward + backward on a 256^3-sized band stencil.

    python bench/bench_visco.py                       # everything (hours under contention)
    python bench/bench_visco.py --limit 2 --sections points   # quick look

Prints one table per section and writes ``bench/results/visco.json``. Timings are wall-clock medians (``--repeats``).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import trimesh
from scipy.spatial import cKDTree
from tqdm.auto import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.results_io import write_result  # noqa: E402
from msdf.meshio import load_mesh  # noqa: E402
from msdf.sampling import sample_surface  # noqa: E402
from viscogrid import reconstruct  # noqa: E402
from viscogrid.pointio import load_points  # noqa: E402


def fidelity(*args, **kwargs) -> dict:
    """:func:`msdf.metrics.fidelity`, imported on first use (it needs Open3D; pointsets and gather do not)."""
    from msdf.metrics import fidelity as fid

    return fid(*args, **kwargs)

SHARED = Path("/work/shared/meshes")
NOISE = 0.005
SECTIONS = ("points", "noise", "pointsets", "decode", "proxy", "gather")
CALIBRATION = ("anchor_dense.off", "bicycle_wheel.stl")  # meshes Weights.noise_factor's default was chosen on


def poisson(points: np.ndarray, normals: np.ndarray, depth: int, trim: float = 0.0) -> trimesh.Trimesh:
    """Open3D screened Poisson at ``depth``, dropping the vertices of the lowest ``trim`` density quantile
    (0: Open3D's output as it is)."""
    import open3d as o3d

    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
    pcd.normals = o3d.utility.Vector3dVector(normals)
    mesh, density = o3d.geometry.TriangleMesh.create_from_point_cloud_poisson(pcd, depth=depth)
    density = np.asarray(density)
    if trim > 0:
        mesh.remove_vertices_by_mask(density < np.quantile(density, trim))
    return trimesh.Trimesh(np.asarray(mesh.vertices), np.asarray(mesh.triangles))


class Recorder:
    """Collects rows per section and rewrites the JSON file (atomically) after every row, so a partial run
    still leaves its measurements."""

    def __init__(self, path: str, header: dict):
        self.path, self.result = path, dict(header)

    def section(self, name: str):
        rows = self.result.setdefault(name, [])

        def emit(row: dict) -> None:
            rows.append(row)
            print(json.dumps(row), flush=True)
            self.save()

        return rows, emit

    def save(self) -> None:
        write_result(self.path, self.result, quiet=True)


def timed(fn, repeats: int):
    """(result of the last call, median seconds over ``repeats`` calls, seconds of every call in order)."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times), times


def methods(args) -> dict:
    """name -> fn(points, normals) -> (mesh, seconds per stage, noise level VisCo used (user units) or None)."""
    def visco(normals_given: bool, device: str):
        def run(p, n):
            t: dict = {}
            grid, mesh = reconstruct(p, n if normals_given else None, resolution=args.resolution,
                                     device=device, timings=t)
            return mesh, t, grid.noise_sigma
        return run

    out = {f"visco{args.resolution}": visco(True, args.device)}
    if args.compare_cpu and args.device != "cpu":
        out[f"visco{args.resolution}-cpu"] = visco(True, "cpu")
    if args.no_normals_too:
        out[f"visco{args.resolution}-nonormals"] = visco(False, args.device)
    for d in args.poisson_depths:
        out[f"poisson{d}"] = lambda p, n, d=d: (poisson(p, n, d), {}, None)
        out[f"poisson{d}-trim"] = lambda p, n, d=d: (poisson(p, n, d, trim=0.02), {}, None)
    return out


def bench_points(args, meshes: list[Path], emit) -> None:
    for path in tqdm(meshes, desc="points"):
        mesh = load_mesh(path)
        pts, nrm = sample_surface(mesh, args.points, seed=0)
        noisy = pts + np.random.default_rng(1).normal(scale=NOISE * np.ptp(mesh.vertices, axis=0).max(), size=pts.shape)
        for cond, p in (("clean", pts), ("noisy", noisy)):
            for name, fn in methods(args).items():
                (rec, t, sigma), sec, calls = timed(lambda: fn(p, nrm), args.repeats)
                m = fidelity(rec, mesh, n_points=args.metric_points)
                emit({"mesh": path.name, "input": cond, "method": name, "seconds": sec, "seconds_per_call": calls,
                      "levels": {k: round(v, 2) for k, v in t.items()}, "sigma_estimated": sigma, **m})


def bench_noise(args, meshes: list[Path], emit) -> None:
    """Calibration of the noise-adaptive point weight: ``Weights.noise_factor`` swept on clean and noisy points
    (factor 0 = the fixed clean-data weight), with the estimated vs true noise level."""
    from viscogrid.noise import estimate_noise
    from viscogrid.schedule import Weights

    for path in tqdm(meshes, desc="noise"):
        mesh = load_mesh(path)
        pts, nrm = sample_surface(mesh, args.points, seed=0)
        sigma = NOISE * np.ptp(mesh.vertices, axis=0).max()
        noisy = pts + np.random.default_rng(1).normal(scale=sigma, size=pts.shape)
        for cond, p, true_sigma in (("clean", pts, 0.0), ("noisy", noisy, sigma)):
            estimate = estimate_noise(p)
            for factor in args.noise_factors:
                (rec, _), sec, _ = timed(lambda: (reconstruct(p, nrm, resolution=args.resolution, device=args.device,
                                                           weights=Weights(noise_factor=factor))[1], None), 1)
                emit({"mesh": path.name, "input": cond, "noise_factor": factor, "sigma_true": true_sigma,
                      "sigma_estimated": estimate, "seconds": sec, **fidelity(rec, mesh, n_points=args.metric_points)})


def bench_pointsets(args, emit) -> None:
    for path in sorted((args.shared / "points").iterdir())[: args.limit]:
        pts, nrm = load_points(path)
        size = np.ptp(pts, axis=0).max()
        for name, fn in methods(args).items():
            if nrm is None and name.startswith("poisson"):
                continue
            (rec, _, _), sec, calls = timed(lambda: fn(pts, nrm), args.repeats)
            d = rec.nearest.on_surface(pts)[1] / size
            emit({"pointset": path.name, "points": len(pts), "method": name, "seconds": sec,
                  "seconds_per_call": calls, "mean_dist": float(d.mean()),
                         "p90_dist": float(np.quantile(d, 0.9)), "watertight": bool(rec.is_watertight)})


def bench_decode(args, meshes: list[Path], emit) -> None:
    from msdf.decoder import decode
    from msdf.encoder import encode

    for path in tqdm(meshes[: args.decode_limit], desc="decode"):
        mesh = load_mesh(path)
        msdf = encode(mesh, n_grids=args.grids, device=args.device)
        for method in ("mc", "visco"):
            rec, sec, _ = timed(lambda: decode(msdf, resolution=args.resolution, method=method, device=args.device),
                             args.repeats)
            emit({"mesh": path.name, "method": method, "seconds": sec, "watertight": bool(rec.is_watertight),
                         "components": len(rec.split(only_watertight=False)),
                         **fidelity(rec, mesh, n_points=args.metric_points)})


def punch_holes(mesh: trimesh.Trimesh, holes: int, radius: float, seed: int) -> trimesh.Trimesh:
    """``mesh`` without the faces whose centroid lies within ``radius`` (fraction of the longest side) of ``holes``
    random surface points."""
    centres, _ = sample_surface(mesh, holes, seed=seed)
    d = cKDTree(centres).query(mesh.triangles_center)[0]
    keep = d > radius * np.ptp(mesh.vertices, axis=0).max()
    out = trimesh.Trimesh(mesh.vertices, mesh.faces[keep], process=False)
    out.remove_unreferenced_vertices()
    return out


def bench_proxy(args, meshes: list[Path], emit) -> None:
    from msdf.oracle import SDFOracle
    from msdf.visco import watertight_proxy

    for path in tqdm(meshes[: args.decode_limit], desc="proxy"):
        mesh = load_mesh(path)
        holed = punch_holes(mesh, holes=args.holes, radius=0.05, seed=0)
        lo, hi = mesh.bounds
        pad = 0.05 * (hi - lo).max()
        g = np.random.default_rng(0)
        uniform = g.uniform(lo - pad, hi + pad, size=(args.metric_points, 3))
        near, n = sample_surface(mesh, args.metric_points, seed=3)
        near = near + n * g.normal(scale=0.01 * (hi - lo).max(), size=(len(near), 1))
        truth = {k: SDFOracle(mesh).inside(q) for k, q in (("uniform", uniform), ("near", near))}
        proxy, sec, _ = timed(lambda: watertight_proxy(holed, device=args.device), 1)
        for name, m in (("holed", holed), ("proxy", proxy)):
            oracle = SDFOracle(m)
            row = {"mesh": path.name, "sign_from": name, "watertight": bool(m.is_watertight),
                   "seconds": sec if name == "proxy" else 0.0}
            for k, q in (("uniform", uniform), ("near", near)):
                row[f"sign_acc_{k}"] = float((oracle.inside(q) == truth[k]).mean())
            emit(row)
    for path in sorted((args.shared / "open").iterdir())[: args.decode_limit]:
        mesh = load_mesh(path)
        proxy, sec, _ = timed(lambda: watertight_proxy(mesh, device=args.device), 1)
        d = proxy.nearest.on_surface(sample_surface(mesh, 20000, seed=0)[0])[1] / np.ptp(mesh.vertices, axis=0).max()
        emit({"mesh": path.name, "sign_from": "proxy (real open mesh)", "watertight": bool(proxy.is_watertight),
                     "seconds": sec, "mesh_to_proxy_mean": float(d.mean()), "mesh_to_proxy_p99": float(np.quantile(d, 0.99))})


def bench_gather(args, emit) -> None:
    from viscogrid.grid import gather

    g = torch.Generator().manual_seed(0)
    m = 720_000  # band nodes of a 100k-point animal at 256^3
    idx = torch.randint(0, m, (m, 6), generator=g).sort(dim=0).values.to(args.device)
    x = torch.randn(m, generator=g).to(args.device).requires_grad_(True)
    for name, fn in (("indexing x[idx]", lambda: x[idx]), ("viscogrid.grid.gather", lambda: gather(x, idx))):
        def step():
            x.grad = None
            fn().sum(1).square().sum().backward()
        _, sec, _ = timed(step, max(3, args.repeats))
        emit({"method": name, "seconds": sec})


def table(rows: list[dict], keys: list[str], group: list[str]) -> str:
    """Medians of ``keys`` per ``group`` combination, as a text table."""
    groups: dict = {}
    for r in rows:
        groups.setdefault(tuple(r.get(g) for g in group), []).append(r)
    lines = [" | ".join(group + keys)]
    for gk, rs in groups.items():
        vals = [statistics.median([r[k] for r in rs if k in r]) if any(k in r for r in rs) else float("nan")
                for k in keys]
        lines.append(" | ".join([str(x) for x in gk] + [f"{v:.5g}" for v in vals]))
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    ap.add_argument("--limit", type=int, default=None, help="first N meshes / point sets")
    ap.add_argument("--decode-limit", type=int, default=3, help="meshes for the decode and proxy sections")
    ap.add_argument("--resolution", type=int, default=256)
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--metric-points", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--grids", type=int, default=1024, help="M-SDF grids for the decode section")
    ap.add_argument("--holes", type=int, default=4)
    ap.add_argument("--noise-factors", type=float, nargs="+", default=[0.0, 3.0, 10.0, 30.0],
                    help="Weights.noise_factor values for the noise section (0 = fixed point weight)")
    ap.add_argument("--no-normals-too", action="store_true", help="also run VisCo with estimated normals")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--compare-cpu", action="store_true", help="with a GPU --device: also VisCo on the CPU")
    ap.add_argument("--poisson-depths", type=int, nargs="*", default=[8, 9],
                    help="Open3D Poisson baselines of the points section (none: skip)")
    ap.add_argument("--include-calibration", action="store_true",
                    help="points section: also the CALIBRATION meshes (left out by default: the noise factor was "
                         "chosen on them)")
    ap.add_argument("--shared", type=Path, default=SHARED,
                    help="folder with watertight/, open/, points/ (default: the shared meshes; tests/data works)")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "visco.json"))
    args = ap.parse_args()
    every = sorted((args.shared / "watertight").iterdir())
    calibration = [m for m in every if m.name in CALIBRATION]
    meshes = [m for m in every if args.include_calibration or m.name not in CALIBRATION][: args.limit]
    rec = Recorder(args.out, {"args": vars(args), "calibration_meshes": list(CALIBRATION)})
    fid = ["chamfer_l1", "fscore", "normal_consistency", "seconds"]
    runs = {
        "points": (lambda e: bench_points(args, meshes, e), fid, ["input", "method"]),
        "noise": (lambda e: bench_noise(args, calibration, e), fid + ["sigma_estimated"], ["input", "noise_factor"]),
        "pointsets": (lambda e: bench_pointsets(args, e), ["mean_dist", "p90_dist", "seconds"], ["method"]),
        "decode": (lambda e: bench_decode(args, meshes, e), fid + ["components"], ["method"]),
        "proxy": (lambda e: bench_proxy(args, meshes, e), ["sign_acc_uniform", "sign_acc_near", "seconds"],
                  ["sign_from"]),
        "gather": (lambda e: bench_gather(args, e), ["seconds"], ["method"]),
    }
    for name in SECTIONS:
        if name in args.sections:
            fn, keys, group = runs[name]
            rows, emit = rec.section(name)
            fn(emit)
            print(table(rows, keys, group))
    rec.save()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
