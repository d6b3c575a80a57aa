"""Ray-cast renderer: exact silhouettes, shading, shadows, contact sheets, the ``msdf render`` command."""
from __future__ import annotations

import math

import numpy as np
import pytest
import trimesh
from PIL import Image

from msdf.render import Renderer, contact_sheet, render_many, render_mesh

WHITE = np.array([255, 255, 255])


@pytest.fixture(scope="module")
def renderer():
    return Renderer(size=(160, 120), supersample=1, shadows=False)


def _mask(img: np.ndarray) -> np.ndarray:
    return (img.astype(int) != WHITE).any(-1)


def test_sphere_silhouette_matches_perspective_projection(renderer):
    """A sphere of radius R seen from distance D covers a disc of radius f*tan(asin(R/D)) pixels."""
    sphere = trimesh.creation.icosphere(subdivisions=5, radius=0.7)
    img = renderer.render(sphere)
    assert img.shape == (120, 160, 3) and img.dtype == np.uint8
    radius = np.linalg.norm(sphere.vertices - sphere.bounds.mean(0), axis=1).max()
    dist = renderer.margin * radius / math.sin(math.radians(renderer.fov) / 2)
    f = 60 / math.tan(math.radians(renderer.fov) / 2)
    r_px = f * math.tan(math.asin(0.7 / dist))
    area = _mask(img).sum()
    assert abs(area - math.pi * r_px ** 2) / (math.pi * r_px ** 2) < 0.03
    ys, xs = np.nonzero(_mask(img))
    assert abs(xs.mean() - 79.5) < 0.5 and abs(ys.mean() - 59.5) < 0.5, "centred"


def test_box_faces_are_flat_and_distinctly_lit(renderer):
    """Three faces of a cube are visible in the three-quarter view, each uniformly shaded, all different."""
    img = renderer.render(trimesh.creation.box((1, 1, 1))).astype(int)
    colours, counts = np.unique(img[_mask(img)].reshape(-1, 3), axis=0, return_counts=True)
    big = colours[counts > 0.1 * counts.sum()]
    assert len(big) == 3
    assert counts[counts > 0.1 * counts.sum()].sum() > 0.9 * counts.sum(), "faces are flat-shaded (crease rule)"


def test_two_sided_and_frame_invariant(renderer):
    mesh = trimesh.load("tests/data/watertight/spool.off", force="mesh")
    a = renderer.render(mesh)
    flipped = trimesh.Trimesh(mesh.vertices, mesh.faces[:, ::-1], process=False)
    assert np.abs(renderer.render(flipped).astype(int) - a).max() <= 1, "inverted normals render the same"
    moved = trimesh.Trimesh(mesh.vertices * 3.0 + [5, -2, 1], mesh.faces, process=False)
    assert (_mask(renderer.render(moved)) != _mask(a)).mean() < 0.01, "camera frames the bounding sphere"


def test_shadows_darken_ground_and_supersampling_antialiases():
    mesh = trimesh.creation.box((1, 1, 1))
    plain = Renderer(size=(96, 96), supersample=1, shadows=False).render(mesh)
    shaded = Renderer(size=(96, 96), supersample=1, shadows=True).render(mesh)
    ground = ~_mask(plain)
    assert (shaded[ground] < 250).any() and (plain[ground] == 255).all()
    smooth = Renderer(size=(96, 96), supersample=3, shadows=False).render(mesh)
    assert len(np.unique(smooth.reshape(-1, 3), axis=0)) > len(np.unique(plain.reshape(-1, 3), axis=0))
    assert abs(_mask(smooth).mean() - _mask(plain).mean()) < 0.02


def test_render_mesh_writes_png_and_rejects_empty(tmp_path):
    mesh = trimesh.creation.icosphere(2)
    img = render_mesh(mesh, tmp_path / "s.png", size=(64, 48), supersample=1)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "s.png")), img)
    with pytest.raises(ValueError):
        render_mesh(trimesh.Trimesh(), None)


def test_render_many_and_contact_sheet(tmp_path):
    meshes = [trimesh.creation.box((1, 2, 1)), trimesh.creation.icosphere(2), trimesh.creation.cylinder(0.5, 2)]
    imgs = render_many(meshes, [tmp_path / "a.png", None, tmp_path / "c.png"], size=(64, 64), quiet=True,
                       supersample=1)
    assert len(imgs) == 3 and (tmp_path / "a.png").is_file() and not (tmp_path / "b.png").exists()
    sheet = contact_sheet(imgs, ["box", "a sphere with a very long caption that must wrap", "cylinder"],
                          tmp_path / "sheet.png", columns=2)
    assert sheet.shape[1] == 2 * (64 + 6) + 6 and sheet.shape[0] > 2 * 64
    assert np.array_equal(np.asarray(Image.open(tmp_path / "sheet.png")), sheet)
    assert (sheet[64 + 6:64 + 30, 6:70] < 100).any(), "label text drawn under the first tile"
    with pytest.raises(ValueError):
        contact_sheet(imgs, ["only one"], None)


def test_cli_render(tmp_path, capsys):
    from msdf.cli import main

    a, b = "tests/data/watertight/spool.off", "tests/data/watertight/lemon.obj"
    assert main(["render", a, "-o", str(tmp_path / "one.png"), "--size", "64", "64", "--quiet"]) == 0
    assert Image.open(tmp_path / "one.png").size == (64, 64)
    assert main(["render", a, b, "-o", str(tmp_path / "sheet.png"), "--size", "64", "64", "--quiet"]) == 0
    assert Image.open(tmp_path / "sheet.png").size[0] == 2 * 70 + 6
    assert main(["render", a, b, "-o", str(tmp_path / "dir"), "--size", "32", "32", "--quiet"]) == 0
    assert sorted(p.name for p in (tmp_path / "dir").iterdir()) == ["lemon.png", "spool.png"]
    assert main(["render", str(tmp_path / "missing.obj"), "-o", str(tmp_path / "x.png")]) == 1
    assert "missing.obj" in capsys.readouterr().err
