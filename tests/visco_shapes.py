"""Analytic point sets with exact normals for the VisCo tests: sphere and torus."""
from __future__ import annotations

import numpy as np


def sphere_points(count: int, radius: float = 0.5, center=(0.0, 0.0, 0.0), seed: int = 0):
    """Uniform points (count, 3) on a sphere and their outward unit normals (count, 3)."""
    n = np.random.default_rng(seed).normal(size=(count, 3))
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    return np.asarray(center) + radius * n, n


def torus_sdf(x: np.ndarray, major: float, minor: float) -> np.ndarray:
    """Exact SDF of the torus around the z axis: ``|(|x_xy| - R, z)| - r``."""
    q = np.stack([np.linalg.norm(x[:, :2], axis=1) - major, x[:, 2]], axis=1)
    return np.linalg.norm(q, axis=1) - minor


def torus_points(count: int, major: float = 0.6, minor: float = 0.25, seed: int = 0):
    """Area-uniform points (count, 3) on a z-axis torus and their outward normals (count, 3)."""
    g = np.random.default_rng(seed)
    u = g.uniform(0, 2 * np.pi, 4 * count)
    v = g.uniform(0, 2 * np.pi, 4 * count)
    # area element ~ (R + r cos v): rejection sampling
    keep = g.uniform(0, major + minor, 4 * count) < major + minor * np.cos(v)
    u, v = u[keep][:count], v[keep][:count]
    n = np.stack([np.cos(v) * np.cos(u), np.cos(v) * np.sin(u), np.sin(v)], axis=1)
    centre = np.stack([major * np.cos(u), major * np.sin(u), np.zeros_like(u)], axis=1)
    return centre + minor * n, n
