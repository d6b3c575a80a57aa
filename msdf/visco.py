"""Bridges from the M-SDF pipeline into VisCo reconstruction (Pumarola et al. 2022; the library is :mod:`viscogrid`).

- :func:`from_msdf` (``msdf decode --method visco``): a clean, watertight surface from a decoded M-SDF. Points are
  drawn on the M-SDF's marching-cubes surface, projected onto the field's ``level`` set by one Newton step
  ``x <- x - (F(x) - level) grad F / |grad F|^2`` (autograd through the blend), and given the field's normalised
  gradients as normals; VisCo then fits a single grid function to them, which removes the seams, small islands and
  sign artefacts a blend of local grids can leave.
- :func:`watertight_proxy` (``msdf preprocess --watertight-proxy``): a watertight stand-in for an open or messy
  mesh so the SDF sign is reliable. Face winding is made consistent (:func:`msdf.oracle.orient_for_winding`), area-
  uniform samples take their face normals, and each normal is then flipped to point toward decreasing generalised
  winding number of the mesh (``w(p + d n) < w(p - d n)``), which orients even components that are inside out or
  disagree with the rest; holes are closed by the viscosity/coarea priors.
"""
from __future__ import annotations

import igl
import numpy as np
import torch
import trimesh

from msdf.device import torch_device
from msdf.marching import marching_cubes
from msdf.oracle import orient_for_winding
from msdf.sampling import sample_surface
from viscogrid.reconstruction import reconstruct

BRIDGE_POINTS = 100_000
PROXY_RESOLUTION = 128
PROBE = 1e-3  # winding-number probe offset, as a fraction of the bounding-box diagonal


def from_msdf(msdf, resolution: int = 256, device: str | torch.device = "cpu", level: float = 0.0,
              quiet: bool = True, source: str = "M-SDF", n_points: int = BRIDGE_POINTS,
              seed: int = 0) -> trimesh.Trimesh:
    """Watertight mesh (user frame) of the ``level`` set of a :class:`msdf.representation.MosaicSDF` by VisCo
    reconstruction on ``device`` (``level`` in unit-frame units, as :func:`msdf.decoder.decode`; ``quiet`` hides the
    progress bars; ``source`` names the shape in errors).

    The marching-cubes surface used for sampling is extracted at ``resolution // 2`` (only point positions near the
    surface are needed; the projection puts them on the exact level set).
    """
    device = torch_device(device)
    coarse = marching_cubes(msdf, resolution=max(32, resolution // 2), device=device, level=level, quiet=quiet,
                            source=source)
    pts, _ = sample_surface(coarse, n_points, seed=seed)
    unit = torch.as_tensor(msdf.normalization.to_unit(pts), dtype=torch.float32, device=msdf.device)
    unit.requires_grad_(True)
    f = msdf.sdf(unit, frame="unit") - level
    (grad,) = torch.autograd.grad(f.sum(), unit)
    with torch.no_grad():
        g2 = (grad * grad).sum(-1, keepdim=True).clamp_min(1e-12)
        projected = unit - f[:, None] * grad / g2
        normals = grad / g2.sqrt()
    keep = torch.isfinite(projected).all(1) & (g2[:, 0] > 1e-6)
    pts_user = msdf.normalization.to_user(projected[keep].cpu().double().numpy())
    _, mesh = reconstruct(pts_user, normals[keep].cpu().double().numpy(), resolution=resolution, device=device,
                          quiet=quiet)
    return mesh


def oriented_samples(mesh: trimesh.Trimesh, n_points: int = BRIDGE_POINTS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Area-uniform samples (N, 3) of ``mesh`` with normals (N, 3) oriented by the mesh's winding number (module doc)."""
    fixed = orient_for_winding(mesh)
    pts, nrm = sample_surface(fixed, n_points, seed=seed)
    d = PROBE * float(np.linalg.norm(np.ptp(fixed.vertices, axis=0)))
    v = np.ascontiguousarray(fixed.vertices, dtype=np.float64)
    f = np.ascontiguousarray(fixed.faces, dtype=np.int64)
    w_out = igl.fast_winding_number(v, f, np.ascontiguousarray(pts + d * nrm))
    w_in = igl.fast_winding_number(v, f, np.ascontiguousarray(pts - d * nrm))
    return pts, np.where((w_out > w_in)[:, None], -nrm, nrm)


def watertight_proxy(mesh: trimesh.Trimesh, resolution: int = PROXY_RESOLUTION, n_points: int = BRIDGE_POINTS,
                     device: str | torch.device = "cpu", seed: int = 0, quiet: bool = True) -> trimesh.Trimesh:
    """A watertight mesh (same coordinates) approximating the open or messy ``mesh`` (see module doc)."""
    if len(mesh.faces) == 0:
        raise ValueError("watertight_proxy: the mesh has no faces")
    pts, nrm = oriented_samples(mesh, n_points, seed)
    _, proxy = reconstruct(pts, nrm, resolution=resolution, device=device, quiet=quiet)
    return proxy
