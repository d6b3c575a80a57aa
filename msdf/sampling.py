"""Point sampling on meshes: area-uniform surface samples (:func:`viscogrid.pointio.sample_surface`, re-exported)
and farthest-point subsets."""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from viscogrid.pointio import sample_surface

__all__ = ["farthest_point_sampling", "sample_surface", "spaced_farthest_point_sampling"]


def _check_subset(points: np.ndarray, n: int, name: str) -> np.ndarray:
    """``points`` as a contiguous float64 (P, 3) array, or ValueError (empty, wrong shape, ``n <= 0``)."""
    pts = np.ascontiguousarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3 or len(pts) == 0:
        raise ValueError(f"{name}: expected points of shape (P, 3) with P > 0, got {pts.shape}")
    if n <= 0:
        raise ValueError(f"{name}: n must be positive, got {n}")
    return pts


def farthest_point_sampling(points: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Indices (n,) of a greedy farthest-point subset of ``points`` (P, 3).

    Starts at a seeded random point, then repeatedly adds argmax_j min_{i chosen} ||x_j - x_i||. Uses Open3D's
    C++ implementation (``PointCloud.farthest_point_down_sample``, as fast as a numba loop: 0.15 s for 100k -> 1024) and maps
    the chosen points back to indices with a KD-tree. If ``n >= P`` all indices are returned (in order).
    """
    pts = _check_subset(points, n, "farthest_point_sampling")
    if n >= len(pts):
        return np.arange(len(pts))
    import open3d as o3d  # imported here: surface sampling alone needs no Open3D

    start = int(np.random.default_rng(seed).integers(len(pts)))
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts))
    chosen = np.asarray(cloud.farthest_point_down_sample(int(n), start).points)
    _, idx = cKDTree(pts).query(chosen, k=1)
    return np.asarray(idx, dtype=np.int64)


def spaced_farthest_point_sampling(points: np.ndarray, n: int, spacing: np.ndarray, seed: int = 0) -> np.ndarray:
    """Indices (n,) of a greedy farthest-point subset of ``points`` (P, 3) with a target spacing ``spacing`` (P,)
    (> 0, relative): from a seeded random start, repeatedly add ``argmax_j min_{i chosen} ||x_j - x_i|| / spacing_j``,
    so chosen points lie about ``spacing_j`` times farther apart around ``x_j`` (with ``spacing = 1`` this is
    :func:`farthest_point_sampling`'s rule). Open3D has no weighted variant; this is a numpy loop, O(n P) (about
    0.1 s for 16k -> 256)."""
    pts = _check_subset(points, n, "spaced_farthest_point_sampling")
    spacing = np.asarray(spacing, dtype=np.float64)
    if spacing.shape != (len(pts),) or not (spacing > 0).all():
        raise ValueError(f"spaced_farthest_point_sampling: spacing must be ({len(pts)},) and > 0, "
                         f"got {spacing.shape}")
    if n >= len(pts):
        return np.arange(len(pts))
    picked = np.empty(n, dtype=np.int64)
    picked[0] = np.random.default_rng(seed).integers(len(pts))
    reach = np.full(len(pts), np.inf)
    for i in range(1, n):
        reach = np.minimum(reach, np.linalg.norm(pts - pts[picked[i - 1]], axis=1) / spacing)
        picked[i] = int(np.argmax(reach))
    return picked
