"""msdf.meshio: every readable format loads; every kind of bad file raises MeshLoadError naming the file."""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import trimesh

from msdf.meshio import MeshLoadError, load_mesh, save_mesh

DATA = Path(__file__).parent / "data"
REAL = sorted((DATA / "watertight").iterdir()) + sorted((DATA / "open").iterdir())


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.name)
def test_real_meshes_load(path):
    mesh = load_mesh(path)
    assert len(mesh.faces) > 0 and np.isfinite(mesh.vertices).all() and mesh.area > 0
    if path.parent.name == "watertight":
        assert mesh.is_watertight


def _write(tmp_path: Path, name: str, content: bytes | str) -> Path:
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return p


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    ply = trimesh.creation.icosphere(1).export(file_type="ply")
    stl = trimesh.creation.icosphere(1).export(file_type="stl")
    off = (DATA / "watertight" / "cactus.off").read_text()
    return {
        "missing": tmp_path / "nope.obj",
        "directory": tmp_path,
        "unsupported": _write(tmp_path, "mesh.foo", "v 0 0 0"),
        "empty": _write(tmp_path, "empty.obj", b""),
        "garbage_ply": _write(tmp_path, "garbage.ply", rng.bytes(800)),
        "garbage_off": _write(tmp_path, "garbage.off", rng.bytes(800)),
        "garbage_obj": _write(tmp_path, "garbage.obj", rng.bytes(800)),
        "garbage_glb": _write(tmp_path, "garbage.glb", rng.bytes(800)),
        "truncated_off": _write(tmp_path, "trunc.off", off[: len(off) // 2]),
        "truncated_ply": _write(tmp_path, "trunc.ply", ply[: len(ply) // 2]),
        "truncated_stl": _write(tmp_path, "trunc.stl", stl[: len(stl) // 2]),
        "point_cloud_ply": _write(tmp_path, "cloud.ply", trimesh.PointCloud(rng.random((10, 3))).export(file_type="ply")),
        "vertices_only_obj": _write(tmp_path, "verts.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\n"),
        "nan_vertices": _write(tmp_path, "nan.obj", "v 0 0 0\nv nan 0 0\nv 0 1 0\nf 1 2 3\n"),
        "inf_vertices": _write(tmp_path, "inf.off", "OFF\n3 1 0\n0 0 0\ninf 0 0\n0 1 0\n3 0 1 2\n"),
        "degenerate_faces": _write(tmp_path, "flat.obj", "v 0 0 0\nv 1 0 0\nv 2 0 0\nf 1 2 3\nf 1 1 2\n"),
    }


KINDS = ["missing", "directory", "unsupported", "empty", "garbage_ply", "garbage_off", "garbage_obj", "garbage_glb",
         "truncated_off", "truncated_ply", "truncated_stl", "point_cloud_ply", "vertices_only_obj", "nan_vertices",
         "inf_vertices", "degenerate_faces"]


@pytest.mark.parametrize("kind", KINDS)
def test_bad_files_raise_clear_error(tmp_path, kind):
    path = _bad_files(tmp_path)[kind]
    with pytest.raises(MeshLoadError) as err:
        load_mesh(path)
    assert str(path) in str(err.value) and isinstance(err.value, ValueError)
    assert len(err.value.reason) > 5


def test_obj_with_missing_mtl_loads(tmp_path):
    p = _write(tmp_path, "tet.obj", "mtllib gone.mtl\nusemtl skin\nv 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\n"
                                    "f 1 3 2\nf 1 2 4\nf 1 4 3\nf 2 3 4\n")
    mesh = load_mesh(p)
    assert len(mesh.faces) == 4 and mesh.is_watertight


def test_glb_scene_is_flattened_in_world_coordinates(tmp_path):
    box = trimesh.creation.box()
    scene = trimesh.Scene()
    scene.add_geometry(box, transform=trimesh.transformations.translation_matrix([10, 0, 0]))
    scene.add_geometry(box.copy(), transform=trimesh.transformations.translation_matrix([-10, 0, 0]))
    p = tmp_path / "two.glb"
    p.write_bytes(scene.export(file_type="glb"))
    mesh = load_mesh(p)
    assert len(mesh.faces) == 24
    np.testing.assert_allclose(mesh.bounds, [[-10.5, -0.5, -0.5], [10.5, 0.5, 0.5]], atol=1e-6)


@pytest.mark.parametrize("suffix", [".ply", ".obj", ".stl", ".glb"])
def test_save_load_round_trip(tmp_path, suffix):
    mesh = load_mesh(DATA / "watertight" / "cactus.off")
    out = save_mesh(mesh, tmp_path / f"cactus{suffix}")
    back = load_mesh(out)
    assert len(back.faces) == len(mesh.faces)
    np.testing.assert_allclose(back.bounds, mesh.bounds, atol=1e-5 * mesh.scale)
    assert not list(tmp_path.glob(".*.tmp*")), "atomic_write left a temporary file"


def test_glb_has_vertex_normals(tmp_path):
    out = save_mesh(trimesh.creation.icosphere(2), tmp_path / "s.glb")
    data = out.read_bytes()
    (json_len,) = struct.unpack("<I", data[12:16])
    gltf = json.loads(data[20:20 + json_len])
    assert "NORMAL" in gltf["meshes"][0]["primitives"][0]["attributes"]


def test_save_rejects_unknown_suffix(tmp_path):
    with pytest.raises(ValueError, match="cannot write"):
        save_mesh(trimesh.creation.box(), tmp_path / "x.fbx")
