"""VisCo Grids reconstruction: optimise a grid function so its zero level set passes through oriented points.

Pipeline (Pumarola et al., NeurIPS 2022, adapted to be fast on a CPU):

1. Normalise the points to the unit frame (bounding box centred, longest side [-0.9, 0.9]) inside ``[-1, 1]^3``.
2. Initialise the coarsest grid (32^3) with a signed distance to the points: ``f(x) = |x - p_1|`` (nearest point,
   scipy KD-tree), negative where the oriented points' generalised winding number (libigl fast winding number for
   point clouds, point area ``pi d_8^2 / 8`` from the 8th-neighbour distance) exceeds 1/2.
3. For each level of the schedule: upsample the previous grid, pick the variables (all nodes, or a narrow band),
   and run Adam on ``point * mean f(x_i)^2 / h^2 + normal * mean|grad f(x_i) - n_i|^2
   + viscosity * L_visc(eps) + coarea * area_beta`` (see :mod:`viscogrid.losses`).
4. Marching cubes (scikit-image) on the finest grid, mapped back to the user's coordinates.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import igl
import numpy as np
import torch
import trimesh
from scipy.spatial import cKDTree
from skimage.measure import marching_cubes
from tqdm.auto import tqdm

from viscogrid import grid as G
from viscogrid import losses as L
from viscogrid.frame import Normalization
from viscogrid.mesh import merged_mesh
from viscogrid.narrowband import Band, band_mask, build_band
from viscogrid.noise import estimate_noise
from viscogrid.pointio import estimate_normals, validate_points
from viscogrid.schedule import Level, Weights, default_schedule

INIT_NEIGHBOURS = 8
MIN_RESOLUTION = 8


@dataclass
class GridSDF:
    """The optimised grid: ``values`` (R, R, R) unit-frame signed distances at the nodes over ``[-1, 1]^3``
    (negative inside), the ``normalization`` that maps user coordinates to that frame, and the points' noise level
    ``noise_sigma`` (user units) the point weight was set from."""

    values: torch.Tensor
    normalization: Normalization
    noise_sigma: float = 0.0

    @property
    def resolution(self) -> int:
        return int(self.values.shape[0])

    def sdf(self, points: np.ndarray) -> np.ndarray:
        """Trilinear signed distance (P,) in user units at user-frame ``points`` (P, 3) (clamped to the domain)."""
        unit = torch.as_tensor(self.normalization.to_unit(np.asarray(points, dtype=np.float64)), dtype=torch.float32)
        unit = unit.to(self.values.device)
        idx, w, _ = G.trilinear_stencil(unit, self.resolution)
        return G.interpolate(self.values.reshape(-1), idx, w).cpu().numpy().astype(np.float64) * self.normalization.scale

    def to_mesh(self) -> trimesh.Trimesh:
        """Zero level set by marching cubes, in user coordinates, faces oriented outward."""
        vol = self.values.detach().cpu().numpy()
        if not (vol.min() < 0 < vol.max()):
            raise ValueError("the reconstructed grid has no zero crossing (no surface)")
        h = G.spacing(self.resolution)
        verts, faces, _, _ = marching_cubes(vol, level=0.0, spacing=(h, h, h), gradient_direction="descent")
        mesh = merged_mesh(verts - 1.0, faces)  # merged in the unit frame: exact at any user scale or offset
        mesh.vertices = self.normalization.to_user(np.asarray(mesh.vertices, dtype=np.float64))
        return mesh


def initial_grid(points: torch.Tensor, normals: torch.Tensor, resolution: int) -> torch.Tensor:
    """Signed distance to the oriented points at the nodes of a (R, R, R) grid (see module doc, step 2)."""
    nodes = G.node_coordinates(resolution).reshape(-1, 3).numpy().astype(np.float64)
    pts, nrm = points.cpu().numpy().astype(np.float64), normals.cpu().numpy().astype(np.float64)
    tree = cKDTree(pts)
    k = min(INIT_NEIGHBOURS, len(pts) - 1)
    spacing_k = tree.query(pts, k=k + 1)[0][:, -1]
    areas = np.pi * spacing_k**2 / k
    dist = tree.query(nodes)[0]
    winding = igl.fast_winding_number(pts, nrm, areas, nodes)
    f = np.where(winding > 0.5, -dist, dist)
    return torch.as_tensor(f, dtype=torch.float32).reshape((resolution,) * 3)


def subsample(
    points: torch.Tensor, normals: torch.Tensor, max_points: int | None, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded random subset of at most ``max_points`` rows of (N, 3) ``points`` and ``normals`` (all if None)."""
    if max_points is None or len(points) <= max_points:
        return points, normals
    keep = torch.randperm(len(points), generator=torch.Generator().manual_seed(seed))[:max_points]
    keep = keep.to(points.device)
    return points[keep], normals[keep]


def effective_point_weight(weights: Weights, h: float, sigma: float) -> float:
    """``point * h^2 / (h^2 + c sigma^2)`` with ``c = weights.noise_factor``: the point term measured in units of the
    combined grid-and-noise scale instead of the cell size alone (unit-frame ``h`` and ``sigma``)."""
    return weights.point * h * h / (h * h + weights.noise_factor * sigma * sigma)


def optimise_level(
    values: torch.Tensor,
    points: torch.Tensor,
    normals: torch.Tensor,
    level: Level,
    weights: Weights,
    quiet: bool = True,
    sigma: float = 0.0,
) -> torch.Tensor:
    """Run one level's Adam steps on ``values`` (R, R, R) (already at ``level.resolution``); returns the new grid.

    ``sigma``: unit-frame noise level of the points (sets the point weight, :func:`effective_point_weight`).
    """
    r = level.resolution
    h = G.spacing(r)
    weights = replace(weights, point=effective_point_weight(weights, h, sigma))
    points, normals = subsample(points, normals, level.max_points, seed=r)
    idx, w, dw = G.trilinear_stencil(points, r)
    mask = (
        torch.ones_like(values, dtype=torch.bool) if level.band is None else band_mask(values, idx, level.band, h)
    )
    band = build_band(mask, idx)
    flat = values.reshape(-1)
    params = flat[band.nodes].clone().requires_grad_(True)
    const = flat[band.const_nodes]
    opt = torch.optim.Adam([params], lr=level.lr * h)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 - 0.9 * s / max(1, level.steps))
    desc = f"visco {r}^3" + ("" if level.band is None else f" band {len(band.nodes)}")
    for _ in tqdm(range(level.steps), desc=desc, disable=quiet, leave=False):
        opt.zero_grad(set_to_none=True)
        loss = level_loss(torch.cat([params, const]), band, w, dw, normals, h, level, weights)
        loss.backward()
        opt.step()
        sched.step()
    out = flat.clone()
    out[band.nodes] = params.detach()
    return out.reshape(values.shape)


def level_loss(
    x: torch.Tensor,
    band: Band,
    w: torch.Tensor,
    dw: torch.Tensor,
    normals: torch.Tensor,
    h: float,
    level: Level,
    weights: Weights,
) -> torch.Tensor:
    """Total VisCo loss (scalar) for the compact value vector ``x`` (M + C,) of a level (see module doc, step 3)."""
    corners = G.gather(x, band.point_local)
    f_pts = (corners * w).sum(-1)
    loss = weights.point * L.point_loss(f_pts) / (h * h)
    if weights.normal > 0:
        g_pts = (corners.unsqueeze(-1) * dw).sum(1)
        loss = loss + weights.normal * L.normal_loss(g_pts, normals)
    center, nb = x[: len(band.nodes)], G.gather(x, band.nb_local)
    grad_norm = L.gradient_norm(nb, h)
    if weights.viscosity > 0:
        loss = loss + weights.viscosity * L.viscosity_loss(center, nb, h, level.eps * h, grad_norm)
    if weights.coarea > 0:
        loss = loss + weights.coarea * L.coarea(center, nb, h, level.beta * h, grad_norm)
    return loss


def reconstruct(
    points: np.ndarray,
    normals: np.ndarray | None = None,
    resolution: int = 256,
    device: str | torch.device = "cpu",
    schedule: list[Level] | None = None,
    weights: Weights | None = None,
    quiet: bool = True,
    timings: dict | None = None,
    noise: float | str = "auto",
) -> tuple[GridSDF, trimesh.Trimesh]:
    """Reconstruct a watertight surface from points (N, 3) in any coordinates.

    Args:
        points: (N, 3) positions.
        normals: (N, 3) outward normals, or None to estimate them (PCA + consistent tangent-plane orientation,
            :func:`viscogrid.pointio.estimate_normals`).
        resolution: finest grid resolution R (nodes per axis over the padded bounding box).
        device: torch device for the optimisation ("cpu", "cuda", ...).
        schedule: coarse-to-fine levels (default :func:`viscogrid.schedule.default_schedule`).
        weights: loss weights (default :class:`viscogrid.schedule.Weights`).
        quiet: hide the per-level progress bars.
        timings: if given, filled with seconds per stage (``"normals"``, ``"noise"``, ``"init"``, ``"level_<R>"``,
            ``"mesh"``).
        noise: standard deviation of the points' noise in user units, ``"auto"`` to estimate it
            (:func:`viscogrid.noise.estimate_noise`), or 0 for clean points (fixed point weight).
    Returns:
        (GridSDF, mesh) with the mesh in the coordinates of ``points``; ``GridSDF.noise_sigma`` is the noise used.

    Memory grows as R^3 (about 64 bytes per node); the ``msdf`` callers check it against their memory limit first.

    Example (a sphere from 500 oriented points, 16^3 grid, a second on a CPU):

    >>> import numpy as np
    >>> from viscogrid import reconstruct
    >>> from viscogrid.schedule import default_schedule
    >>> n = np.random.default_rng(0).normal(size=(500, 3))
    >>> n /= np.linalg.norm(n, axis=1, keepdims=True)
    >>> grid, mesh = reconstruct(2.0 * n, n, resolution=16, schedule=default_schedule(16, 0.2), noise=0)
    >>> grid.resolution, mesh.is_watertight
    (16, True)
    >>> bool(grid.sdf(np.zeros((1, 3)))[0] < 0 < grid.sdf(np.full((1, 3), 3.0))[0])  # negative inside
    True
    """
    pts, nrm = validate_points(points, normals)
    levels = schedule if schedule is not None else default_schedule(resolution)
    finest = max(level.resolution for level in levels)
    if finest < MIN_RESOLUTION:
        raise ValueError(f"resolution must be >= {MIN_RESOLUTION}, got {finest}")
    weights = weights if weights is not None else Weights()
    times = timings if timings is not None else {}
    t0 = time.perf_counter()
    if nrm is None:
        nrm = estimate_normals(pts)
    times["normals"] = time.perf_counter() - t0
    norm = Normalization.fit(pts)
    t0 = time.perf_counter()
    unit_pts = norm.to_unit(pts)
    sigma = _unit_noise(noise, unit_pts, norm.scale)
    times["noise"] = time.perf_counter() - t0
    dev = torch.device(device)
    p = torch.as_tensor(unit_pts, dtype=torch.float32)
    n = torch.as_tensor(nrm, dtype=torch.float32)
    t0 = time.perf_counter()
    values = initial_grid(*subsample(p, n, levels[0].max_points, seed=0), levels[0].resolution).to(dev)
    times["init"] = time.perf_counter() - t0
    p, n = p.to(dev), n.to(dev)
    for level in levels:
        t0 = time.perf_counter()
        if values.shape[0] != level.resolution:
            values = G.upsample(values, level.resolution)
        values = optimise_level(values, p, n, level, weights, quiet=quiet, sigma=sigma)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        times[f"level_{level.resolution}"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = GridSDF(values, norm, sigma * norm.scale)
    mesh = result.to_mesh()
    times["mesh"] = time.perf_counter() - t0
    return result, mesh


def _unit_noise(noise: float | str, unit_points: np.ndarray, scale: float) -> float:
    """Unit-frame noise level from the ``noise`` argument of :func:`reconstruct` (user units, "auto" or 0)."""
    if isinstance(noise, str):
        if noise != "auto":
            raise ValueError(f"noise must be a number (user units) or 'auto', got {noise!r}")
        return estimate_noise(unit_points)
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0, got {noise}")
    return float(noise) / scale
