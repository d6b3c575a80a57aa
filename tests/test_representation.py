"""MosaicSDF: matrix form, the .npz format and its validation, and the signed field including uncovered space."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from analytic_msdf import sphere_msdf

from msdf.normalization import Normalization
from msdf.representation import FORMAT_VERSION, MosaicSDF, MSDFFormatError, stack

NORM = Normalization(center=np.array([1.0, -2.0, 0.5]), scale=3.0)


@pytest.fixture(scope="module")
def sphere():
    return sphere_msdf(radius=0.8, n=256, normalization=NORM)


def test_matrix_round_trip(sphere):
    m = sphere.to_matrix()
    assert m.shape == (256, 4 + 7**3)
    again = MosaicSDF.from_matrix(m, NORM)
    torch.testing.assert_close(again.values, sphere.values)
    torch.testing.assert_close(again.scales, sphere.scales)
    # row layout: [p | s | V in C order], V[a, b, c] with a along x
    torch.testing.assert_close(m[5, :3], sphere.centers[5])
    assert m[5, 3] == sphere.scales[5]
    assert m[5, 4 + 1 * 49 + 2 * 7 + 3] == sphere.values[5, 1, 2, 3]


def test_save_load_round_trip(sphere, tmp_path):
    path = tmp_path / "shape.npz"
    sphere.save(path)
    loaded = MosaicSDF.load(path)
    assert loaded.normalization == NORM
    torch.testing.assert_close(loaded.to_matrix(), sphere.to_matrix())
    assert [p.name for p in tmp_path.iterdir()] == ["shape.npz"]  # atomic write left no temporary behind
    with np.load(path, allow_pickle=False) as z:
        assert set(z.files) == {"matrix", "n", "k", "norm_center", "norm_scale", "format_version"}
        assert int(z["format_version"]) == FORMAT_VERSION and z["matrix"].dtype == np.float32


def _write(path, **override):
    k = 3
    d = dict(matrix=np.concatenate([np.zeros((4, 3)), np.full((4, 1), 0.1), np.zeros((4, k**3))], 1).astype(np.float32),
             n=np.int64(4), k=np.int64(k), norm_center=np.zeros(3), norm_scale=np.float64(1.0),
             format_version=np.int64(FORMAT_VERSION))
    d.update(override)
    d = {key: val for key, val in d.items() if val is not None}
    np.savez(path, **d)
    return path


def test_valid_minimal_file_loads(tmp_path):
    assert MosaicSDF.load(_write(tmp_path / "ok.npz")).k == 3


@pytest.mark.parametrize("override, reason", [
    (dict(format_version=np.int64(99)), "unknown format_version"),
    (dict(norm_scale=None), "missing keys"),
    (dict(extra=np.zeros(2)), "unexpected keys"),
    (dict(matrix=np.zeros((4, 30), np.float32)), "not 4 \\+ k\\^3"),
    (dict(matrix=np.zeros((4, 31), np.float32)), "half-width"),
    (dict(k=np.int64(2)), "does not match"),
    (dict(n=np.int64(5)), "does not match"),
    (dict(norm_scale=np.float64(-1.0)), "bad normalization"),
    (dict(matrix=np.zeros((0, 31), np.float32)), "no rows"),
    (dict(matrix=np.array([object()] * 4, dtype=object)), "pickled objects"),
])
def test_bad_files_raise_format_error(tmp_path, override, reason):
    path = _write(tmp_path / "bad.npz", **override)
    with pytest.raises(MSDFFormatError, match=reason) as e:
        MosaicSDF.load(path)
    assert str(path) in str(e.value)


def test_non_finite_values_are_rejected(tmp_path):
    m = np.concatenate([np.zeros((4, 3)), np.full((4, 1), 0.1), np.zeros((4, 27))], 1).astype(np.float32)
    m[2, 10] = np.nan
    with pytest.raises(MSDFFormatError, match="non-finite"):
        MosaicSDF.load(_write(tmp_path / "nan.npz", matrix=m))
    with pytest.raises(MSDFFormatError, match="non-finite"):
        MosaicSDF.from_matrix(m)


def test_missing_and_non_npz_files(tmp_path):
    with pytest.raises(MSDFFormatError, match="no such file"):
        MosaicSDF.load(tmp_path / "nope.npz")
    junk = tmp_path / "junk.npz"
    junk.write_text("not a zip")
    with pytest.raises(MSDFFormatError, match="junk.npz"):
        MosaicSDF.load(junk)


def test_sdf_in_user_and_unit_frames(sphere):
    # exact sphere of radius 0.8 (unit) = 2.4 (user) around NORM.center; grids hug the surface only
    dirs = np.random.default_rng(0).normal(size=(200, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    r = np.random.default_rng(1).uniform(0.72, 0.88, size=(200, 1))
    unit = dirs * r
    exact = r[:, 0] - 0.8
    np.testing.assert_allclose(sphere.sdf(unit, frame="unit"), exact, atol=2e-3)
    user = NORM.to_user(unit)
    np.testing.assert_allclose(sphere.sdf(user), exact * NORM.scale, atol=6e-3)
    t = sphere.sdf(torch.tensor(user))
    assert isinstance(t, torch.Tensor) and t.shape == (200,)


def test_uncovered_space_has_the_right_sign(sphere):
    inside = np.array([[0, 0, 0], [0.3, 0.1, -0.2], [0, 0, 0.6]])
    outside = np.array([[0, 0, 0.97], [1.5, 0, 0], [5.0, 5.0, 5.0], [0.0, -0.99, 0.0]])
    assert np.all(sphere.sdf(inside, frame="unit") < 0)
    assert np.all(sphere.sdf(outside, frame="unit") > 0)
    # far away the magnitude grows like a distance
    far = sphere.sdf(np.array([[3.0, 0, 0], [6.0, 0, 0]]), frame="unit")
    assert 1.5 < far[0] < far[1]


def test_to_device_and_stack(sphere):
    other = sphere.to("cpu")
    c, s, v = stack([sphere, other])
    assert c.shape == (2, 256, 3) and s.shape == (2, 256) and v.shape == (2, 256, 7, 7, 7)
    with pytest.raises(ValueError, match="n="):
        stack([sphere, MosaicSDF.from_matrix(sphere.to_matrix()[:10])])
