"""VisCo reconstruction of analytic shapes from points (small grids so the suite stays fast)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from viscogrid import reconstruct
from viscogrid.narrowband import band_mask, build_band, dilate
from viscogrid import grid as G
from viscogrid.pointio import PointLoadError
from viscogrid.schedule import default_schedule

from visco_shapes import sphere_points, torus_points, torus_sdf

FAST = dict(resolution=64, schedule=default_schedule(64, steps_scale=0.5))


def test_schedule_levels():
    levels = default_schedule(256)
    assert [lv.resolution for lv in levels] == [32, 64, 128, 256]
    assert levels[0].band is None and all(lv.band for lv in levels[1:])
    assert [lv.resolution for lv in default_schedule(100)] == [50, 100]
    assert default_schedule(256, steps_scale=0.5)[0].steps == levels[0].steps // 2


def test_band_holds_points_and_excludes_boundary():
    r = 32
    values = G.node_coordinates(r).norm(dim=-1) - 0.5
    pts, _ = sphere_points(500)
    idx, _, _ = G.trilinear_stencil(torch.as_tensor(pts, dtype=torch.float32), r)
    mask = band_mask(values, idx, 2, G.spacing(r))
    band = build_band(mask, idx)
    assert mask.sum() < r**3 / 2
    ijk = torch.stack([band.nodes // (r * r), (band.nodes // r) % r, band.nodes % r], 1)
    assert ((ijk > 0) & (ijk < r - 1)).all()
    x = torch.cat([values.reshape(-1)[band.nodes], values.reshape(-1)[band.const_nodes]])
    assert torch.equal(x[band.nb_local], values.reshape(-1)[G.neighbours(band.nodes, r)])


def test_dilate_is_a_box():
    mask = torch.zeros(9, 9, 9, dtype=torch.bool)
    mask[4, 4, 1] = True
    out = dilate(mask, 2)
    expected = torch.zeros_like(mask)
    expected[2:7, 2:7, 0:4] = True
    assert torch.equal(out, expected)


def test_sphere_in_user_coordinates():
    """Off-centre, scaled sphere: the mesh comes back in the input frame, on the sphere to a fraction of a cell."""
    center, radius = np.array([10.0, -3.0, 2.0]), 5.0
    pts, nrm = sphere_points(4000, radius, center)
    sdf, mesh = reconstruct(pts, nrm, **FAST)
    assert mesh.is_watertight
    err = np.abs(np.linalg.norm(mesh.vertices - center, axis=1) - radius)
    cell = 2 * radius / 0.9 * G.spacing(64) / 2  # one grid cell in user units
    assert err.max() < 0.25 * cell
    assert mesh.volume == pytest.approx(4 / 3 * np.pi * radius**3, rel=0.01)
    q = center + np.array([[0.5 * radius, 0.0, 0.0], [0, 0, 1.05 * radius]])
    deep, near = sdf.sdf(q)
    assert deep == pytest.approx(-0.5 * radius, abs=0.05 * radius)  # far from the data: coarse-level accuracy
    assert near == pytest.approx(0.05 * radius, abs=0.01 * radius)


def test_torus():
    pts, nrm = torus_points(6000)
    _, mesh = reconstruct(pts, nrm, **FAST)
    assert mesh.is_watertight and mesh.euler_number == 0  # genus 1
    assert np.abs(torus_sdf(mesh.vertices, 0.6, 0.25)).max() < 0.01


def test_sphere_without_normals():
    pts, _ = sphere_points(4000)
    _, mesh = reconstruct(pts, None, **FAST)
    assert mesh.is_watertight
    assert np.abs(np.linalg.norm(mesh.vertices, axis=1) - 0.5).max() < 0.01


@pytest.mark.parametrize(
    "points, normals, message",
    [
        (np.zeros((0, 3)), None, "no points"),
        (np.ones((1, 3)), None, "only 1 point"),
        (np.array([[0, 0, 0], [1, 0, 0], [0, 1, np.nan], [0, 0, 1]], dtype=float), None, "NaN"),
        (np.ones((5, 3)), None, "coincide"),
        (np.eye(3)[[0, 1, 2, 0, 1]] * np.arange(1, 6)[:, None], np.zeros((5, 3)), "zero"),
        (np.ones((5, 2)), None, "shape"),
    ],
)
def test_bad_inputs(points, normals, message):
    with pytest.raises(PointLoadError, match=message):
        reconstruct(points, normals, resolution=32)
