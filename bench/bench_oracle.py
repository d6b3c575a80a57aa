"""Benchmark the oracle's inside/outside sign against Open3D's ray-vote occupancy.

Watertight meshes (``--watertight``, default the first ``--limit`` of ``../shared/meshes/watertight``): on a res^3
lattice over the unit-frame domain [-1, 1]^3, count the nodes where each method disagrees with a reference
(Open3D ``compute_occupancy`` with ``--ref-rays`` rays, majority vote), and how many of those lie farther than one
lattice spacing from the surface (a real flip, not float noise at the surface). Methods:

* ``oracle``   — :class:`msdf.oracle.SDFOracle` sign (angle-weighted pseudonormal on closed meshes);
* ``winding``  — generalised winding number > 0.5 (libigl);
* ``o3d_ray1`` / ``o3d_ray3`` — Open3D ``compute_occupancy(nsamples=1 / 3)``.

Open meshes (``../shared/meshes/open``): the fraction of lattice nodes inside for each method, the number of isolated
nodes (sign differs from all 6 neighbours: a speck), and the fraction of points on a sphere of 3x the bounding-box
diagonal classified outside (must be 1). Prints tables, writes ``bench/results/oracle.json``.

    python bench/bench_oracle.py --limit 4 --res 128
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import open3d as o3d
import trimesh
from tqdm.auto import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.results_io import write_result  # noqa: E402
from msdf.meshio import load_mesh  # noqa: E402
from msdf.normalization import Normalization  # noqa: E402
from msdf.oracle import SDFOracle  # noqa: E402

SHARED = REPO.parent / "shared" / "meshes"


def lattice(res: int) -> np.ndarray:
    t = np.linspace(-1.0, 1.0, res)
    return np.stack(np.meshgrid(t, t, t, indexing="ij"), axis=-1).reshape(-1, 3)


def methods(oracle: SDFOracle, pts: np.ndarray) -> dict[str, tuple[np.ndarray, float]]:
    """inside masks (P,) and seconds for each method."""
    q = o3d.core.Tensor(pts.astype(np.float32))
    out = {}
    for name, fn in (("oracle", lambda: oracle(pts) < 0),
                     ("winding", lambda: oracle.inside(pts)),
                     ("o3d_ray1", lambda: oracle._scene.compute_occupancy(q, nsamples=1).numpy() > 0.5),
                     ("o3d_ray3", lambda: oracle._scene.compute_occupancy(q, nsamples=3).numpy() > 0.5)):
        t0 = time.perf_counter()
        mask = fn()
        out[name] = (mask, time.perf_counter() - t0)
    return out


def isolated(mask: np.ndarray, res: int) -> int:
    """Nodes whose inside/outside differs from all 6 lattice neighbours (interior nodes only)."""
    m = mask.reshape(res, res, res)
    c = m[1:-1, 1:-1, 1:-1]
    same = np.zeros_like(c, dtype=bool)
    for axis in range(3):
        for shift in (-1, 1):
            same |= np.roll(m, shift, axis=axis)[1:-1, 1:-1, 1:-1] == c
    return int(np.count_nonzero(~same))


def unit_mesh(path: Path) -> trimesh.Trimesh:
    mesh = load_mesh(path)
    norm = Normalization.fit(mesh.vertices)
    return trimesh.Trimesh(norm.to_unit(np.asarray(mesh.vertices)), mesh.faces, process=False)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--watertight", nargs="*", help="file names in shared/meshes/watertight (default: first --limit)")
    ap.add_argument("--limit", type=int, default=4)
    ap.add_argument("--res", type=int, default=128)
    ap.add_argument("--ref-rays", type=int, default=15)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "oracle.json")
    args = ap.parse_args(argv)
    pts = lattice(args.res)
    spacing = 2.0 / (args.res - 1)

    names = args.watertight or sorted(p.name for p in (SHARED / "watertight").iterdir())[: args.limit]
    closed = []
    for name in tqdm(names, desc="watertight", unit="mesh"):
        mesh = unit_mesh(SHARED / "watertight" / name)
        oracle = SDFOracle(mesh)
        ref = oracle._scene.compute_occupancy(o3d.core.Tensor(pts.astype(np.float32)), nsamples=args.ref_rays).numpy() > 0.5
        far = oracle.unsigned(pts) > spacing
        row = {"mesh": name, "sign_method": oracle.sign_method}
        for m, (mask, sec) in methods(oracle, pts).items():
            diff = mask != ref
            row[m] = {"disagree": int(diff.sum()), "disagree_far": int((diff & far).sum()), "seconds": sec}
        closed.append(row)

    opened = []
    for path in tqdm(sorted((SHARED / "open").iterdir()), desc="open", unit="mesh"):
        mesh = unit_mesh(path)
        oracle = SDFOracle(mesh)
        d = np.random.default_rng(0).normal(size=(2000, 3))
        sphere = 3 * np.sqrt(3) * d / np.linalg.norm(d, axis=1, keepdims=True)
        row = {"mesh": path.name, "sign_method": oracle.sign_method}
        far = methods(oracle, sphere)
        for m, (mask, sec) in methods(oracle, pts).items():
            row[m] = {"inside_frac": float(mask.mean()), "isolated": isolated(mask, args.res),
                      "far_outside_frac": float(1 - far[m][0].mean()), "seconds": sec}
        opened.append(row)

    ms = ("oracle", "winding", "o3d_ray1", "o3d_ray3")
    print(f"\nwatertight: nodes disagreeing with a {args.ref_rays}-ray vote on {args.res}^3 "
          f"(in brackets: farther than one spacing from the surface)")
    print(f"{'mesh':18s} " + " ".join(f"{m:>16s}" for m in ms))
    for r in closed:
        print(f"{r['mesh'][:18]:18s} " + " ".join(f"{r[m]['disagree']:>9d} ({r[m]['disagree_far']:>4d})" for m in ms))
    print(f"\nopen meshes: inside fraction / isolated nodes / far points outside")
    print(f"{'mesh':22s} " + " ".join(f"{m:>22s}" for m in ms))
    for r in opened:
        print(f"{r['mesh'][:22]:22s} " + " ".join(
            f"{r[m]['inside_frac']:>8.3f} {r[m]['isolated']:>6d} {r[m]['far_outside_frac']:>6.3f}" for m in ms))
    write_result(args.out, {"config": {k: str(v) for k, v in vars(args).items()},
                            "watertight": closed, "open": opened})
    return 0


if __name__ == "__main__":
    sys.exit(main())
