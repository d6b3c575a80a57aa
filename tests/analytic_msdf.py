"""Exact M-SDFs of analytic shapes for the field and decoding tests: grids centred on the surface, values = the exact SDF."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from scipy.spatial import cKDTree

from msdf.normalization import Normalization
from msdf.representation import MosaicSDF


def sphere_sdf(radius: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: np.linalg.norm(x, axis=-1) - radius


def box_sdf(half: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    half = np.asarray(half, dtype=np.float64)

    def f(x: np.ndarray) -> np.ndarray:
        q = np.abs(x) - half
        return np.linalg.norm(np.maximum(q, 0.0), axis=-1) + np.minimum(q.max(axis=-1), 0.0)

    return f


def sphere_surface(radius: float, count: int) -> np.ndarray:
    """Fibonacci points (count, 3) on the sphere."""
    i = np.arange(count) + 0.5
    phi = np.arccos(1 - 2 * i / count)
    theta = np.pi * (1 + 5**0.5) * i
    return radius * np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], axis=1)


def box_surface(half: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """Area-uniform random points (count, 3) on the box surface."""
    half = np.asarray(half, dtype=np.float64)
    g = np.random.default_rng(seed)
    areas = np.array([half[1] * half[2], half[0] * half[2], half[0] * half[1]])
    axis = g.choice(3, size=count, p=areas / areas.sum())
    pts = g.uniform(-1, 1, size=(count, 3)) * half
    pts[np.arange(count), axis] = np.where(g.random(count) < 0.5, -1, 1) * half[axis]
    return pts


def exact_msdf(sdf: Callable[[np.ndarray], np.ndarray], centers: np.ndarray, surface: np.ndarray, k: int = 7,
               margin: float = 1.3, normalization: Normalization | None = None) -> MosaicSDF:
    """Grids at ``centers`` with one shared half-width covering every ``surface`` sample (L-inf nearest centre
    distance times ``margin``) and the exact SDF at their nodes."""
    d, _ = cKDTree(centers).query(surface, p=np.inf)
    s = float(d.max()) * margin
    t = np.linspace(-1, 1, k)
    off = np.stack(np.meshgrid(t, t, t, indexing="ij"), axis=-1)
    values = sdf(centers[:, None, None, None, :] + s * off[None])
    return MosaicSDF(torch.tensor(centers, dtype=torch.float32), torch.full((len(centers),), s),
                     torch.tensor(values, dtype=torch.float32), normalization)


def sphere_msdf(radius: float = 0.8, n: int = 256, k: int = 7, normalization: Normalization | None = None) -> MosaicSDF:
    return exact_msdf(sphere_sdf(radius), sphere_surface(radius, n), sphere_surface(radius, 20 * n), k,
                      normalization=normalization)


def box_msdf(half=(0.8, 0.5, 0.3), n: int = 384, k: int = 7) -> MosaicSDF:
    from msdf.sampling import farthest_point_sampling

    dense = box_surface(np.asarray(half), 40 * n)
    centers = dense[farthest_point_sampling(dense, n, seed=0)]
    return exact_msdf(box_sdf(np.asarray(half)), centers, dense, k)
