"""Wholeness of a decoded surface (largest component's area share) and its summary over a sample set."""
import numpy as np
import pytest
import trimesh

from msdf.wholeness import FAILED, summarize, wholeness


def test_one_sphere_is_whole():
    assert wholeness(trimesh.creation.icosphere(3)) == {"wholeness": 1.0, "components": 1}


def test_two_spheres_share_by_area():
    big = trimesh.creation.icosphere(3, radius=2.0)
    small = trimesh.creation.icosphere(3, radius=1.0).apply_translation([10, 0, 0])
    w = wholeness(trimesh.util.concatenate([big, small]))
    assert w["components"] == 2
    assert w["wholeness"] == pytest.approx(big.area / (big.area + small.area))
    assert w["wholeness"] == pytest.approx(0.8, abs=1e-3)  # areas scale with r^2: 4 / (4 + 1)


def test_empty_mesh_counts_as_failed_and_summary_includes_failures():
    empty = trimesh.Trimesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64))
    assert wholeness(empty) == FAILED
    assert wholeness(None) == FAILED  # a failed decode
    s = summarize([{"wholeness": 1.0, "components": 1}, {"wholeness": 0.5, "components": 7}, dict(FAILED)])
    assert s["median_wholeness"] == 0.5 and s["median_components"] == 1
    assert s["share_whole"] == pytest.approx(1 / 3) and s["count"] == 3


def test_stray_rows_are_the_grids_off_the_main_component():
    """Rows centred on the big sphere's surface are not stray; a row centred on the small far sphere (debris) or in
    empty space farther than its half-width is; a failed decode makes every row stray."""
    big = trimesh.creation.icosphere(3, radius=1.0)
    small = trimesh.creation.icosphere(2, radius=0.1).apply_translation([3, 0, 0])
    mesh = trimesh.util.concatenate([big, small])
    k3 = 8
    rows = np.zeros((4, 4 + k3))
    rows[:, 3] = 0.2
    rows[0, :3] = [1.0, 0.0, 0.0]  # on the big sphere
    rows[1, :3] = [0.0, 1.1, 0.0]  # 0.1 off it: within its half-width
    rows[2, :3] = [3.0, 0.1, 0.0]  # on the debris
    rows[3, :3] = [0.0, 0.0, 1.5]  # in empty space, 0.5 from the surface
    assert wholeness(mesh, rows)["stray_rows"] == 2
    assert "stray_rows" not in wholeness(mesh)
    assert wholeness(None, rows) == {**FAILED, "stray_rows": 4}
    s = summarize([wholeness(mesh, rows), wholeness(None, rows), wholeness(big, rows)])
    assert s["median_stray_rows"] == 2  # of (2, 4, 2)


def test_summary_counts_an_unmeasurable_disagreement_as_the_worst():
    base = {"wholeness": 1.0, "components": 1}
    s = summarize([{**base, "disagreement": 0.01}, {**base, "disagreement": None}, {**base, "disagreement": 0.02}])
    assert s["median_disagreement"] == pytest.approx(0.02)
    s = summarize([{**base, "disagreement": 0.01}, {**base, "disagreement": None}, {**base, "disagreement": None}])
    assert s["median_disagreement"] is None
    assert "median_disagreement" not in summarize([base])
