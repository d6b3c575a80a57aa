"""Point-file formats, their errors, and the ``viscogrid`` command line."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import open3d as o3d
import pytest
import trimesh

from msdf.meshio import load_mesh
from msdf.visco_cli import main
from viscogrid.pointio import PointLoadError, estimate_normals, load_points

from visco_shapes import sphere_points

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def cloud():
    return sphere_points(300, radius=2.0, center=(1.0, 0.0, -1.0))


def write_ply(path, pts, nrm):
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts))
    if nrm is not None:
        pcd.normals = o3d.utility.Vector3dVector(nrm)
    o3d.io.write_point_cloud(str(path), pcd, write_ascii=False)


@pytest.mark.parametrize("with_normals", [True, False])
@pytest.mark.parametrize("suffix", [".ply", ".xyz", ".pwn", ".npz", ".npy"])
def test_point_formats(tmp_path, cloud, suffix, with_normals):
    pts, nrm = cloud
    path = tmp_path / f"cloud{suffix}"
    cols = np.hstack([pts, nrm]) if with_normals else pts
    if suffix == ".ply":
        write_ply(path, pts, nrm if with_normals else None)
    elif suffix in (".xyz", ".pwn"):
        np.savetxt(path, cols)
    elif suffix == ".npz":
        np.savez(path, points=pts, **({"normals": nrm} if with_normals else {}))
    else:
        np.save(path, cols)
    p, n = load_points(path)
    assert np.allclose(p, pts)
    assert (n is not None) == with_normals
    if with_normals:
        assert np.allclose(n, nrm, atol=1e-6)


def test_real_pwn_and_count_header(tmp_path):
    p, n = load_points(DATA / "points" / "oni.pwn")
    assert p.shape == n.shape and len(p) > 1000
    headed = tmp_path / "headed.xyz"
    headed.write_text(f"{len(p[:10])}\n" + "\n".join(" ".join(map(str, r)) for r in p[:10]))
    assert np.allclose(load_points(headed)[0], p[:10])


def test_mesh_inputs(tmp_path):
    mesh = load_mesh(DATA / "watertight" / "cactus.off")
    p, n = load_points(DATA / "watertight" / "cactus.off")
    assert np.allclose(p, mesh.vertices) and n.shape == p.shape
    p, n = load_points(DATA / "watertight" / "cactus.off", sample=500)
    assert p.shape == (500, 3)
    # samples lie on the mesh and normals are unit
    assert np.allclose(np.linalg.norm(n, axis=1), 1.0)
    mesh_ply = tmp_path / "mesh.ply"
    mesh.export(mesh_ply)
    assert load_points(mesh_ply)[0].shape == mesh.vertices.shape


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "no points"),
        ("1 2 3\n", "only 1 point"),
        ("0 0 0\n1 0 0\n0 1 0\nnan 0 1\n", "NaN"),
        ("0 0 0\n1 0 0 5\n", "different numbers of columns"),
        ("0 0 a\n1 0 0\n", "non-numeric"),
        ("0 0\n1 0\n", "N x 3"),
    ],
)
def test_bad_files(tmp_path, content, message):
    path = tmp_path / "bad.xyz"
    path.write_text(content)
    with pytest.raises(PointLoadError, match=message) as info:
        load_points(path)
    assert "bad.xyz" in str(info.value)


def test_missing_and_wrong_files(tmp_path, cloud):
    with pytest.raises(PointLoadError, match="no such file"):
        load_points(tmp_path / "nope.xyz")
    (tmp_path / "x.npz").write_bytes(b"garbage")
    with pytest.raises(PointLoadError, match="x.npz"):
        load_points(tmp_path / "x.npz")
    np.savez(tmp_path / "y.npz", pts=cloud[0])
    with pytest.raises(PointLoadError, match="'points'"):
        load_points(tmp_path / "y.npz")
    np.savetxt(tmp_path / "c.xyz", cloud[0])
    with pytest.raises(PointLoadError, match="mesh inputs only"):
        load_points(tmp_path / "c.xyz", sample=100)


def test_estimated_normals_point_outward(cloud):
    pts, nrm = cloud
    est = estimate_normals(pts)
    assert (np.einsum("ij,ij->i", est, nrm) > 0.9).mean() > 0.98


def test_cli_reconstruct(tmp_path, cloud):
    pts, nrm = cloud
    src = tmp_path / "in.xyz"
    np.savetxt(src, np.hstack([pts, nrm]))
    out = tmp_path / "out.ply"
    assert main(["reconstruct", str(src), "-o", str(out), "--resolution", "32", "--quiet"]) == 0
    mesh = trimesh.load(out)
    assert mesh.is_watertight
    assert np.abs(np.linalg.norm(mesh.vertices - [1.0, 0.0, -1.0], axis=1) - 2.0).max() < 0.1


def test_cli_errors(tmp_path, capsys):
    bad = tmp_path / "one.xyz"
    bad.write_text("1 2 3\n")
    assert main(["reconstruct", str(bad), "-o", str(tmp_path / "o.ply")]) == 1  # a bad input file
    assert "one.xyz" in capsys.readouterr().err
    assert main(["reconstruct", str(bad), "-o", str(tmp_path / "o.txt")]) == 2  # a bad argument
    assert not (tmp_path / "o.ply").exists()


def test_python_dash_m_help():
    out = subprocess.run([sys.executable, "-m", "msdf.visco_cli", "reconstruct", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--no-normals" in out.stdout
