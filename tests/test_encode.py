"""msdf.encode / msdf.refine: invariance, coverage, fidelity floors, refinement gain, batch and CLI."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh

from msdf.cli import main as cli_main
from msdf.decoder import decode
from msdf.encoder import encode, encode_mesh_batch, grid_offsets, initialize, inner_half_thickness
from msdf.field import blend_sdf
from msdf.meshio import load_mesh
from msdf.metrics import fidelity
from msdf.oracle import SDFOracle
from msdf.refine import blend_matrix
from msdf.representation import MosaicSDF

DATA = Path(__file__).parent / "data"
SMALL = dict(n_grids=256, k=5)


@pytest.fixture(scope="module")
def cactus():
    return load_mesh(DATA / "watertight" / "cactus.off")


def test_grid_offsets_follow_the_contract():
    off = grid_offsets(3).reshape(3, 3, 3, 3)
    np.testing.assert_allclose(off[2, 0, 1], [1.0, -1.0, 0.0])


def test_translation_and_scale_give_the_same_normalised_msdf(cactus):
    moved = cactus.copy()
    moved.apply_scale(3.7)
    moved.apply_translation([10.0, -4.0, 2.5])
    a = encode(cactus, refine_steps=0, seed=1, **SMALL)
    b = encode(moved, refine_steps=0, seed=1, **SMALL)
    np.testing.assert_allclose(a.to_matrix().numpy(), b.to_matrix().numpy(), atol=1e-4)
    np.testing.assert_allclose(b.normalization.scale / a.normalization.scale, 3.7, rtol=1e-9)


def test_sphere_values_are_exact_and_covering():
    sphere = trimesh.creation.icosphere(5, radius=2.0)
    init = initialize(sphere, n_grids=128, k=5, seed=0)
    assert init.coverage == 1.0
    nodes = init.centers[:, None] + init.half_width * grid_offsets(5)[None]
    # unit frame: radius 0.9; icosphere(5) facets lie up to 3e-4 * 0.9 inside the sphere
    np.testing.assert_allclose(init.values.reshape(-1), np.linalg.norm(nodes, axis=-1).reshape(-1) - 0.9, atol=4e-4)


def test_half_width_factor_scales_the_shared_half_width_and_keeps_values_exact():
    sphere = trimesh.creation.icosphere(5, radius=2.0)
    base = initialize(sphere, n_grids=128, k=5, seed=0)
    wide = initialize(sphere, n_grids=128, k=5, seed=0, half_width_factor=1.8)
    np.testing.assert_array_equal(wide.centers, base.centers)
    assert wide.half_width == pytest.approx(base.half_width * 1.8 / 1.2, rel=1e-12)
    nodes = wide.centers[:, None] + wide.half_width * grid_offsets(5)[None]
    np.testing.assert_allclose(wide.values.reshape(-1), np.linalg.norm(nodes, axis=-1).reshape(-1) - 0.9, atol=4e-4)
    with pytest.raises(ValueError, match="half-width factor"):
        initialize(sphere, n_grids=128, k=5, half_width_factor=1.0)


def test_thick_parts_get_wider_grids_and_thin_parts_keep_theirs():
    # unit frame (longest side 1.8): the slab's half-thickness is 0.045, far below s; the sphere (radius 0.9) is far
    # thicker than the widest grid
    slab = initialize(trimesh.creation.box((2.0, 2.0, 0.1)), n_grids=128, k=5, thick_half_width_factor=2.0)
    np.testing.assert_array_equal(slab.half_widths, slab.half_width)
    ball = initialize(trimesh.creation.icosphere(5, radius=2.0), n_grids=128, k=5, thick_half_width_factor=2.0)
    np.testing.assert_allclose(ball.half_widths, ball.half_width * 2.0 / 1.2, rtol=2e-3)  # facets sag 3e-4
    nodes = ball.centers[:, None] + ball.half_widths[:, None, None] * grid_offsets(5)[None]
    np.testing.assert_allclose(ball.values.reshape(-1), np.linalg.norm(nodes, axis=-1).reshape(-1) - 0.9, atol=4e-4)
    with pytest.raises(ValueError, match="thick half-width factor"):
        initialize(trimesh.creation.icosphere(3), n_grids=64, k=3, thick_half_width_factor=1.1)


def test_per_shape_widening_widens_every_grid_of_a_thick_shape_only():
    """A ball on a thin slab: per part, only the ball's grids widen; per shape (the ball holds well over 10% of the
    grids), every grid does; the slab alone keeps the covering width either way."""
    ball = trimesh.creation.icosphere(4, radius=0.5).apply_translation([0.0, 0.0, 0.55])
    both = trimesh.util.concatenate([trimesh.creation.box((2.0, 2.0, 0.1)), ball])
    per_part = initialize(both, n_grids=128, k=5, thick_half_width_factor=2.0)
    widened = per_part.half_widths > per_part.half_width
    assert 0.1 < widened.mean() < 0.9
    per_shape = initialize(both, n_grids=128, k=5, thick_half_width_factor=2.0, thick_per_shape=True)
    np.testing.assert_allclose(per_shape.half_widths, per_shape.half_width * 2.0 / 1.2)
    slab = initialize(trimesh.creation.box((2.0, 2.0, 0.1)), n_grids=128, k=5, thick_half_width_factor=2.0,
                      thick_per_shape=True)
    np.testing.assert_array_equal(slab.half_widths, slab.half_width)
    with pytest.raises(ValueError, match="per shape needs"):
        initialize(ball, n_grids=64, k=3, thick_per_shape=True)


def test_inner_half_thickness_of_a_slab_and_a_sphere():
    box = trimesh.creation.box((4.0, 4.0, 0.4))  # half-thickness 0.2 under the top face
    ball = trimesh.creation.icosphere(5, radius=1.0)
    top = np.array([[0.0, 0.0, 0.2], [1.0, -1.0, 0.2]])
    up = np.tile([0.0, 0.0, 1.0], (2, 1))
    assert inner_half_thickness(SDFOracle(box), top, up, reach=0.8) == pytest.approx([0.2, 0.2], abs=1e-6)
    pole = np.array([[0.0, 0.0, 1.0]])
    assert inner_half_thickness(SDFOracle(ball), pole, up[:1], reach=0.5) == pytest.approx([0.5], abs=2e-3)


@pytest.mark.parametrize("per_grid", [False, True])
def test_blend_matrix_matches_blend_sdf(cactus, per_grid):
    init = initialize(cactus, **SMALL)
    rng = np.random.default_rng(0)
    pts = init.surface[:2000] + rng.normal(scale=init.half_width / 2, size=(2000, 3))
    widths = init.half_width * (1.0 + rng.random(256) if per_grid else np.ones(256))  # per grid: s_i in [s, 2s)
    A = blend_matrix(pts, init.centers, widths if per_grid else init.half_width, 5)
    F, W = blend_sdf(torch.tensor(pts)[None], torch.tensor(init.centers)[None],
                     torch.tensor(widths)[None], torch.tensor(init.values)[None])
    np.testing.assert_allclose(A @ init.values.reshape(-1), F[0].numpy(), atol=1e-12)
    assert np.array_equal(np.diff(A.indptr) > 0, W[0].numpy() > 0)


@pytest.mark.parametrize("name", ["pinion.off", "lemon.obj"])
def test_real_meshes_round_trip_with_fidelity_floor_and_refinement_gain(name):
    mesh = load_mesh(DATA / "watertight" / name)
    plain = encode(mesh, refine_steps=0, **SMALL)
    refined = encode(mesh, refine_steps=40, **SMALL)
    assert plain.info["coverage"] == 1.0 and refined.info["coverage"] == 1.0
    before, after = refined.info["refine_loss"]
    assert after < before
    f0 = fidelity(decode(plain, 96), mesh, n_points=10000)
    f1 = fidelity(decode(refined, 96), mesh, n_points=10000)
    assert f1["chamfer_l1"] < 4e-3 and f1["fscore"] > 0.95 and f1["iou"] > 0.95
    assert f1["chamfer_l1"] < f0["chamfer_l1"]  # refinement must lower the error, not merely keep it


def test_refinement_never_increases_the_loss_and_is_deterministic(cactus):
    a = encode(cactus, refine_steps=20, seed=3, **SMALL)
    b = encode(cactus, refine_steps=20, seed=3, **SMALL)
    assert a.info["refine_loss"][1] <= a.info["refine_loss"][0]
    assert torch.equal(a.to_matrix(), b.to_matrix())


def test_batch_equals_single(cactus):
    lemon = load_mesh(DATA / "watertight" / "lemon.obj")
    batch = encode_mesh_batch([cactus, lemon], refine_steps=10, **SMALL)
    single = encode(lemon, refine_steps=10, **SMALL)
    np.testing.assert_allclose(batch[1].to_matrix().numpy(), single.to_matrix().numpy(), atol=1e-5)


def test_cli_encode(tmp_path, capsys):
    out = tmp_path / "cactus.npz"
    rc = cli_main(["encode", str(DATA / "watertight" / "cactus.off"), "-o", str(out), "--grids", "128", "--k", "5",
                   "--refine-steps", "5", "--quiet"])
    assert rc == 0
    m = MosaicSDF.load(out)
    assert m.n == 128 and m.k == 5
    wide = tmp_path / "wide.npz"
    assert cli_main(["encode", str(DATA / "watertight" / "cactus.off"), "-o", str(wide), "--grids", "128", "--k", "5",
                     "--refine-steps", "0", "--half-width-factor", "1.5", "--quiet"]) == 0
    assert float(MosaicSDF.load(wide).scales[0]) == pytest.approx(float(m.scales[0]) * 1.5 / 1.2, rel=1e-5)
    cactus = str(DATA / "watertight" / "cactus.off")
    assert cli_main(["encode", cactus, "-o", str(wide), "--half-width-factor", "1"]) == 2
    assert "--half-width-factor" in capsys.readouterr().err
    rc = cli_main(["encode", str(tmp_path / "missing.obj"), "-o", str(tmp_path / "x.npz")])
    assert rc == 1 and "missing.obj" in capsys.readouterr().err
