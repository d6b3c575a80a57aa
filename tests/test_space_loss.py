"""Space loss: a predicted grid's values must lie on the data shape's side of zero where it sits (msdf.flow.space_loss)."""
import numpy as np
import pytest
import torch

from analytic_msdf import sphere_msdf
from msdf.flow.field_loss import node_offsets
from msdf.flow.space_loss import SpaceTruth, space_loss
from msdf.rows import join_rows

K, R = 7, 0.6


@pytest.fixture(scope="module")
def sphere():
    """Rows (1, 256, 4 + 7^3) of the exact sphere M-SDF of radius 0.6 and its truth volume at 48^3."""
    m = sphere_msdf(R, n=256, k=K)
    rows = join_rows(m.centers, m.scales, m.values)[None]
    return rows, SpaceTruth.build(rows, resolution=48)


def test_truth_is_the_sdf_in_the_band_and_a_signed_lower_bound_elsewhere(sphere):
    rows, truth = sphere
    pts = torch.from_numpy(np.random.default_rng(0).uniform(-1.0, 1.0, size=(1, 4000, 3))).float()
    exact = (pts.norm(dim=-1) - R).clamp(-truth.tau, truth.tau)
    got = truth.at(torch.zeros(1, dtype=torch.long), pts)
    band = exact.abs() < 0.5 * float(rows[0, 0, 3])
    assert (got[band] - exact[band]).abs().max() < 0.02  # the blend, read trilinearly
    far = exact.abs() > 0.05
    assert (torch.sign(got[far]) == torch.sign(exact[far])).all()  # deep inside is inside, empty space outside
    assert (got.abs() <= exact.abs() + 0.02).all()  # never claims more distance than there is
    centre = truth.at(torch.zeros(1, dtype=torch.long), torch.zeros(1, 1, 3))
    assert float(centre) < 0


def test_stray_grids_with_surface_values_are_charged(sphere):
    rows, truth = sphere
    t, idx, std = torch.ones(1), torch.zeros(1, dtype=torch.long), 0.1
    base = float(space_loss(rows, truth, idx, t, K, std))
    assert base < 1e-8  # the data meets its own truth
    stray = rows.clone()
    stray[0, :8, :3] = torch.tensor([0.95, 0.95, 0.95])  # 8 grids moved into empty space, surface values kept
    assert float(space_loss(stray, truth, idx, t, K, std)) > 1e-3
    cleared = stray.clone()
    cleared[0, :8, 4:] = 1.0  # the same grids, all outside: nothing to penalise there
    assert float(space_loss(cleared, truth, idx, t, K, std)) <= base + 1e-7
    inside = rows.clone()
    inside[0, :8, :3] = 0.0  # grids moved to the sphere's centre keep surface values: a phantom surface inside
    assert float(space_loss(inside, truth, idx, t, K, std)) > 1e-3
    assert float(space_loss(stray, truth, idx, 0.5 * t, K, std)) == pytest.approx(
        0.5 * float(space_loss(stray, truth, idx, t, K, std)))  # weighted by t


def test_the_margin_leaves_values_near_the_surface_to_the_other_losses(sphere):
    rows, truth = sphere
    t, idx = torch.ones(1), torch.zeros(1, dtype=torch.long)
    shifted = rows.clone()
    shifted[..., 4:] -= 0.5 * truth.h  # the surface moved out by half a lattice spacing
    assert float(space_loss(shifted, truth, idx, t, K, 0.1)) < 1e-8
    assert float(space_loss(shifted, truth, idx, t, K, 0.1, margin=0.0)) > 1e-4  # without the margin: charged


def test_gradient_lifts_a_stray_grid_values_and_leaves_its_place(sphere):
    rows, truth = sphere
    stray = rows.clone()
    stray[0, 0, :3] = torch.tensor([0.9, -0.9, 0.9])
    stray.requires_grad_(True)
    space_loss(stray, truth, torch.zeros(1, dtype=torch.long), torch.ones(1), K, 0.1).backward()
    g = stray.grad[0, 0]
    assert (g[4:] <= 0).all() and (g[4:] < 0).any()  # descent raises the values towards "outside"
    assert g[:4].abs().sum() == 0  # positions are detached


def test_shapes_are_read_from_their_own_volume():
    """Two shapes, one lattice: each batch entry reads the volume its index names."""
    offsets = node_offsets(3)
    rows = []
    for z in (-0.5, 0.5):  # grids on the planes z = -0.5 and z = 0.5
        centres = torch.tensor([[x, y, z] for x in (-0.3, 0.0, 0.3) for y in (-0.3, 0.0, 0.3)])
        values = (centres[:, None, :] + 0.2 * offsets)[..., 2] - z
        rows.append(torch.cat([centres, torch.full((9, 1), 0.2), values], dim=1))
    truth = SpaceTruth.build(torch.stack(rows), resolution=24)
    p = torch.tensor([[[0.0, 0.0, 0.6]]]).repeat(2, 1, 1)
    got = truth.at(torch.tensor([0, 1]), p)[:, 0]
    assert float(got[0]) == pytest.approx(truth.tau, rel=1e-3)  # 1.1 above z = -0.5: clipped (float16)
    assert float(got[1]) == pytest.approx(0.1, abs=0.01)  # 0.1 above the plane z = 0.5
