"""Point sampling on meshes: area-uniform surface samples (:func:`viscogrid.pointio.sample_surface`, re-exported)
and farthest-point subsets."""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from viscogrid.pointio import sample_surface

__all__ = ["farthest_point_sampling", "sample_surface"]


def farthest_point_sampling(points: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Indices (n,) of a greedy farthest-point subset of ``points`` (P, 3).

    Starts at a seeded random point, then repeatedly adds argmax_j min_{i chosen} ||x_j - x_i||. Uses Open3D's
    C++ implementation (``PointCloud.farthest_point_down_sample``, as fast as a numba loop: 0.15 s for 100k -> 1024) and maps
    the chosen points back to indices with a KD-tree. If ``n >= P`` all indices are returned (in order).
    """
    pts = np.ascontiguousarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3 or len(pts) == 0:
        raise ValueError(f"farthest_point_sampling: expected points of shape (P, 3) with P > 0, got {pts.shape}")
    if n <= 0:
        raise ValueError(f"farthest_point_sampling: n must be positive, got {n}")
    if n >= len(pts):
        return np.arange(len(pts))
    import open3d as o3d  # imported here: surface sampling alone needs no Open3D

    start = int(np.random.default_rng(seed).integers(len(pts)))
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts))
    chosen = np.asarray(cloud.farthest_point_down_sample(int(n), start).points)
    _, idx = cKDTree(pts).query(chosen, k=1)
    return np.asarray(idx, dtype=np.int64)
