"""Solid-modelling helpers for the synthetic dataset, on top of manifold3d.

Every helper returns a :class:`manifold3d.Manifold`, a guaranteed-manifold (watertight, oriented) solid; unions go
through manifold3d's exact mesh booleans, so the parts of an object are merged into one solid rather than left as
an overlapping triangle soup. Parts are modelled Z-up in metres (manifold3d's cylinders and revolutions are
along Z); :func:`to_trimesh` turns the finished solid Y-up, standing on the ground (min y = 0) and centred in x/z.
"""
from __future__ import annotations

from typing import Sequence

import manifold3d
import numpy as np
import trimesh

Manifold = manifold3d.Manifold


def box(size: Sequence[float], center: Sequence[float]) -> Manifold:
    """Axis-aligned box with edge lengths ``size`` (sx, sy, sz) centred at ``center``."""
    return Manifold.cube(tuple(float(s) for s in size), center=True).translate(tuple(float(c) for c in center))


def cylinder(radius: float, z0: float, z1: float, xy: Sequence[float] = (0.0, 0.0), radius_top: float | None = None,
             segments: int = 24) -> Manifold:
    """Vertical cylinder (or frustum if ``radius_top`` is given) spanning ``z0..z1`` on the axis through ``xy``."""
    top = radius if radius_top is None else radius_top
    cyl = Manifold.cylinder(float(z1 - z0), float(radius), float(top), circular_segments=segments)
    return cyl.translate((float(xy[0]), float(xy[1]), float(z0)))


def _rotation_z_to(direction: np.ndarray) -> np.ndarray:
    """Rotation matrix (3, 3) taking +Z onto the unit vector ``direction`` (Rodrigues' formula)."""
    z = np.array([0.0, 0.0, 1.0])
    d = direction / np.linalg.norm(direction)
    v = np.cross(z, d)
    c = float(np.dot(z, d))
    if np.linalg.norm(v) < 1e-12:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1.0 + c)


def rod(p0: Sequence[float], p1: Sequence[float], radius: float, segments: int = 16, square: bool = False) -> Manifold:
    """Round (or square-section, side ``2 * radius``) bar from point ``p0`` to point ``p1``."""
    a, b = np.asarray(p0, float), np.asarray(p1, float)
    length = float(np.linalg.norm(b - a))
    if square:
        part = Manifold.cube((2 * radius, 2 * radius, length)).translate((-radius, -radius, 0.0))
    else:
        part = Manifold.cylinder(length, float(radius), circular_segments=segments)
    m = np.zeros((3, 4))
    m[:, :3] = _rotation_z_to(b - a)
    m[:, 3] = a
    return part.transform(m)


def revolve(profile: Sequence[Sequence[float]], segments: int = 40) -> Manifold:
    """Solid of revolution about the Z axis of the closed polygon ``profile`` [(r, z), ...] (r >= 0).

    The polygon is closed implicitly (last point back to the first); its orientation is fixed here, so callers may
    list the points clockwise or counter-clockwise. Points with r = 0 lie on the axis.
    """
    pts = np.asarray(profile, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 3 or (pts[:, 0] < -1e-12).any():
        raise ValueError("revolve: profile must be >= 3 points (r, z) with r >= 0")
    x, y = pts[:, 0], pts[:, 1]
    signed_area = 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))
    if signed_area < 0:
        pts = pts[::-1]
    return manifold3d.CrossSection([pts.tolist()]).revolve(circular_segments=segments)


def torus(major: float, minor: float, z: float = 0.0, segments: int = 32, tube_segments: int = 12) -> Manifold:
    """Torus around the Z axis at height ``z``: ring radius ``major``, tube radius ``minor``."""
    ang = np.linspace(0.0, 2 * np.pi, tube_segments, endpoint=False)
    circle = np.stack([major + minor * np.cos(ang), minor * np.sin(ang)], axis=1)
    return revolve(circle, segments).translate((0.0, 0.0, float(z)))


def union(parts: Sequence[Manifold]) -> Manifold:
    """Boolean union of ``parts`` (one exact manifold3d batch boolean)."""
    return Manifold.batch_boolean(list(parts), manifold3d.OpType.Add)


def difference(solid: Manifold, cutters: Sequence[Manifold]) -> Manifold:
    """``solid`` minus every solid in ``cutters``."""
    return Manifold.batch_boolean([solid, *cutters], manifold3d.OpType.Subtract)


def to_trimesh(solid: Manifold) -> trimesh.Trimesh:
    """Convert a Z-up solid to a Y-up :class:`trimesh.Trimesh` standing on y = 0, centred in x and z.

    The rotation (x, y, z) -> (x, z, -y) keeps the solid right-handed, so outward normals stay outward.
    Raises ``ValueError`` if the solid is empty or not a closed 2-manifold of positive volume.
    """
    if solid.is_empty() or solid.status() != manifold3d.Error.NoError:
        raise ValueError(f"synthetic solid is invalid: {solid.status()}")
    mesh = solid.to_mesh64()
    v = np.asarray(mesh.vert_properties, dtype=np.float64)[:, :3]
    f = np.asarray(mesh.tri_verts, dtype=np.int64)
    v = np.stack([v[:, 0], v[:, 2], -v[:, 1]], axis=1)
    lo, hi = v.min(0), v.max(0)
    v -= np.array([(lo[0] + hi[0]) / 2, lo[1], (lo[2] + hi[2]) / 2])
    out = trimesh.Trimesh(v, f, process=True)
    if not out.is_watertight or out.volume <= 0:
        raise ValueError("synthetic solid is not a watertight mesh of positive volume")
    return out
