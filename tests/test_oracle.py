"""msdf.oracle.SDFOracle against analytic shapes and on open meshes."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

from msdf.meshio import load_mesh
from msdf.oracle import SDFOracle

DATA = Path(__file__).parent / "data"


def _box_sdf(q: np.ndarray, half: np.ndarray) -> np.ndarray:
    d = np.abs(q) - half
    return np.linalg.norm(np.maximum(d, 0), axis=1) + np.minimum(d.max(axis=1), 0)


def test_sphere_distance_and_sign():
    mesh = trimesh.creation.icosphere(subdivisions=5, radius=1.0)
    oracle = SDFOracle(mesh)
    assert oracle.sign_method == "pseudonormal"
    q = np.random.default_rng(0).uniform(-2, 2, (5000, 3))
    r = np.linalg.norm(q, axis=1)
    # the icosphere's facets sit at most ~3e-4 inside the unit sphere
    np.testing.assert_allclose(oracle(q), r - 1.0, atol=5e-4)
    assert np.array_equal(oracle.inside(q), r < 1.0) or np.abs(r[oracle.inside(q) != (r < 1)] - 1).max() < 5e-4


def test_box_exact():
    half = np.array([0.5, 0.3, 0.2])
    mesh = trimesh.creation.box(extents=2 * half)
    oracle = SDFOracle(mesh)
    q = np.random.default_rng(1).uniform(-1, 1, (5000, 3))
    np.testing.assert_allclose(oracle(q), _box_sdf(q, half), atol=1e-6)
    np.testing.assert_allclose(oracle.unsigned(q), np.abs(_box_sdf(q, half)), atol=1e-6)


def test_points_on_edges_and_vertices_of_box_get_right_sign():
    half = np.array([0.5, 0.5, 0.5])
    oracle = SDFOracle(trimesh.creation.box(extents=2 * half))
    # diagonal directions: closest feature is a vertex or an edge
    dirs = np.array([[1, 1, 1], [1, 1, 0], [-1, 0, 1], [0, -1, -1], [-1, -1, -1]], dtype=float)
    outside = half * np.sign(dirs) + 0.05 * dirs
    inside = 0.45 * np.sign(dirs)
    assert (oracle(outside) > 0).all() and (oracle(inside) < 0).all()


def test_inverted_and_inconsistent_winding_is_repaired():
    mesh = trimesh.creation.icosphere(3)
    flipped = trimesh.Trimesh(mesh.vertices, mesh.faces[:, ::-1].copy(), process=False)
    patchy = mesh.copy()
    patchy.faces[::7] = patchy.faces[::7, ::-1]
    q = np.array([[0, 0, 0], [0.5, 0.2, 0.1], [2, 0, 0], [0, -1.5, 0.3]])
    expected = np.array([-1, -1, 1, 1])
    for m in (flipped, patchy):
        assert np.array_equal(np.sign(SDFOracle(m)(q)), expected)


def test_several_components():
    a = trimesh.creation.icosphere(3, radius=0.5)
    b = a.copy()
    b.apply_translation([2, 0, 0])
    oracle = SDFOracle(trimesh.util.concatenate([a, b]))
    q = np.array([[0, 0, 0], [2, 0, 0], [1, 0, 0], [2.4, 0, 0]])
    np.testing.assert_allclose(oracle(q), [-0.5, -0.5, 0.5, -0.1], atol=3e-3)  # facets: 2.3e-3 inside


@pytest.mark.parametrize("name", ["head.off", "mushroom.off"])
def test_open_meshes_far_points_outside(name):
    mesh = load_mesh(DATA / "open" / name)
    assert not mesh.is_watertight
    oracle = SDFOracle(mesh)
    assert oracle.sign_method == "winding"
    c, r = mesh.bounds.mean(axis=0), float(np.linalg.norm(mesh.extents))
    dirs = np.random.default_rng(2).normal(size=(500, 3))
    far = c + 3 * r * dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
    sdf = oracle(far)
    assert np.isfinite(sdf).all() and (sdf > 0).all()
    # the bulk of the shape is still inside: the centre-ish points of a closed-but-holey object
    q = np.random.default_rng(3).uniform(mesh.bounds[0], mesh.bounds[1], (4000, 3))
    frac_inside = float(np.mean(oracle(q) < 0))
    assert 0.05 < frac_inside < 0.95


def test_watertight_pseudonormal_sign_matches_winding_number():
    mesh = load_mesh(DATA / "watertight" / "pinion.off")
    oracle = SDFOracle(mesh)
    assert oracle.sign_method == "pseudonormal"
    rng = np.random.default_rng(4)
    pts = mesh.sample(20000, seed=4) + rng.normal(scale=0.02 * mesh.scale, size=(20000, 3))
    sdf = oracle(pts)
    wn_inside = oracle.inside(pts)
    disagree = (sdf < 0) != wn_inside
    assert np.abs(sdf[disagree]).max(initial=0) < 1e-5 * mesh.scale


def test_bad_points_shape():
    with pytest.raises(ValueError, match="shape"):
        SDFOracle(trimesh.creation.box())(np.zeros((4, 2)))
