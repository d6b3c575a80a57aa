"""Decoding (msdf.decode) and the uncovered-space sign (msdf.coverage) on analytic shapes with exact answers."""
from __future__ import annotations

import numpy as np
import open3d as o3d
import pytest
import torch
import trimesh
from analytic_msdf import box_msdf, box_sdf, box_surface, exact_msdf, sphere_msdf, sphere_sdf, sphere_surface

from msdf.cli import main as cli_main
from msdf.coverage import uncovered_sign
from msdf.decoder import decode, decode_volume
from msdf.field import blend_sdf
from msdf.normalization import Normalization
from msdf.representation import MosaicSDF

NORM = Normalization(center=np.array([10.0, 0.0, -3.0]), scale=0.5)


def surface_errors(mesh: trimesh.Trimesh, sdf, surface: np.ndarray) -> tuple[float, float]:
    """(Hausdorff, Chamfer-L1) between the mesh and the exact surface (unit frame).

    mesh -> surface: |exact SDF| at the mesh vertices and face centroids; surface -> mesh: exact point-to-triangle
    distance (Open3D BVH) from exact surface samples."""
    on_mesh = np.concatenate([mesh.vertices, mesh.triangles_center])
    d1 = np.abs(sdf(on_mesh))
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(mesh.vertices.astype(np.float32)),
                        o3d.core.Tensor(mesh.faces.astype(np.uint32)))
    d2 = scene.compute_distance(o3d.core.Tensor(surface.astype(np.float32))).numpy()
    return float(max(d1.max(), d2.max())), float(0.5 * (d1.mean() + d2.mean()))


@pytest.fixture(scope="module")
def sphere():
    return sphere_msdf(radius=0.8, n=256, normalization=NORM)


def test_sphere_round_trip(sphere):
    mesh = decode(sphere, resolution=128)
    assert mesh.is_watertight and mesh.body_count == 1
    unit = NORM.to_unit(mesh.vertices)
    hd, cd = surface_errors(trimesh.Trimesh(unit, mesh.faces, process=False), sphere_sdf(0.8),
                            sphere_surface(0.8, 20000))
    h = 1.0 * (2 * 0.8 + 2 * float(sphere.scales[0])) / 125  # lattice spacing
    assert hd < 0.5 * h and cd < 0.1 * h, (hd, cd, h)
    # user frame and outward orientation: volume of the user-frame ball of radius 0.8 * 0.5
    assert mesh.volume == pytest.approx(4 / 3 * np.pi * 0.4**3, rel=1e-2)


def test_box_round_trip():
    half = np.array([0.8, 0.5, 0.3])
    msdf = box_msdf(half, n=384)
    mesh = decode(msdf, resolution=128)
    assert mesh.is_watertight and mesh.body_count == 1
    h = float((2 * half + 2 * msdf.scales[0].item()).max()) / 125
    hd, cd = surface_errors(mesh, box_sdf(half), box_surface(half, 20000, seed=3))
    assert hd < 2.0 * h and cd < 0.1 * h, (hd, cd, h)  # marching cubes cuts the sharp corners by up to ~sqrt(3) h
    assert mesh.volume == pytest.approx(float(np.prod(2 * half)), rel=2e-2)


def test_thick_shell_has_no_inner_surface(sphere):
    """Grids hug the surface of a solid ball: the uncovered core is enclosed and must be inside (no inner shell)."""
    volume, covered, lattice = decode_volume(sphere, resolution=64)
    core = np.rint((np.zeros(3) - lattice.lo) / lattice.h).astype(int)
    assert not covered[tuple(core)] and volume[tuple(core)] < 0
    assert volume[0, 0, 0] > 0
    mesh = decode(sphere, resolution=64)
    assert len(mesh.split(only_watertight=False)) == 1
    assert mesh.volume > 0.97 * 4 / 3 * np.pi * 0.4**3


def test_hollow_ball_keeps_its_cavity():
    """A ball with a spherical cavity: the uncovered space between the two surfaces is inside, the cavity outside."""
    r_in, r_out = 0.45, 0.85

    def sdf(x):
        d = np.linalg.norm(x, axis=-1)
        return np.maximum(d - r_out, r_in - d)

    centers = np.concatenate([sphere_surface(r_out, 400), sphere_surface(r_in, 160)])
    surface = np.concatenate([sphere_surface(r_out, 8000), sphere_surface(r_in, 3200)])
    msdf = exact_msdf(sdf, centers, surface)
    assert float(msdf.scales[0]) < (r_out - r_in) / 2  # the shell's core is uncovered
    mesh = decode(msdf, resolution=96)
    parts = mesh.split(only_watertight=False)
    assert len(parts) == 2  # outer surface + cavity wall, nothing else
    assert mesh.volume == pytest.approx(4 / 3 * np.pi * (r_out**3 - r_in**3), rel=2e-2)
    hd, _ = surface_errors(mesh, sdf, surface)
    assert hd < 0.02
    assert msdf.sdf(np.array([[0.0, 0, 0]]), frame="unit")[0] > 0  # cavity centre: outside
    assert msdf.sdf(np.array([[0.65, 0, 0]]), frame="unit")[0] < 0  # between the walls: inside


def test_no_surface_away_from_the_shape():
    """Two far-apart balls: every decoded vertex lies on one of them (no phantom surface in the empty space)."""
    a = sphere_surface(0.3, 150) + [-0.55, 0, 0]
    b = sphere_surface(0.3, 150) + [0.55, 0, 0]

    def sdf(x):
        return np.minimum(np.linalg.norm(x - [-0.55, 0, 0], axis=-1), np.linalg.norm(x - [0.55, 0, 0], axis=-1)) - 0.3

    dense = np.concatenate([sphere_surface(0.3, 3000) + [-0.55, 0, 0], sphere_surface(0.3, 3000) + [0.55, 0, 0]])
    msdf = exact_msdf(sdf, np.concatenate([a, b]), dense)
    mesh = decode(msdf, resolution=96)
    assert len(mesh.split(only_watertight=False)) == 2
    assert np.abs(sdf(mesh.vertices)).max() < 0.01


def test_lattice_field_matches_blend_sdf(sphere):
    volume, covered, lattice = decode_volume(sphere, resolution=48)
    nodes = torch.tensor(lattice.nodes(), dtype=torch.float32)
    F, W = blend_sdf(nodes[None], sphere.centers[None], sphere.scales[None], sphere.values[None])
    F, W = F[0].numpy().reshape(lattice.dims), W[0].numpy().reshape(lattice.dims)
    both = covered & (W > 1e-4)
    assert both.sum() > 1000
    np.testing.assert_allclose(volume[both], F[both], atol=1e-5)


def test_uncovered_sign_votes_and_border():
    covered = np.zeros((9, 9, 9), bool)
    covered[2:7, 2:7, 2:7] = True
    covered[3:6, 3:6, 3:6] = False  # enclosed pocket
    field = np.full(covered.shape, 0.5, np.float32)
    field[covered] = -0.1  # its rim is inside
    labels, signs = uncovered_sign(covered, field)
    assert signs[labels[4, 4, 4]] == -1 and signs[labels[0, 0, 0]] == 1
    field[covered] = 0.1
    labels, signs = uncovered_sign(covered, field)
    assert signs[labels[4, 4, 4]] == 1


def test_decode_from_file_and_cli(sphere, tmp_path):
    path = tmp_path / "ball.npz"
    sphere.save(path)
    mesh = decode(path, resolution=48)
    assert mesh.is_watertight
    out = tmp_path / "ball.ply"
    assert cli_main(["decode", str(path), "-o", str(out), "--resolution", "48"]) == 0
    again = trimesh.load(out, force="mesh")
    assert len(again.faces) == len(mesh.faces)
    np.testing.assert_allclose(again.bounds, mesh.bounds, atol=1e-5)


def test_cli_reports_bad_input(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_text("nope")
    assert cli_main(["decode", str(bad), "-o", str(tmp_path / "x.ply")]) != 0
    assert "bad.npz" in capsys.readouterr().err
    assert not (tmp_path / "x.ply").exists()


def test_unknown_method_is_rejected(sphere):
    with pytest.raises(ValueError, match="unknown method"):
        decode(sphere, method="dual")


def test_rows_order_does_not_matter(sphere):
    perm = torch.randperm(sphere.n, generator=torch.Generator().manual_seed(0))
    shuffled = MosaicSDF(sphere.centers[perm], sphere.scales[perm], sphere.values[perm], sphere.normalization)
    a, b = decode(sphere, resolution=40), decode(shuffled, resolution=40)
    assert len(a.faces) == len(b.faces)
    np.testing.assert_allclose(np.sort(a.vertices, axis=0), np.sort(b.vertices, axis=0), atol=1e-5)


def test_float64_matrix_decodes_like_float32(sphere):
    m64 = MosaicSDF.from_matrix(sphere.to_matrix().double().numpy(), sphere.normalization)
    a, b = decode(m64, resolution=40), decode(sphere, resolution=40)
    assert len(a.faces) == len(b.faces)
    np.testing.assert_allclose(a.vertices, b.vertices, atol=1e-5)


def test_field_without_surface_is_a_clear_error(sphere):
    positive = MosaicSDF(sphere.centers, sphere.scales, sphere.values.abs() + 0.1, sphere.normalization)
    with pytest.raises(ValueError, match="no level-0.0 surface"):
        decode(positive, resolution=32)


def test_iso_level_offsets_the_surface(sphere):
    """level=+0.04 (unit frame) on the exact sphere SDF of radius 0.8 gives a sphere of radius 0.84."""
    mesh = decode(sphere, resolution=64, level=0.04)
    assert len(mesh.split(only_watertight=False)) == 1
    r = np.linalg.norm(NORM.to_unit(mesh.vertices), axis=1)
    np.testing.assert_allclose(r, 0.84, atol=3e-3)


def test_decode_passes_every_argument_to_the_method(monkeypatch, sphere):
    """``decode`` looks the method up in its table and forwards resolution, device, level and quiet unchanged."""
    from msdf import decoder

    seen = {}
    monkeypatch.setitem(decoder.DECODERS, "visco", lambda shape, **kw: seen.update(kw) or "mesh")
    assert decode(sphere, resolution=40, method="visco", device="cpu", level=0.01, quiet=False) == "mesh"
    assert seen == {"resolution": 40, "device": "cpu", "level": 0.01, "quiet": False, "source": "M-SDF"}
