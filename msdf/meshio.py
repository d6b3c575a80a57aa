"""Mesh files in and out: any format trimesh reads in, PLY/OBJ/STL/GLB out, with clear errors on bad input."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import trimesh

from msdf.atomic import atomic_write
from msdf.choices import MESH_FORMATS
from msdf.limits import check_archive
from viscogrid.mesh import merged_mesh

SAVE_FORMATS = tuple(f".{fmt}" for fmt in MESH_FORMATS)  # suffixes save_mesh writes


class MeshLoadError(ValueError):
    """A mesh file could not be turned into a usable triangle mesh; the message names the file and the reason."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def _supported_suffixes() -> set[str]:
    return {"." + ext.lower() for ext in trimesh.exchange.load.available_formats()}


def _file_type(path: Path) -> str:
    """trimesh's file type for ``path`` (its lower-case suffix without the dot, ``tar.gz``-style kept simple)."""
    return path.suffix.lower().lstrip(".")


def load_mesh(path: str | os.PathLike) -> trimesh.Trimesh:
    """Read a triangle mesh from ``path``.

    Scenes (GLB/GLTF, multi-object OBJ) are flattened into one mesh in world coordinates (node transforms applied).
    Duplicate vertices are merged and degenerate / duplicate faces dropped; the geometry is otherwise untouched
    (no re-orientation, no hole filling). Missing OBJ material files are ignored.

    Raises:
        MeshLoadError: missing file, a directory, unreadable, unsupported format, empty file, garbage or truncated
            content, no faces (a point cloud), NaN/Inf vertex coordinates, or only degenerate faces.
    """
    p = Path(path)
    if not p.exists():
        raise MeshLoadError(p, "file not found")
    if p.is_dir():
        raise MeshLoadError(p, "is a directory, not a mesh file")
    if not os.access(p, os.R_OK):
        raise MeshLoadError(p, "file is not readable (permission denied)")
    ftype = _file_type(p)
    if "." + ftype not in _supported_suffixes():
        known = ", ".join(sorted(_supported_suffixes()))
        raise MeshLoadError(p, f"unsupported mesh format {p.suffix or '(no suffix)'!r}; supported: {known}")
    if p.stat().st_size == 0:
        raise MeshLoadError(p, "file is empty (0 bytes)")
    if ftype == "zip":
        check_archive(p)
    try:
        loaded = trimesh.load(str(p), file_type=ftype, process=False, force=None)
    except MeshLoadError:
        raise
    except Exception as exc:  # trimesh raises many types on malformed input
        raise MeshLoadError(p, f"cannot parse as {ftype.upper()} (corrupt or truncated file?): "
                               f"{type(exc).__name__}: {exc}") from exc
    mesh = _as_single_mesh(p, loaded)
    if ftype == "off":
        _check_off_counts(p, mesh)
    return _validate(p, mesh)


def _check_off_counts(p: Path, mesh: trimesh.Trimesh) -> None:
    """Raise if an OFF file holds fewer vertices/faces than its header declares (trimesh reads truncated OFF silently).

    Polygons are triangulated on load, so the face count may exceed the declared one, never fall below it.
    """
    words: list[str] = []
    with open(p, "rb") as fh:
        for raw in fh:
            line = raw.split(b"#", 1)[0].decode("ascii", errors="replace").split()
            words.extend(line)
            if len(words) >= 4:  # "OFF", vertex count, face count, edge count
                break
    if not words or not words[0].upper().endswith("OFF"):
        return
    try:
        n_vertices, n_faces = int(words[1]), int(words[2])
    except (IndexError, ValueError):
        raise MeshLoadError(p, "OFF header has no valid vertex/face counts") from None
    if len(mesh.vertices) < n_vertices or len(mesh.faces) < n_faces:
        raise MeshLoadError(p, f"truncated OFF file: header declares {n_vertices} vertices and {n_faces} faces, "
                               f"the file holds {len(mesh.vertices)} and {len(mesh.faces)}")


def _as_single_mesh(p: Path, loaded) -> trimesh.Trimesh:
    """Flatten a loaded object (Trimesh, Scene, PointCloud, ...) into one Trimesh or raise MeshLoadError."""
    if isinstance(loaded, trimesh.Scene):
        meshes = [g for g in loaded.dump(concatenate=False) if isinstance(g, trimesh.Trimesh) and len(g.faces)]
        if not meshes:
            if len(loaded.geometry) == 0:
                raise MeshLoadError(p, "contains no geometry (empty or unparseable content)")
            raise MeshLoadError(p, "contains no triangle faces (point cloud or lines only); a surface mesh is needed")
        return trimesh.util.concatenate(meshes) if len(meshes) > 1 else meshes[0]
    if isinstance(loaded, trimesh.Trimesh):
        return loaded
    if isinstance(loaded, trimesh.PointCloud):
        raise MeshLoadError(p, "contains no faces (it is a point cloud); a surface mesh is needed")
    raise MeshLoadError(p, f"does not contain a triangle mesh (got {type(loaded).__name__})")


def _validate(p: Path, mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    v = np.asarray(mesh.vertices, dtype=np.float64)
    f = np.asarray(mesh.faces)
    if len(v) == 0:
        raise MeshLoadError(p, "has no vertices (empty or truncated file)")
    if len(f) == 0:
        raise MeshLoadError(p, "contains no faces (it is a point cloud); a surface mesh is needed")
    if f.min() < 0 or f.max() >= len(v):
        raise MeshLoadError(p, "face indices out of range (truncated or corrupt file)")
    used = np.unique(f)
    bad = ~np.isfinite(v[used]).all(axis=1)
    if bad.any():
        raise MeshLoadError(p, f"{int(bad.sum())} vertices used by faces have NaN/Inf coordinates")
    try:
        mesh = merged_mesh(v[used], np.searchsorted(used, f))
    except ValueError:
        raise MeshLoadError(p, "all faces are degenerate (zero area); nothing to encode") from None
    return mesh


def save_mesh(mesh: trimesh.Trimesh, path: str | os.PathLike) -> Path:
    """Write ``mesh`` to ``path``; the format follows the suffix (.ply .obj .stl .glb). Atomic.

    GLB files carry per-vertex normals (and a plain material) so Blender, three.js and MeshLab shade them smoothly.
    Coordinates survive far from the origin: where float32 would lose them, PLY stores doubles and GLB stores the
    vertices relative to their centre with the centre as the node's translation; STL, which has only float32,
    is refused with an error. Returns the written path.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in SAVE_FORMATS:
        raise ValueError(f"{p}: cannot write mesh format {p.suffix or '(no suffix)'!r}; use one of {SAVE_FORMATS}")
    if len(mesh.faces) == 0:
        raise ValueError(f"{p}: refusing to write a mesh without faces")
    v = np.asarray(mesh.vertices, dtype=np.float64)
    lossy = _float32_loses(v)
    if lossy and suffix == ".stl":
        raise ValueError(f"{p}: STL stores float32 coordinates, which cannot hold this mesh so far from the origin "
                         f"(centre {v.mean(axis=0).tolist()}); write .ply, .obj or .glb")
    out = trimesh.Trimesh(vertices=v, faces=np.asarray(mesh.faces), process=False)
    with atomic_write(p) as tmp:
        if suffix == ".glb":
            center = (v.min(axis=0) + v.max(axis=0)) / 2 if lossy else np.zeros(3)
            out = trimesh.Trimesh(vertices=v - center, faces=out.faces, process=False)
            normals = np.asarray(out.vertex_normals, dtype=np.float32)  # computed from faces (area-weighted)
            out.vertex_normals = normals
            scene = trimesh.Scene()
            scene.add_geometry(out, transform=trimesh.transformations.translation_matrix(center))
            tmp.write_bytes(trimesh.exchange.gltf.export_glb(scene, include_normals=True))
        elif suffix == ".ply" and lossy:
            tmp.write_bytes(_ply_float64(v, np.asarray(mesh.faces)))
        elif suffix == ".obj":  # fixed-point decimals: enough for 8 significant digits of the mesh's size
            size = float(np.ptp(v, axis=0).max())
            digits = int(np.clip(8 - np.floor(np.log10(size)), 8, 30)) if size > 0 else 8
            tmp.write_text(trimesh.exchange.obj.export_obj(out, digits=digits))
        else:
            out.export(str(tmp), file_type=suffix.lstrip("."))
    return p


def _float32_loses(v: np.ndarray) -> bool:
    """True if storing ``v`` as float32 moves a vertex by more than 1e-6 of the mesh's size."""
    size = float(np.ptp(v, axis=0).max()) if len(v) else 0.0
    return bool(np.abs(v.astype(np.float32).astype(np.float64) - v).max(initial=0.0) > 1e-6 * size)


def _ply_float64(vertices: np.ndarray, faces: np.ndarray) -> bytes:
    """A binary little-endian PLY with double-precision vertices and int triangle indices."""
    header = (f"ply\nformat binary_little_endian 1.0\nelement vertex {len(vertices)}\n"
              "property double x\nproperty double y\nproperty double z\n"
              f"element face {len(faces)}\nproperty list uchar int vertex_indices\nend_header\n")
    tris = np.zeros(len(faces), dtype=[("n", "u1"), ("v", "<i4", (3,))])
    tris["n"], tris["v"] = 3, faces
    return header.encode("ascii") + np.ascontiguousarray(vertices, dtype="<f8").tobytes() + tris.tobytes()
