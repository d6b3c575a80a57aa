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
