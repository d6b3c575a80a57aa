"""VisCo Grids: surface reconstruction from points with viscosity and coarea grid priors (Pumarola et al. 2022).

A leaf library (it imports nothing from ``msdf``): points (+ normals) -> grid SDF -> mesh, with its own small I/O on
trimesh / Open3D. ``from viscogrid import reconstruct``;
``reconstruct(points, normals=None, resolution=256) -> (GridSDF, trimesh.Trimesh)``.

Modules: :mod:`viscogrid.reconstruction` (the optimisation), :mod:`viscogrid.grid` (grid algebra),
:mod:`viscogrid.losses`, :mod:`viscogrid.narrowband`, :mod:`viscogrid.schedule`, :mod:`viscogrid.noise`,
:mod:`viscogrid.pointio` (point files, surface samples, normals), :mod:`viscogrid.frame` (the unit frame) and
:mod:`viscogrid.mesh` (merged meshes). ``reconstruct`` and ``GridSDF`` load on first use, so the light modules
(frame, mesh, pointio) can be imported without torch.
"""
from __future__ import annotations

__all__ = ["GridSDF", "reconstruct"]


def __getattr__(name: str):
    if name in __all__:
        from viscogrid import reconstruction

        return getattr(reconstruction, name)
    raise AttributeError(f"module 'viscogrid' has no attribute {name!r}")
