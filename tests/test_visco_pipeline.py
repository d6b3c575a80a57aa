"""The bridges into the M-SDF pipeline on small cases."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import trimesh

from msdf.meshio import load_mesh
from msdf.normalization import Normalization
from msdf.visco import from_msdf, oriented_samples, watertight_proxy

from analytic_msdf import sphere_msdf

DATA = Path(__file__).parent / "data"


def test_from_msdf_sphere_user_frame():
    norm = Normalization(center=np.array([1.0, 2.0, 3.0]), scale=2.0)
    msdf = sphere_msdf(radius=0.8, n=256, normalization=norm)
    mesh = from_msdf(msdf, resolution=48, n_points=5000)
    assert mesh.is_watertight
    r = np.linalg.norm(mesh.vertices - norm.center, axis=1)
    assert np.abs(r - 0.8 * norm.scale).max() < 0.02 * norm.scale


def test_oriented_samples_fix_flipped_faces():
    mesh = load_mesh(DATA / "watertight" / "cactus.off")
    flipped = mesh.copy()
    flipped.faces[::3] = flipped.faces[::3, ::-1]  # a third of the faces inside out
    pts, nrm = oriented_samples(flipped, 3000)
    _, _, tri = mesh.nearest.on_surface(pts)
    assert (np.einsum("ij,ij->i", nrm, mesh.face_normals[tri]) > 0).mean() > 0.99


def test_watertight_proxy_of_open_mesh():
    mesh = load_mesh(DATA / "open" / "head.off")
    assert not mesh.is_watertight
    proxy = watertight_proxy(mesh, resolution=48, n_points=5000)
    assert proxy.is_watertight
    cell = 2 / 47 * np.ptp(mesh.vertices, axis=0).max() / 1.8
    # the original surface lies on the proxy, and the proxy hugs it (an open sheet becomes a thin closed shell)
    to_proxy = proxy.nearest.on_surface(mesh.sample(2000, seed=0))[1]
    to_mesh = mesh.nearest.on_surface(proxy.vertices)[1]
    assert np.quantile(to_proxy, 0.9) < 0.25 * cell
    assert np.quantile(to_mesh, 0.9) < 2.0 * cell


def test_cli_decode_method_visco_and_preprocess_watertight_proxy(tmp_path, monkeypatch):
    """``msdf decode --method visco`` and ``msdf preprocess --watertight-proxy`` through their commands."""
    import shutil

    import msdf
    from msdf.cli import main
    from msdf.data import MSDFStore

    root = Path(__file__).resolve().parent / "data"
    msdf.encode(root / "watertight" / "lemon.obj", n_grids=64, k=3, refine_steps=0).save(tmp_path / "lemon.npz")
    from msdf.decoder import DECODERS

    calls = []
    monkeypatch.setitem(DECODERS, "visco", lambda *a, **kw: calls.append(1) or from_msdf(*a, **kw))
    assert main(["decode", str(tmp_path / "lemon.npz"), "-o", str(tmp_path / "lemon.ply"), "--method", "visco",
                 "--resolution", "32"]) == 0
    mesh = trimesh.load(tmp_path / "lemon.ply")
    assert calls == [1] and mesh.is_watertight and len(mesh.faces) > 100  # the VisCo path made this mesh

    data = tmp_path / "open"
    data.mkdir()
    shutil.copy(root / "open" / "mushroom.off", data / "mushroom.off")
    assert main(["preprocess", str(data), "-o", str(tmp_path / "store"), "--grids", "16", "--k", "3",
                 "--refine-steps", "0", "--workers", "1", "--watertight-proxy", "--quiet"]) == 0
    store = MSDFStore(tmp_path / "store")
    assert len(store) == 1 and store[0]["msdf"].shape == (16, 4 + 27)
    summary = json.loads((tmp_path / "store" / "summary.json").read_text())
    assert summary["settings"]["watertight_proxy"] is True
    # the flag reaches the workers: without it the same (deterministic) conversion gives another matrix
    assert main(["preprocess", str(data), "-o", str(tmp_path / "plain"), "--grids", "16", "--k", "3",
                 "--refine-steps", "0", "--workers", "1", "--quiet"]) == 0
    assert not np.allclose(MSDFStore(tmp_path / "plain")[0]["msdf"], store[0]["msdf"])
