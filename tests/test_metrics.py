"""msdf.metrics.fidelity on cases with known answers."""
from __future__ import annotations

import numpy as np
import trimesh

from msdf.metrics import fidelity


def test_identical_meshes():
    s = trimesh.creation.icosphere(4)
    f = fidelity(s, s, n_points=20000)
    assert f["chamfer_l1"] < 1e-6 and f["fscore"] == 1.0 and f["iou"] == 1.0
    assert f["normal_consistency"] > 0.9999


def test_scaled_sphere_known_chamfer():
    # reference radius 1 (metric frame = itself); reconstruction radius 1.1: every distance is 0.1
    ref = trimesh.creation.icosphere(5)
    rec = ref.copy()
    rec.apply_scale(1.1)
    f = fidelity(rec, ref, n_points=20000)
    assert abs(f["chamfer_l1"] - 0.1) < 2e-3
    assert f["fscore"] == 0.0
    assert abs(f["iou"] - 1 / 1.1**3) < 0.02
    assert f["normal_consistency"] > 0.999


def test_metric_frame_is_scale_invariant():
    ref = trimesh.creation.icosphere(4)
    rec = ref.copy()
    rec.apply_scale(1.05)
    a = fidelity(rec, ref, n_points=10000)
    ref2, rec2 = ref.copy(), rec.copy()
    for m in (ref2, rec2):
        m.apply_scale(7.0)
        m.apply_translation([3, -2, 5])
    b = fidelity(rec2, ref2, n_points=10000)
    for key in a:
        assert abs(a[key] - b[key]) < 1e-3 * max(1.0, abs(a[key]))


def test_fscore_tau_is_exactly_one_percent_of_the_metric_frame():
    ref = trimesh.creation.icosphere(5)  # radius 1: the metric frame (longest side [-1, 1]) is the mesh's own frame
    inside, outside = ref.copy(), ref.copy()
    inside.apply_scale(1.0095)  # every point 0.0094..0.0095 from the reference: within tau = 0.01
    outside.apply_scale(1.0105)  # every point 0.0104..0.0105 away: beyond tau
    assert fidelity(inside, ref, n_points=5000)["fscore"] == 1.0
    assert fidelity(outside, ref, n_points=5000)["fscore"] == 0.0


def test_fscore_threshold_and_empty():
    ref = trimesh.creation.icosphere(5)
    rec = ref.copy()
    rec.apply_scale(1.005)  # 0.005 < tau = 0.01 everywhere
    assert fidelity(rec, ref, n_points=10000)["fscore"] == 1.0
    empty = trimesh.Trimesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=int))
    f = fidelity(empty, ref)
    assert f["chamfer_l1"] == float("inf") and f["fscore"] == 0.0
