"""Ground-truth signed distance to a triangle mesh: exact BVH distance, robust generalised-winding-number sign.

``sdf(x) = s(x) * d(x)`` with

* ``d(x) = min_{y in mesh} ||x - y||``: exact point-to-triangle distance from Open3D's ``RaycastingScene`` (a BVH);
* ``s(x) = -1 if w(x) > 0.5 else +1``, where ``w(x) = (1 / 4 pi) * sum_f Omega_f(x)`` is the generalised winding
  number (Jacobson et al. 2013; libigl's fast hierarchical approximation, Barill et al. 2018).

``w`` is exactly 1 inside / 0 outside a closed, consistently oriented surface and degrades gracefully (values between
0 and 1 near holes) on open meshes, several components or self-intersections, where ray parity breaks. Winding
orientation matters, so :class:`SDFOracle` first makes face winding consistent (``trimesh.repair.fix_winding``)
and outward (``fix_inversion``) when the mesh needs it. See ``bench/bench_oracle.py`` for the comparison with
Open3D's ray-vote occupancy.
"""
from __future__ import annotations

import igl
import numpy as np
import open3d as o3d
import trimesh
from tqdm.auto import tqdm

WINDING_THRESHOLD = 0.5
_CHUNK = 1 << 18


def orient_for_winding(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """A copy of ``mesh`` with consistent, outward face winding (unchanged if it already has it).

    ``fix_winding`` propagates one orientation over each connected component (needed on meshes with flipped
    patches); ``fix_inversion`` flips the whole mesh if its signed volume is negative (inside-out files).
    """
    out = trimesh.Trimesh(vertices=np.asarray(mesh.vertices, dtype=np.float64),
                          faces=np.asarray(mesh.faces, dtype=np.int64), process=False)
    if not out.is_winding_consistent:
        trimesh.repair.fix_winding(out)
    trimesh.repair.fix_inversion(out)
    return out


class SDFOracle:
    """Signed distance, unsigned distance and inside test for one triangle mesh (in whatever frame it is given).

    Args:
        mesh: the triangle mesh (usually already in the unit frame). It is copied; winding is repaired if needed.
        repair_winding: set False to use the face orientation exactly as given.
    """

    def __init__(self, mesh: trimesh.Trimesh, repair_winding: bool = True):
        m = orient_for_winding(mesh) if repair_winding else mesh
        self.vertices = np.ascontiguousarray(m.vertices, dtype=np.float64)
        self.faces = np.ascontiguousarray(m.faces, dtype=np.int64)
        if len(self.faces) == 0:
            raise ValueError("SDFOracle needs a mesh with at least one face")
        self._scene = o3d.t.geometry.RaycastingScene()
        self._scene.add_triangles(o3d.core.Tensor(self.vertices.astype(np.float32)),
                                  o3d.core.Tensor(self.faces.astype(np.uint32)))
        self._face_normals = np.asarray(
            trimesh.Trimesh(self.vertices, self.faces, process=False).face_normals, dtype=np.float64)

    def _chunks(self, points: np.ndarray, fn, desc: str, quiet: bool) -> np.ndarray:
        pts = _as_points(points)
        out = [fn(pts[i:i + _CHUNK]) for i in tqdm(range(0, len(pts), _CHUNK), desc=desc,
                                                   disable=quiet or len(pts) <= _CHUNK, leave=False)]
        return np.concatenate(out) if out else np.zeros(0)

    def unsigned(self, points: np.ndarray, quiet: bool = True) -> np.ndarray:
        """Exact unsigned distance (P,) float64 from points (P, 3) to the mesh (BVH query, float32 precision)."""
        return self._chunks(points, lambda q: self._scene.compute_distance(
            o3d.core.Tensor(q.astype(np.float32))).numpy().astype(np.float64), "distance", quiet)

    def winding_number(self, points: np.ndarray, quiet: bool = True) -> np.ndarray:
        """Generalised winding number (P,) float64: ~1 inside, ~0 outside, fractional near holes."""
        return self._chunks(points, lambda q: igl.fast_winding_number(self.vertices, self.faces, q),
                            "winding number", quiet)

    def inside(self, points: np.ndarray, quiet: bool = True) -> np.ndarray:
        """Robust inside test (P,) bool: winding number > 0.5."""
        return self.winding_number(points, quiet) > WINDING_THRESHOLD

    def __call__(self, points: np.ndarray, quiet: bool = True) -> np.ndarray:
        """Signed distance (P,) float64; negative inside."""
        d = self.unsigned(points, quiet)
        return np.where(self.inside(points, quiet), -d, d)

    def closest(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Closest surface points (P, 3) and the unit normals (P, 3) of the triangles they lie on."""
        pts = _as_points(points)
        res = self._scene.compute_closest_points(o3d.core.Tensor(pts.astype(np.float32)))
        ids = res["primitive_ids"].numpy().astype(np.int64)
        return res["points"].numpy().astype(np.float64), self._face_normals[ids]


def _as_points(points: np.ndarray) -> np.ndarray:
    pts = np.ascontiguousarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(f"expected points of shape (P, 3), got {pts.shape}")
    return pts
