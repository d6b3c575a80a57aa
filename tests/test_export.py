"""Export: mesh formats round-trip through trimesh, M-SDF decoding, the offline HTML viewer (in headless Chromium)."""
from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest
import trimesh
from PIL import Image

from msdf.export import (browser_screenshot, decimate, export, find_chromium, viewer_html, viewer_payload,
                         write_viewer_html)
from msdf.meshio import load_mesh
from msdf.synth import generate

SPOOL = "tests/data/watertight/spool.off"


@pytest.fixture(scope="module")
def mug_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("mug") / "mug.obj"
    generate("mug", 0).mesh.export(path)
    return path


@pytest.mark.parametrize("fmt", ["glb", "obj", "ply", "stl"])
@pytest.mark.parametrize("which", ["spool", "mug"])
def test_mesh_formats_round_trip(tmp_path, mug_path, fmt, which):
    src = SPOOL if which == "spool" else mug_path
    ref = load_mesh(src)
    (out,) = export(src, tmp_path / f"m.{fmt}")
    back = trimesh.load(out, force="mesh")
    assert (len(back.vertices), len(back.faces)) == (len(ref.vertices), len(ref.faces))
    assert np.allclose(back.bounds, ref.bounds, atol=1e-5 * ref.scale)
    assert back.is_watertight and back.volume == pytest.approx(ref.volume, rel=1e-4)


def test_glb_has_vertex_normals(tmp_path):
    export(SPOOL, tmp_path / "s.glb")
    gltf = (tmp_path / "s.glb").read_bytes()
    header = json.loads(gltf[20:20 + int.from_bytes(gltf[12:16], "little")])
    assert "NORMAL" in header["meshes"][0]["primitives"][0]["attributes"]


def test_export_decodes_msdf_file_in_user_coordinates(tmp_path):
    """An analytic sphere (radius 0.5 in the unit frame) stored as M-SDF comes back at the user's scale/offset."""
    import torch

    from msdf.normalization import Normalization
    from msdf.representation import MosaicSDF

    n, k, s = 400, 5, 0.12
    i = np.arange(n) + 0.5
    phi, theta = np.arccos(1 - 2 * i / n), np.pi * (1 + 5 ** 0.5) * i
    centers = 0.5 * np.stack([np.sin(phi) * np.cos(theta), np.cos(phi), np.sin(phi) * np.sin(theta)], 1)
    lin = np.linspace(-1, 1, k)
    offs = np.stack(np.meshgrid(lin, lin, lin, indexing="ij"), -1) * s
    values = np.linalg.norm(centers[:, None, None, None] + offs[None], axis=-1) - 0.5
    norm = Normalization(center=np.array([1.0, 2.0, -3.0]), scale=2.0)
    m = MosaicSDF(torch.tensor(centers, dtype=torch.float32), torch.full((n,), s),
                  torch.tensor(values, dtype=torch.float32), norm)
    m.save(tmp_path / "sphere.npz")
    written = export(tmp_path / "sphere.npz", tmp_path / "sphere.glb", resolution=96, html_page=True)
    assert [p.name for p in written] == ["sphere.glb", "sphere.html"]
    back = trimesh.load(tmp_path / "sphere.glb", force="mesh")
    assert np.allclose(back.bounds, [[0.0, 1.0, -4.0], [2.0, 3.0, -2.0]], atol=0.03)
    assert back.volume == pytest.approx(4 / 3 * np.pi, rel=0.03)


def test_viewer_payload_round_trips_buffers():
    mesh = generate("table", 1).mesh
    p = viewer_payload(mesh, "a table")
    pos = np.frombuffer(base64.b64decode(p["positions"]), "<f4").reshape(-1, 3)
    nrm = np.frombuffer(base64.b64decode(p["normals"]), "<f4").reshape(-1, 3)
    idx = np.frombuffer(base64.b64decode(p["indices"]), "<u4").reshape(-1, 3)
    assert len(idx) == len(mesh.faces) and len(pos) == len(nrm) and idx.max() < len(pos)
    assert np.allclose(np.linalg.norm(nrm, axis=1), 1, atol=1e-4)
    assert np.allclose(trimesh.Trimesh(pos, idx).area, mesh.area, rtol=1e-5)
    assert np.allclose(p["center"], mesh.bounds.mean(0)) and p["radius"] > 0


def test_viewer_html_is_self_contained_and_escapes_titles():
    page = viewer_html([(trimesh.creation.box(), "</script><b>x</b> & y")], title="T <1>")
    assert "<title>T &lt;1&gt;</title>" in page
    blob = re.search(r'id="msdf-data">(.*?)</script>', page, re.S).group(1)
    assert json.loads(blob)[0]["title"] == "</script><b>x</b> & y"
    assert not re.search(r"\b(src|href)\s*=\s*[\"']?(https?:)?//", page), "no external resources"
    with pytest.raises(ValueError):
        viewer_html([])


def test_decimate_limits_faces():
    big = trimesh.creation.icosphere(subdivisions=5)
    small = decimate(big, 2000)
    assert len(small.faces) <= 2000 and abs(small.volume - big.volume) / big.volume < 0.02
    assert decimate(small, 10_000) is small


def test_cli_export(tmp_path, capsys):
    from msdf.cli import main

    assert main(["export", SPOOL, "-o", str(tmp_path / "s.ply"), "--html"]) == 0
    assert (tmp_path / "s.ply").is_file() and (tmp_path / "s.html").is_file()
    assert main(["export", SPOOL, "-o", str(tmp_path / "s.xyz")]) == 2  # a bad argument
    assert "s.xyz" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "nope.npz"), "-o", str(tmp_path / "n.glb")]) == 1
    assert "nope.npz" in capsys.readouterr().err


def test_html_viewer_renders_in_headless_chromium(tmp_path):
    if find_chromium() is None:
        pytest.skip("chromium is not installed (Debian package 'chromium')")
    meshes = [(generate(c, 0).mesh, c) for c in ("chair", "vase", "lamp")]
    write_viewer_html(meshes, tmp_path / "v.html", size=240)
    shot = np.asarray(Image.open(browser_screenshot(tmp_path / "v.html", tmp_path / "v.png", (900, 500)))
                      .convert("RGB")).astype(int)
    # the mesh colour is blue-grey; page, cards and text are neutral grey
    bluish = (shot[..., 2] - shot[..., 0]) > 15
    for j in range(3):  # three cards side by side below the header
        card = bluish[90:330, 20 + j * 260:20 + j * 260 + 240]
        assert card.mean() > 0.02, f"card {j} is blank"
        assert shot[90:330, 20 + j * 260:20 + j * 260 + 240].std() > 10
