"""msdf.sampling: area-uniform surface samples and farthest-point sampling."""
from __future__ import annotations

import numpy as np
import pytest
import trimesh
from scipy.spatial import cKDTree

from msdf.sampling import farthest_point_sampling, sample_surface


def test_surface_samples_on_surface_with_normals_and_seeded():
    mesh = trimesh.creation.icosphere(4)
    p, n = sample_surface(mesh, 5000, seed=3)
    assert p.shape == n.shape == (5000, 3)
    np.testing.assert_allclose(np.linalg.norm(p, axis=1), 1.0, atol=3e-3)
    assert (np.einsum("ij,ij->i", p, n) > 0.99).all()  # outward normals of a sphere
    p2, _ = sample_surface(mesh, 5000, seed=3)
    p3, _ = sample_surface(mesh, 5000, seed=4)
    assert np.array_equal(p, p2) and not np.array_equal(p, p3)


def test_surface_samples_are_area_uniform():
    # a box 4 x 1 x 1: the four long faces hold 16/18 of the area
    mesh = trimesh.creation.box(extents=[4, 1, 1])
    p, _ = sample_surface(mesh, 20000, seed=0)
    frac_ends = np.mean(np.abs(p[:, 0]) > 2 - 1e-9)
    assert abs(frac_ends - 2 / 18) < 0.01


def test_fps_spreads_points():
    rng = np.random.default_rng(0)
    pts = rng.random((20000, 3))
    idx = farthest_point_sampling(pts, 256, seed=1)
    assert idx.shape == (256,) and len(np.unique(idx)) == 256
    chosen = pts[idx]
    # covering radius: every point is close to a chosen one; FPS beats a random subset clearly
    fps_cover = cKDTree(chosen).query(pts)[0].max()
    rand_cover = cKDTree(pts[rng.choice(len(pts), 256, replace=False)]).query(pts)[0].max()
    assert fps_cover < 0.7 * rand_cover
    # greedy property: the minimum pairwise distance is at least half the covering radius
    d, _ = cKDTree(chosen).query(chosen, k=2)
    assert d[:, 1].min() >= 0.5 * fps_cover - 1e-12


def test_fps_seeded_and_small_inputs():
    pts = np.random.default_rng(0).random((1000, 3))
    assert np.array_equal(farthest_point_sampling(pts, 50, seed=2), farthest_point_sampling(pts, 50, seed=2))
    assert np.array_equal(farthest_point_sampling(pts[:10], 20), np.arange(10))
    with pytest.raises(ValueError):
        farthest_point_sampling(np.zeros((0, 3)), 4)
