"""The bridges into the M-SDF pipeline on small cases."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from msdf.meshio import load_mesh
from msdf.normalization import Normalization
from viscogrid.pipeline import from_msdf, oriented_samples, watertight_proxy

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
