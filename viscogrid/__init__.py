"""VisCo Grids: surface reconstruction from points with viscosity and coarea grid priors (Pumarola et al. 2022).

``from viscogrid import reconstruct``; ``reconstruct(points, normals=None, resolution=256) -> (GridSDF, trimesh)``.
"""
from viscogrid.reconstruct import GridSDF, reconstruct

__all__ = ["GridSDF", "reconstruct"]
