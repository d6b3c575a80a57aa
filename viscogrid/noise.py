"""Noise level of a point cloud, for weighting VisCo's point term.

For a point ``x`` with its ``k`` nearest neighbours ``N(x)`` (itself included), the covariance
``C = mean_{y in N(x)} (y - m)(y - m)^T`` has smallest eigenvalue ``lambda_0``: the mean squared distance of the
neighbourhood from its best-fit plane. On a clean, densely sampled smooth surface ``sqrt(lambda_0)`` is tiny
(curvature times the squared neighbourhood radius); with Gaussian noise of standard deviation ``sigma`` along the
normal it approaches ``sigma``. The estimate is the median of ``sqrt(lambda_0)`` over a random subset of the points,
so edges and corners (where the plane fit is poor even without noise) do not dominate.

The estimate is biased low when ``sigma`` is comparable to the neighbourhood radius (the neighbourhood then spans
the noise band); :func:`viscogrid.reconstruction.effective_point_weight` is calibrated on this estimator as it is.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

NOISE_NEIGHBOURS = 16
NOISE_SAMPLES = 20000


def estimate_noise(points: np.ndarray, neighbours: int = NOISE_NEIGHBOURS, samples: int = NOISE_SAMPLES,
                   seed: int = 0) -> float:
    """Median plane-fit residual ``sqrt(lambda_0)`` (same units as ``points`` (N, 3)) over at most ``samples``
    points, each with its ``neighbours`` nearest neighbours (see the module docstring). 0 for fewer than 4 points."""
    pts = np.asarray(points, dtype=np.float64)
    if len(pts) < 4:
        return 0.0
    k = min(neighbours, len(pts))
    rng = np.random.default_rng(seed)
    query = pts if len(pts) <= samples else pts[rng.choice(len(pts), samples, replace=False)]
    _, idx = cKDTree(pts).query(query, k=k)
    hood = pts[idx]  # (S, k, 3)
    hood = hood - hood.mean(axis=1, keepdims=True)
    cov = np.einsum("ski,skj->sij", hood, hood) / k  # (S, 3, 3)
    smallest = np.linalg.eigvalsh(cov)[:, 0].clip(min=0.0)
    return float(np.median(np.sqrt(smallest)))
