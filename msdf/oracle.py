"""Ground-truth signed distance to a triangle mesh: exact BVH distance and a sign that survives real-world meshes.

``sdf(x) = s(x) * d(x)`` with ``d(x) = ||x - c(x)||``, ``c(x)`` the exact closest surface point (Open3D
``RaycastingScene``, a BVH). The sign ``s(x)`` (negative inside) comes from one of two methods, chosen per mesh:

* **closed, consistently oriented meshes** (``is_watertight`` and ``is_winding_consistent`` after the repair below):
  the angle-weighted pseudonormal of the closest feature (Baerentzen & Aanaes, IEEE TVCG 2005),
  ``s(x) = sign((x - c(x)) . n_feat)``, with ``n_feat`` the face normal if ``c`` is inside a face, the sum of the two
  face normals if it is on an edge, and ``sum_f angle_f(v) n_f`` if it is on a vertex. This is exact for closed
  manifolds and costs nothing beyond the closest-point query (the barycentric coordinates say which feature ``c``
  lies on; within ``FEATURE_EPS`` of an edge/vertex the edge/vertex normal is used, which is still correct there).
* **everything else** (open boundaries, holes, non-manifold or self-overlapping parts): the generalised winding
  number ``w(x) = (1 / 4 pi) sum_f Omega_f(x)`` (Jacobson et al. 2013; libigl's fast approximation, Barill et al.
  2018), inside iff ``w > 0.5``. ``w`` is 1 inside / 0 outside a closed surface and degrades gracefully near holes,
  where ray parity fails.

Orientation matters to both, so :func:`orient_for_winding` first makes face winding consistent and outward when a
mesh needs it. ``bench/bench_oracle.py`` compares these signs with Open3D's ray-vote occupancy.
"""
from __future__ import annotations

import igl
import numpy as np
import open3d as o3d
import trimesh
from tqdm.auto import tqdm

WINDING_THRESHOLD = 0.5
FEATURE_EPS = 1e-4  # barycentric weight below which the closest point counts as on an edge / vertex
_CHUNK = 1 << 18


def orient_for_winding(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """A copy of ``mesh`` with consistent, outward face winding (unchanged if it already has it).

    ``fix_winding`` propagates one orientation over each connected component (for meshes with flipped patches);
    a closed mesh is flipped if its signed volume is negative (``fix_inversion``), an open one if more of its
    bounding box has winding number < -0.5 than > 0.5 (an inside-out open scan).
    """
    out = trimesh.Trimesh(vertices=np.asarray(mesh.vertices, dtype=np.float64),
                          faces=np.asarray(mesh.faces, dtype=np.int64), process=False)
    if not out.is_winding_consistent:
        trimesh.repair.fix_winding(out)
    if out.is_watertight:
        trimesh.repair.fix_inversion(out)
    else:  # the signed volume of an open surface means little: ask the winding number which side is "inside"
        q = np.random.default_rng(0).uniform(out.bounds[0], out.bounds[1], (2000, 3))
        w = igl.fast_winding_number(out.vertices, out.faces, q)
        if np.count_nonzero(w < -WINDING_THRESHOLD) > np.count_nonzero(w > WINDING_THRESHOLD):
            out.invert()
    return out


class SDFOracle:
    """Signed distance, unsigned distance, closest points and an inside test for one triangle mesh.

    Args:
        mesh: the triangle mesh, in whatever frame the queries use (usually the unit frame). It is copied.
        repair_winding: set False to use the face orientation exactly as given.

    Attributes:
        sign_method: ``"pseudonormal"`` (closed oriented mesh) or ``"winding"`` (anything else); see module docstring.
    """

    def __init__(self, mesh: trimesh.Trimesh, repair_winding: bool = True):
        m = orient_for_winding(mesh) if repair_winding else mesh
        if len(m.faces) == 0:
            raise ValueError("SDFOracle needs a mesh with at least one face")
        self.vertices = np.ascontiguousarray(m.vertices, dtype=np.float64)
        self.faces = np.ascontiguousarray(m.faces, dtype=np.int64)
        self._scene = o3d.t.geometry.RaycastingScene()
        self._scene.add_triangles(o3d.core.Tensor(self.vertices.astype(np.float32)),
                                  o3d.core.Tensor(self.faces.astype(np.uint32)))
        self.face_normals = np.asarray(m.face_normals, dtype=np.float64)
        closed = bool(m.is_watertight and m.is_winding_consistent)
        self.sign_method = "pseudonormal" if closed else "winding"
        if closed:
            self._vertex_pn, self._edge_pn = _pseudonormals(m, self.face_normals)

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
        """Inside test (P,) bool by the winding number (> 0.5), for bulk points anywhere in space (e.g. IoU).

        Far from the surface this is cheaper than a closest-point query; it agrees with the sign of
        :meth:`__call__` except within float precision of the surface.
        """
        return self.winding_number(points, quiet) > WINDING_THRESHOLD

    def closest(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Closest surface points (P, 3) and the unit normals (P, 3) of the triangles they lie on."""
        c, face, _ = self._closest(_as_points(points))
        return c, self.face_normals[face]

    def _closest(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        res = self._scene.compute_closest_points(o3d.core.Tensor(q.astype(np.float32)))
        return (res["points"].numpy().astype(np.float64), res["primitive_ids"].numpy().astype(np.int64),
                res["primitive_uvs"].numpy().astype(np.float64))

    def _signed_chunk(self, q: np.ndarray) -> np.ndarray:
        c, face, uv = self._closest(q)
        diff = q - c
        d = np.linalg.norm(diff, axis=1)
        if self.sign_method == "winding":
            inside = igl.fast_winding_number(self.vertices, self.faces, q) > WINDING_THRESHOLD
        else:
            inside = np.einsum("ij,ij->i", diff, self._feature_normal(face, uv)) < 0
        return np.where(inside, -d, d)

    def _feature_normal(self, face: np.ndarray, uv: np.ndarray) -> np.ndarray:
        """Pseudonormal (P, 3) of the face / edge / vertex holding each closest point (barycentric ``uv``)."""
        bary = np.stack([1.0 - uv[:, 0] - uv[:, 1], uv[:, 0], uv[:, 1]], axis=1)  # weights of v0, v1, v2
        small = bary < FEATURE_EPS
        n_small = small.sum(axis=1)
        normal = self.face_normals[face].copy()
        on_edge = n_small == 1
        if on_edge.any():  # edge j of a face joins v_j and v_{j+1}; it is the edge opposite the zero-weight vertex
            opposite = np.argmax(small[on_edge], axis=1)
            normal[on_edge] = self._edge_pn[face[on_edge], (opposite + 1) % 3]
        on_vertex = n_small >= 2
        if on_vertex.any():
            corner = np.argmax(bary[on_vertex], axis=1)
            normal[on_vertex] = self._vertex_pn[self.faces[face[on_vertex], corner]]
        return normal

    def __call__(self, points: np.ndarray, quiet: bool = True) -> np.ndarray:
        """Signed distance (P,) float64 at points (P, 3); negative inside."""
        return self._chunks(points, self._signed_chunk, "signed distance", quiet)


def _pseudonormals(mesh: trimesh.Trimesh, face_normals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Angle-weighted vertex pseudonormals (V, 3) and edge pseudonormals per face edge (F, 3, 3).

    Vertex: ``sum_f angle_f(v) n_f``. Edge ``j`` of face ``f`` (from corner j to corner j+1): the sum of the normals
    of the faces sharing it. Unnormalised: only the sign of a dot product is used.
    """
    faces = np.asarray(mesh.faces)
    angles = np.asarray(mesh.face_angles)  # (F, 3) interior angle at each corner
    vertex = np.zeros((len(mesh.vertices), 3))
    for corner in range(3):
        np.add.at(vertex, faces[:, corner], angles[:, corner, None] * face_normals)
    edge_id = np.asarray(mesh.edges_unique_inverse).reshape(-1, 3)  # trimesh edge order per face: (0,1), (1,2), (2,0)
    per_edge = np.zeros((int(edge_id.max()) + 1, 3))
    np.add.at(per_edge, edge_id.reshape(-1), np.repeat(face_normals, 3, axis=0))
    return vertex, per_edge[edge_id]


def _as_points(points: np.ndarray) -> np.ndarray:
    pts = np.ascontiguousarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise ValueError(f"expected points of shape (P, 3), got {pts.shape}")
    return pts
