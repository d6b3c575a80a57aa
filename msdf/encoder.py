"""Mesh -> Mosaic-SDF (Yariv et al., CVPR 2024, Sec. 3.2): initialisation from the exact SDF, then refinement.

Stage 1 (initialisation), in the unit frame (:mod:`msdf.normalization`):

1. ``S`` = ``FPS_POOL_PER_GRID * n`` area-uniform surface samples; centres ``p_i`` = farthest-point subset of size n.
2. One shared half-width ``s = f * max_{x in S} min_i ||x - p_i||_inf`` with ``f = half_width_factor`` > 1
   (default :data:`HALF_WIDTH_FACTOR`): every sample lies strictly inside at least one cube, with overlap between
   neighbours (per-grid widths leave thin gaps that cross the surface). A larger ``f`` buys overlap (redundancy: a
   surface patch stays covered when a neighbouring grid moves) for coarser nodes (spacing ``2 s / (k - 1)``).
3. ``V_i[a, b, c] = SDF(p_i + s * (-1 + 2a/(k-1), -1 + 2b/(k-1), -1 + 2c/(k-1)))`` from :class:`msdf.oracle.SDFOracle`.

Stage 2 (:mod:`msdf.refine`) fits ``V`` to the oracle at points on and near the surface by Adam.

Coverage (the fraction of ``COVERAGE_SAMPLES_PER_GRID * n`` fresh surface samples inside at least one cube) is reported in
``MosaicSDF.info``; if it is below 1 the half-width is widened until it is 1 on those samples.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import trimesh
from scipy.spatial import cKDTree
from tqdm.auto import tqdm

from msdf.device import torch_device
from msdf.limits import check_encoding
from msdf.meshio import load_mesh
from msdf.normalization import Normalization
from msdf.oracle import SDFOracle
from msdf.refine import DEFAULT_REFINE_STEPS, RefineConfig, build_problem, refine_values
from msdf.representation import MosaicSDF
from msdf.sampling import farthest_point_sampling, sample_surface

FPS_POOL_PER_GRID = 64
HALF_WIDTH_FACTOR = 1.2
COVERAGE_SAMPLES_PER_GRID = 100


def grid_offsets(k: int) -> np.ndarray:
    """Node offsets (k^3, 3) of a grid with half-width 1, C order: row ``(a*k + b)*k + c`` is
    ``(-1 + 2a/(k-1), -1 + 2b/(k-1), -1 + 2c/(k-1))``."""
    t = np.linspace(-1.0, 1.0, k)
    return np.stack(np.meshgrid(t, t, t, indexing="ij"), axis=-1).reshape(-1, 3)


def linf_gap(points: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """L-inf distance (P,) from each point to its nearest centre (KD-tree with the Chebyshev metric)."""
    d, _ = cKDTree(centers).query(points, k=1, p=np.inf)
    return d


@dataclass
class InitialGrids:
    """Output of stage 1 for one shape, in the unit frame.

    Attributes:
        normalization: user <-> unit transform.
        oracle: the ground-truth SDF of the normalised mesh.
        centers: (n, 3); half_width: shared s; values: (n, k, k, k) exact SDF at the nodes.
        surface: (S, 3) surface samples and normals (S, 3) (the FPS pool; reused by refinement).
        coverage: fraction of fresh surface samples inside at least one cube.
        seconds: wall time of stage 1.
    """

    normalization: Normalization
    oracle: SDFOracle
    centers: np.ndarray
    half_width: float
    values: np.ndarray
    surface: np.ndarray
    normals: np.ndarray
    coverage: float
    seconds: float
    info: dict = field(default_factory=dict)


def _as_mesh(mesh_or_path: trimesh.Trimesh | str | os.PathLike) -> trimesh.Trimesh:
    if isinstance(mesh_or_path, trimesh.Trimesh):
        if len(mesh_or_path.faces) == 0:
            raise ValueError("encode: the mesh has no faces")
        return mesh_or_path
    if isinstance(mesh_or_path, (str, os.PathLike)):
        return load_mesh(Path(mesh_or_path))
    raise TypeError(f"encode: expected a trimesh.Trimesh or a path, got {type(mesh_or_path).__name__}")


def initialize(mesh: trimesh.Trimesh, n_grids: int = 1024, k: int = 7, seed: int = 0,
               half_width_factor: float = HALF_WIDTH_FACTOR) -> InitialGrids:
    """Stage 1: centres by FPS, one shared covering half-width, exact oracle values (see module docstring)."""
    check_encoding(n_grids, k)
    if not half_width_factor > 1.0:
        raise ValueError(f"half_width_factor must be > 1 (a cover with overlap), got {half_width_factor}")
    t0 = time.perf_counter()
    norm = Normalization.fit(mesh.vertices)
    unit = trimesh.Trimesh(vertices=norm.to_unit(np.asarray(mesh.vertices, dtype=np.float64)),
                           faces=np.asarray(mesh.faces), process=False)
    oracle = SDFOracle(unit)
    pool, normals = sample_surface(unit, max(FPS_POOL_PER_GRID * n_grids, 4096), seed=seed)
    centers = pool[farthest_point_sampling(pool, n_grids, seed=seed)]
    half_width = half_width_factor * float(linf_gap(pool, centers).max())
    check, _ = sample_surface(unit, COVERAGE_SAMPLES_PER_GRID * n_grids, seed=seed + 1)
    gap = linf_gap(check, centers)
    coverage = float(np.mean(gap < half_width))
    if coverage < 1.0:
        half_width = half_width_factor * float(gap.max())
    nodes = centers[:, None, :] + half_width * grid_offsets(k)[None]
    values = oracle(nodes.reshape(-1, 3)).reshape(n_grids, k, k, k)
    return InitialGrids(norm, oracle, centers, half_width, values, pool, normals, coverage,
                        time.perf_counter() - t0, {"coverage_before_widening": coverage})


def _to_msdf(init: InitialGrids, values: torch.Tensor, info: dict) -> MosaicSDF:
    n = len(init.centers)
    return MosaicSDF(torch.tensor(init.centers, dtype=torch.float32), torch.full((n,), init.half_width),
                     values.detach().float().cpu(), init.normalization, info=info)


def encode_mesh_batch(meshes: Sequence[trimesh.Trimesh | str | os.PathLike], n_grids: int = 1024, k: int = 7,
                      refine_steps: int = DEFAULT_REFINE_STEPS, device: str | torch.device = "cpu", seed: int = 0,
                      quiet: bool = True, half_width_factor: float = HALF_WIDTH_FACTOR) -> list[MosaicSDF]:
    """Encode several shapes; stage 1 runs per shape on the CPU, stage 2 refines all of them in one batch on ``device``.

    Each returned :class:`MosaicSDF` carries ``info`` with ``coverage``, ``half_width``, ``init_seconds``,
    ``refine_seconds`` (the batch's refinement time divided evenly) and ``refine_loss`` (before, after).
    """
    inits = [initialize(_as_mesh(m), n_grids, k, seed, half_width_factor)
             for m in tqdm(meshes, desc="initialise", unit="shape", disable=quiet or len(meshes) < 2)]
    dev = torch_device(device)
    values = torch.tensor(np.stack([i.values for i in inits]), dtype=torch.float32, device=dev)
    t0 = time.perf_counter()
    losses = [(float("nan"), float("nan"))] * len(inits)
    if refine_steps > 0:
        problems = [build_problem(i.oracle, i.surface, i.normals, i.centers, i.half_width, k, seed) for i in inits]
        values, losses = refine_values(values, problems, RefineConfig(steps=refine_steps), quiet=quiet)
    refine_seconds = (time.perf_counter() - t0) / len(inits)
    out = []
    for b, init in enumerate(inits):
        info = {"coverage": init.coverage, "half_width": init.half_width, "init_seconds": init.seconds,
                "refine_seconds": refine_seconds, "refine_steps": int(refine_steps),
                "refine_loss": [float(losses[b][0]), float(losses[b][1])], "seed": int(seed)}
        out.append(_to_msdf(init, values[b], info))
    return out


def encode(mesh_or_path: trimesh.Trimesh | str | os.PathLike, n_grids: int = 1024, k: int = 7,
           refine_steps: int = DEFAULT_REFINE_STEPS, device: str | torch.device = "cpu", seed: int = 0,
           quiet: bool = True, half_width_factor: float = HALF_WIDTH_FACTOR) -> MosaicSDF:
    """Encode one mesh (or mesh file) as a Mosaic-SDF with ``n_grids`` grids of ``k^3`` values.

    ``refine_steps=0`` skips stage 2. The result is in the unit frame with the user transform attached, and is
    deterministic for a given ``seed`` on the CPU. ``info`` holds coverage, timings and the refinement loss.

    Example (a sphere of radius 2 as 64 grids of 3^3 values, without refinement; a mesh file path works too):

    >>> import trimesh
    >>> from msdf import encode
    >>> shape = encode(trimesh.creation.icosphere(radius=2.0), n_grids=64, k=3, refine_steps=0)
    >>> shape.n, shape.k
    (64, 3)
    >>> [bool(d < 0) for d in shape.sdf(np.array([[0.0, 0.0, 1.5], [0.0, 0.0, 2.5]]))]   # inside, outside
    [True, False]
    """
    return encode_mesh_batch([mesh_or_path], n_grids, k, refine_steps, device, seed, quiet, half_width_factor)[0]
