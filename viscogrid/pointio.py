"""Point inputs: reading point files, area-uniform surface samples of meshes, estimating/orienting normals.

Formats (by suffix): ``.ply`` (a point cloud, with or without ``nx ny nz``; a PLY with faces is read as a mesh),
``.xyz`` / ``.pwn`` / ``.pts`` / ``.txt`` (lines ``x y z [nx ny nz]``; a leading count line is skipped), ``.npz``
(arrays ``points`` and optional ``normals``), ``.npy`` ((N, 3) or (N, 6)), and any mesh format trimesh reads (its
vertices with vertex normals, or ``sample`` area-uniform surface points with face normals).
Every problem raises :class:`PointLoadError` naming the file and the reason. The one point loader of the project:
``msdf complete`` reads its partial point clouds here too. Size limits on archives are the caller's business
(``msdf`` checks ``.npz`` inputs with :func:`msdf.limits.check_archive` first).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

TEXT_SUFFIXES = {".xyz", ".pwn", ".pts", ".txt"}
MIN_POINTS = 4


class PointLoadError(ValueError):
    """A point file is missing, unreadable or holds unusable points (the message names the file)."""


def load_points(path: str | os.PathLike, sample: int | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """Read ``path`` -> (points (N, 3) float64, normals (N, 3) unit float64 or None).

    ``sample``: for mesh inputs, draw this many area-uniform surface points (with face normals) instead of
    taking the vertices; ignored (with an error) for point files.

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "four.xyz"
    >>> _ = p.write_text("0 0 0\\n1 0 0\\n0 1 0\\n0 0 1\\n")
    >>> points, normals = load_points(p)
    >>> points.shape, normals
    ((4, 3), None)
    """
    p = Path(path)
    if not p.is_file():
        raise PointLoadError(f"{p}: no such file")
    suffix = p.suffix.lower()
    if sample is not None and sample < MIN_POINTS:
        raise PointLoadError(f"{p}: --sample must be at least {MIN_POINTS}, got {sample}")
    try:
        if suffix == ".ply" and not _ply_has_faces(p):
            pts, nrm = _read_ply_points(p)
        elif suffix in TEXT_SUFFIXES:
            pts, nrm = _read_text(p)
        elif suffix == ".npz":
            pts, nrm = _read_npz(p)
        elif suffix == ".npy":
            pts, nrm = _split_columns(np.load(p, allow_pickle=False), p)
        else:
            return validate_points(*_read_mesh(p, sample, seed), source=p)
    except PointLoadError:
        raise
    except (OSError, ValueError, KeyError, TypeError, IndexError, EOFError) as exc:
        raise PointLoadError(f"{p}: cannot read points ({type(exc).__name__}: {exc})") from exc
    if sample is not None:
        raise PointLoadError(f"{p}: --sample applies to mesh inputs only, this is a point file")
    return validate_points(pts, nrm, source=p)


def sample_surface(mesh, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` points uniformly distributed over the surface area of ``mesh`` (a ``trimesh.Trimesh``), with their
    face normals.

    A face is picked with probability area_f / total_area, then a uniform barycentric point in it.
    Returns ``(points (count, 3) float64, normals (count, 3) float64 unit)``; the same seed gives the same points.
    """
    import trimesh

    if count <= 0:
        raise ValueError(f"sample_surface: count must be positive, got {count}")
    points, face_idx = trimesh.sample.sample_surface(mesh, int(count), seed=int(seed))
    normals = np.asarray(mesh.face_normals, dtype=np.float64)[face_idx]
    return np.asarray(points, dtype=np.float64), normals


def validate_points(
    points: np.ndarray, normals: np.ndarray | None, source: str | os.PathLike = "<points>"
) -> tuple[np.ndarray, np.ndarray | None]:
    """Check shapes and values; returns float64 points and unit normals (or None). Raises :class:`PointLoadError`."""
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise PointLoadError(f"{source}: points must have shape (N, 3), got {pts.shape}")
    if len(pts) == 0:
        raise PointLoadError(f"{source}: no points")
    if len(pts) < MIN_POINTS:
        raise PointLoadError(f"{source}: only {len(pts)} point(s); need at least {MIN_POINTS}")
    if not np.isfinite(pts).all():
        raise PointLoadError(f"{source}: {int((~np.isfinite(pts).all(1)).sum())} point(s) have NaN/Inf coordinates")
    if np.ptp(pts, axis=0).max() <= 0:
        raise PointLoadError(f"{source}: all points coincide")
    distinct = len(np.unique(pts, axis=0))
    if distinct < MIN_POINTS:
        raise PointLoadError(f"{source}: only {distinct} distinct point(s) among {len(pts)}; "
                             f"need at least {MIN_POINTS}")
    if normals is None:
        return pts, None
    nrm = np.asarray(normals, dtype=np.float64)
    if nrm.shape != pts.shape:
        raise PointLoadError(f"{source}: normals have shape {nrm.shape}, points {pts.shape}")
    length = np.linalg.norm(nrm, axis=1)
    bad = ~np.isfinite(length) | (length < 1e-12)
    if bad.any():
        raise PointLoadError(f"{source}: {int(bad.sum())} normal(s) are NaN/Inf or zero")
    return pts, nrm / length[:, None]


def estimate_normals(points: np.ndarray, k: int = 30) -> np.ndarray:
    """Unoriented PCA normals of the ``k`` nearest neighbours, oriented consistently over a ``k``-NN Riemannian
    graph (Open3D ``orient_normals_consistent_tangent_plane``), then flipped globally to point outward.

    The global flip uses the divergence theorem: for outward normals of a closed surface
    ``sum_i n_i . (p_i - c) ~ 3 V / (area per point) > 0``. Returns (N, 3) unit normals.
    """
    pts = np.asarray(points, dtype=np.float64)
    kk = min(k, len(pts) - 1)
    try:
        nrm = _open3d_normals(pts, kk)
    except RuntimeError:  # Qhull rejects exactly co-spherical input: orient a copy jittered by 1e-7 of the extent
        jitter = np.random.default_rng(0).normal(scale=1e-7 * np.ptp(pts, axis=0).max(), size=pts.shape)
        nrm = _open3d_normals(pts + jitter, kk)
    if np.einsum("ij,ij->", nrm, pts - pts.mean(axis=0)) < 0:
        nrm = -nrm
    return nrm


def _open3d_normals(pts: np.ndarray, k: int) -> np.ndarray:
    import open3d as o3d  # imported here: reconstruction from oriented points needs no Open3D

    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts))
    pcd.estimate_normals(o3d.geometry.KDTreeSearchParamKNN(k))
    pcd.orient_normals_consistent_tangent_plane(min(k, 15))
    return np.asarray(pcd.normals)


def _ply_has_faces(p: Path) -> bool:
    with open(p, "rb") as fh:
        head = fh.read(4096).split(b"end_header")[0].decode("ascii", errors="replace")
    if not head.startswith("ply"):
        raise PointLoadError(f"{p}: not a PLY file (missing 'ply' magic)")
    m = re.search(r"element\s+face\s+(\d+)", head)
    return bool(m and int(m.group(1)) > 0)


def _read_ply_points(p: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Vertices (and ``nx ny nz`` normals) of a PLY point cloud; every vertex the header declares must be there.

    trimesh's parser (not Open3D's, which pads a short file with invented points) rejects short binary files;
    short ASCII files are caught by comparing with the header's count.
    """
    import trimesh

    with open(p, "rb") as fh:
        parsed = trimesh.exchange.ply.load_ply(fh)
    vertex = parsed.get("metadata", {}).get("_ply_raw", {}).get("vertex")
    pts = np.asarray(parsed.get("vertices", np.zeros((0, 3))), dtype=np.float64)
    declared = int(vertex["length"]) if vertex else 0
    if len(pts) != declared:
        raise PointLoadError(f"{p}: truncated PLY file: the header declares {declared} vertices, the file holds "
                             f"{len(pts)}")
    normals = parsed.get("vertex_normals")
    return pts, (None if normals is None else np.asarray(normals, dtype=np.float64))


def _read_text(p: Path) -> tuple[np.ndarray, np.ndarray | None]:
    rows = [line.split() for line in p.read_text().splitlines()]
    rows = [r for r in rows if r and not r[0].startswith("#")]
    if rows and len(rows[0]) == 1:  # a leading point count
        rows = rows[1:]
    if not rows:
        return np.zeros((0, 3)), None
    widths = {len(r) for r in rows}
    if len(widths) > 1:
        raise PointLoadError(f"{p}: lines have different numbers of columns {sorted(widths)}")
    try:
        data = np.array(rows, dtype=np.float64).reshape(len(rows), -1)
    except ValueError as exc:
        raise PointLoadError(f"{p}: non-numeric value ({exc})") from exc
    return _split_columns(data, p)


def _read_npz(p: Path) -> tuple[np.ndarray, np.ndarray | None]:
    with np.load(p, allow_pickle=False) as z:
        if "points" not in z:
            raise PointLoadError(f"{p}: .npz needs an array named 'points' (found {sorted(z.files)})")
        return z["points"], (z["normals"] if "normals" in z else None)


def _split_columns(data: np.ndarray, p: Path) -> tuple[np.ndarray, np.ndarray | None]:
    if data.ndim != 2 or data.shape[1] not in (3, 6):
        raise PointLoadError(f"{p}: expected N x 3 (x y z) or N x 6 (x y z nx ny nz) values, got shape {data.shape}")
    return data[:, :3], (data[:, 3:] if data.shape[1] == 6 else None)


def _read_mesh(p: Path, sample: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Vertices with vertex normals, or ``sample`` surface points with face normals, of a mesh file (trimesh)."""
    import trimesh

    try:
        loaded = trimesh.load(p, process=False)
    except Exception as exc:  # noqa: BLE001 - trimesh raises many types for unreadable files
        raise PointLoadError(f"{p}: cannot read a mesh ({type(exc).__name__}: {exc})") from exc
    if isinstance(loaded, trimesh.Scene):
        parts = [g for g in loaded.dump(concatenate=False) if isinstance(g, trimesh.Trimesh)]
        loaded = trimesh.util.concatenate(parts) if parts else None
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise PointLoadError(f"{p}: no triangle mesh in the file (empty, unparseable or faceless)")
    if sample is None:
        return np.asarray(loaded.vertices), np.asarray(loaded.vertex_normals)
    return sample_surface(loaded, sample, seed)
