"""Overlap disagreement: the exact sphere agrees with itself, row-level errors show up at their size, and the
leave-one-out blend equals the blend with the row removed."""
import numpy as np
import pytest
import torch

from analytic_msdf import exact_msdf, sphere_sdf, sphere_surface
from msdf.disagreement import node_residuals, overlap_disagreement
from msdf.field import blend_sdf
from msdf.rows import CENTERS, HALF_WIDTH, VALUES


def sphere_rows(n: int = 256, k: int = 5) -> np.ndarray:
    centers = sphere_surface(0.6, n)
    return exact_msdf(sphere_sdf(0.6), centers, sphere_surface(0.6, 20 * n), k=k).to_matrix().numpy()


def test_exact_sphere_agrees_up_to_interpolation_error():
    assert overlap_disagreement(sphere_rows()) < 2e-3


def test_row_offsets_show_up_at_their_size():
    """Each row's values offset by +-delta (random signs): a row disagrees with its neighbours by about delta."""
    m = sphere_rows()
    delta = 0.02
    signs = np.random.default_rng(0).choice([-1.0, 1.0], size=(len(m), 1))
    noisy = m.copy()
    noisy[:, VALUES] += delta * signs
    assert 0.5 * delta < overlap_disagreement(noisy) < 2.0 * delta


def test_a_common_offset_is_agreement():
    """Every row moved the same way is a different surface, not a disagreement."""
    m = sphere_rows()
    moved = m.copy()
    moved[:, VALUES] += 0.01
    assert overlap_disagreement(moved) == pytest.approx(overlap_disagreement(m), abs=5e-4)


def test_leave_one_out_equals_the_blend_without_the_row():
    m = sphere_rows(n=24, k=3)
    m[:, VALUES] += np.random.default_rng(1).normal(0.0, 0.01, m[:, VALUES].shape)
    k = 3
    brute = []
    t = torch.from_numpy(m).double()
    for i in range(len(m)):
        rest = torch.cat([t[:i], t[i + 1:]])
        lin = torch.linspace(-1, 1, k, dtype=torch.float64)
        off = torch.stack(torch.meshgrid(lin, lin, lin, indexing="ij"), -1).reshape(-1, 3)
        nodes = t[i, CENTERS] + t[i, HALF_WIDTH] * off
        f, w = blend_sdf(nodes[None], rest[None, :, CENTERS], rest[None, :, HALF_WIDTH],
                         rest[None, :, VALUES].reshape(1, -1, k, k, k))
        v = t[i, VALUES]
        keep = (v.abs() < t[i, HALF_WIDTH] / (k - 1)) & (w[0] > 1e-6)
        brute.append(v[keep] - f[0][keep])
    np.testing.assert_allclose(node_residuals(m).numpy(), torch.cat(brute).numpy(), atol=1e-9)


def test_grids_that_do_not_overlap_have_no_disagreement_to_measure():
    m = sphere_rows(n=2)
    m[1, CENTERS] += 10.0
    assert overlap_disagreement(m) is None
    m[0, HALF_WIDTH] = np.nan  # no valid M-SDF: nothing to measure either
    assert overlap_disagreement(m) is None
