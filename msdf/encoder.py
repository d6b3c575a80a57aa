"""Mesh -> Mosaic-SDF (Yariv et al., CVPR 2024, Sec. 3.2): initialisation from the exact SDF, then refinement.

Stage 1 (initialisation), in the unit frame (:mod:`msdf.normalization`):

1. ``S`` = ``FPS_POOL_PER_GRID * n`` area-uniform surface samples; centres ``p_i`` = farthest-point subset of size n.
2. Covering half-width ``s = f * max_{x in S} min_i ||x - p_i||_inf`` with ``f = half_width_factor`` > 1
   (default :data:`HALF_WIDTH_FACTOR`): every sample lies strictly inside at least one cube, with overlap between
   neighbours (per-grid widths below ``s`` leave thin gaps that cross the surface). A larger ``f`` buys overlap
   (redundancy: a surface patch stays covered when a neighbouring grid moves) for coarser nodes (spacing
   ``2 s / (k - 1)``). Every grid gets ``s_i = s``, unless ``thick_half_width_factor = f_t > f``: then a grid on a
   thick part grows up to the part's local half-thickness, ``s_i = clip(r_i, s, (f_t / f) s)`` with
   ``r_i = max_t -SDF(p_i - t n_i)`` over ``t`` in ``(0, (f_t / f) s]`` (:func:`inner_half_thickness`; ``n_i`` the
   outward normal at ``p_i``): thin parts keep their fine nodes, while the grids around a thick part's uncovered core
   overlap more, so a generated layout with gaps still closes the shell (``msdf.sealing``). With
   ``thick_per_shape`` the widening is per shape instead: a shape with at least :data:`THICK_SHAPE_SHARE` of its
   grids on thick parts (``r_i > s``) gets ``s_i = (f_t / f) s`` for every grid, any other shape ``s_i = s``, so the
   half-width stays one number per shape, as in the default.
3. ``V_i[a, b, c] = SDF(p_i + s_i * (-1 + 2a/(k-1), -1 + 2b/(k-1), -1 + 2c/(k-1)))`` from
   :class:`msdf.oracle.SDFOracle`.

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
THICKNESS_STEPS = 8  # depths t along the inward normal at which inner_half_thickness reads the SDF
THICK_SHAPE_SHARE = 0.1  # thick_per_shape: the share of grids on thick parts that makes a shape thick


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
        centers: (n, 3); half_width: the covering s; half_widths: (n,) per grid s_i >= s;
        values: (n, k, k, k) exact SDF at the nodes.
        surface: (S, 3) surface samples and normals (S, 3) (the FPS pool; reused by refinement).
        coverage: fraction of fresh surface samples inside at least one cube.
        seconds: wall time of stage 1.
    """

    normalization: Normalization
    oracle: SDFOracle
    centers: np.ndarray
    half_width: float
    half_widths: np.ndarray
    values: np.ndarray
    surface: np.ndarray
    normals: np.ndarray
    coverage: float
    seconds: float
    info: dict = field(default_factory=dict)


def check_half_width_factors(half_width_factor: float | None, thick_half_width_factor: float | None,
                             thick_per_shape: bool = False) -> None:
    """ValueError unless ``f > 1`` (a cover with overlap) and ``f_t > f`` where given (None = the default), and
    ``thick_per_shape`` only with ``f_t``."""
    if thick_per_shape and thick_half_width_factor is None:
        raise ValueError("widening per shape needs a thick half-width factor")
    f = HALF_WIDTH_FACTOR if half_width_factor is None else half_width_factor
    if not f > 1.0:
        raise ValueError(f"the half-width factor must be > 1 (a cover with overlap), got {f}")
    if thick_half_width_factor is not None and not thick_half_width_factor > f:
        raise ValueError(f"the thick half-width factor must exceed the half-width factor {f}, "
                         f"got {thick_half_width_factor}")


def inner_half_thickness(oracle: SDFOracle, centers: np.ndarray, normals: np.ndarray, reach: float,
                         steps: int = THICKNESS_STEPS) -> np.ndarray:
    """Local half-thickness (n,) of the shape under each surface point: ``r_i = max(0, max_t -SDF(p_i - t n_i))``
    over ``t = reach * j / steps``, ``j = 1..steps``, with ``centers`` ``p_i`` (n, 3) and outward unit ``normals``
    ``n_i`` (n, 3). A slab of thickness ``2h < 2 reach`` gives about ``h``; anything thicker gives about ``reach``."""
    depths = reach * np.arange(1, steps + 1) / steps
    probes = centers[:, None, :] - depths[None, :, None] * normals[:, None, :]
    depth_sdf = oracle(probes.reshape(-1, 3)).reshape(len(centers), steps)
    return np.clip(-depth_sdf.min(axis=1), 0.0, None)


def _as_mesh(mesh_or_path: trimesh.Trimesh | str | os.PathLike) -> trimesh.Trimesh:
    if isinstance(mesh_or_path, trimesh.Trimesh):
        if len(mesh_or_path.faces) == 0:
            raise ValueError("encode: the mesh has no faces")
        return mesh_or_path
    if isinstance(mesh_or_path, (str, os.PathLike)):
        return load_mesh(Path(mesh_or_path))
    raise TypeError(f"encode: expected a trimesh.Trimesh or a path, got {type(mesh_or_path).__name__}")


def initialize(mesh: trimesh.Trimesh, n_grids: int = 1024, k: int = 7, seed: int = 0,
               half_width_factor: float = HALF_WIDTH_FACTOR,
               thick_half_width_factor: float | None = None, thick_per_shape: bool = False) -> InitialGrids:
    """Stage 1: centres by FPS, covering half-widths (wider on thick parts, or on every grid of a thick shape with
    ``thick_per_shape``, when ``thick_half_width_factor`` is given), exact oracle values (see module docstring)."""
    check_encoding(n_grids, k)
    check_half_width_factors(half_width_factor, thick_half_width_factor, thick_per_shape)
    t0 = time.perf_counter()
    norm = Normalization.fit(mesh.vertices)
    unit = trimesh.Trimesh(vertices=norm.to_unit(np.asarray(mesh.vertices, dtype=np.float64)),
                           faces=np.asarray(mesh.faces), process=False)
    oracle = SDFOracle(unit)
    pool, normals = sample_surface(unit, max(FPS_POOL_PER_GRID * n_grids, 4096), seed=seed)
    picked = farthest_point_sampling(pool, n_grids, seed=seed)
    centers = pool[picked]
    half_width = half_width_factor * float(linf_gap(pool, centers).max())
    check, _ = sample_surface(unit, COVERAGE_SAMPLES_PER_GRID * n_grids, seed=seed + 1)
    gap = linf_gap(check, centers)
    coverage = float(np.mean(gap < half_width))
    if coverage < 1.0:
        half_width = half_width_factor * float(gap.max())
    half_widths = np.full(n_grids, half_width)
    if thick_half_width_factor is not None:
        widest = half_width * thick_half_width_factor / half_width_factor
        thickness = inner_half_thickness(oracle, centers, normals[picked], widest)
        half_widths = np.clip(thickness, half_width, widest)
        if thick_per_shape:
            thick = np.mean(thickness > half_width) >= THICK_SHAPE_SHARE
            half_widths = np.full(n_grids, widest if thick else half_width)
    nodes = centers[:, None, :] + half_widths[:, None, None] * grid_offsets(k)[None]
    values = oracle(nodes.reshape(-1, 3)).reshape(n_grids, k, k, k)
    return InitialGrids(norm, oracle, centers, half_width, half_widths, values, pool, normals, coverage,
                        time.perf_counter() - t0, {"coverage_before_widening": coverage})


def _to_msdf(init: InitialGrids, values: torch.Tensor, info: dict) -> MosaicSDF:
    return MosaicSDF(torch.tensor(init.centers, dtype=torch.float32),
                     torch.tensor(init.half_widths, dtype=torch.float32),
                     values.detach().float().cpu(), init.normalization, info=info)


def encode_mesh_batch(meshes: Sequence[trimesh.Trimesh | str | os.PathLike], n_grids: int = 1024, k: int = 7,
                      refine_steps: int = DEFAULT_REFINE_STEPS, device: str | torch.device = "cpu", seed: int = 0,
                      quiet: bool = True, half_width_factor: float = HALF_WIDTH_FACTOR,
                      thick_half_width_factor: float | None = None, thick_per_shape: bool = False
                      ) -> list[MosaicSDF]:
    """Encode several shapes; stage 1 runs per shape on the CPU, stage 2 refines all of them in one batch on ``device``.

    Each returned :class:`MosaicSDF` carries ``info`` with ``coverage``, ``half_width`` (the covering ``s``),
    ``thick_grids`` (how many grids are wider than ``s``), ``init_seconds``,
    ``refine_seconds`` (the batch's refinement time divided evenly) and ``refine_loss`` (before, after).
    """
    inits = [initialize(_as_mesh(m), n_grids, k, seed, half_width_factor, thick_half_width_factor, thick_per_shape)
             for m in tqdm(meshes, desc="initialise", unit="shape", disable=quiet or len(meshes) < 2)]
    dev = torch_device(device)
    values = torch.tensor(np.stack([i.values for i in inits]), dtype=torch.float32, device=dev)
    t0 = time.perf_counter()
    losses = [(float("nan"), float("nan"))] * len(inits)
    if refine_steps > 0:
        problems = [build_problem(i.oracle, i.surface, i.normals, i.centers, i.half_widths, k, seed) for i in inits]
        values, losses = refine_values(values, problems, RefineConfig(steps=refine_steps), quiet=quiet)
    refine_seconds = (time.perf_counter() - t0) / len(inits)
    out = []
    for b, init in enumerate(inits):
        info = {"coverage": init.coverage, "half_width": init.half_width,
                "thick_grids": int((init.half_widths > init.half_width).sum()), "init_seconds": init.seconds,
                "refine_seconds": refine_seconds, "refine_steps": int(refine_steps),
                "refine_loss": [float(losses[b][0]), float(losses[b][1])], "seed": int(seed)}
        out.append(_to_msdf(init, values[b], info))
    return out


def encode(mesh_or_path: trimesh.Trimesh | str | os.PathLike, n_grids: int = 1024, k: int = 7,
           refine_steps: int = DEFAULT_REFINE_STEPS, device: str | torch.device = "cpu", seed: int = 0,
           quiet: bool = True, half_width_factor: float = HALF_WIDTH_FACTOR,
           thick_half_width_factor: float | None = None, thick_per_shape: bool = False) -> MosaicSDF:
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
    return encode_mesh_batch([mesh_or_path], n_grids, k, refine_steps, device, seed, quiet, half_width_factor,
                             thick_half_width_factor, thick_per_shape)[0]
