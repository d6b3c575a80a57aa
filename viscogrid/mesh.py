"""Triangle meshes from vertex/face arrays, merged robustly at any scale and offset (trimesh)."""
from __future__ import annotations

import numpy as np
import trimesh

from viscogrid.frame import Normalization


def merged_mesh(vertices: np.ndarray, faces: np.ndarray) -> trimesh.Trimesh:
    """A Trimesh of ``vertices`` (V, 3) and ``faces`` (F, 3) with duplicate vertices merged and degenerate and
    duplicate faces dropped, in the vertices' own coordinates.

    trimesh merges vertices by rounding coordinates times 1e8 to 64-bit integers, which overflows (and silently
    welds distant vertices or drops faces) far from the origin or at huge scales. So the merge runs in the unit
    frame (bounding box centred, longest side 2, computed in float64) and the result is mapped back; merging is
    thereby relative to the mesh's size wherever it lives. All vertices must be finite and used by a face.
    Raises ValueError when no face with a positive area is left.
    """
    v = np.asarray(vertices, dtype=np.float64)
    norm = Normalization.fit(v, extent=1.0) if len(v) and np.ptp(v, axis=0).max() > 0 else Normalization.identity()
    mesh = trimesh.Trimesh(vertices=norm.to_unit(v), faces=np.asarray(faces), process=True, validate=False)
    mesh.update_faces(mesh.nondegenerate_faces(height=None))
    mesh.update_faces(mesh.unique_faces())
    mesh.remove_unreferenced_vertices()
    if len(mesh.faces) == 0 or not np.isfinite(mesh.area) or mesh.area <= 0:
        raise ValueError("no face with a positive area")
    mesh.vertices = norm.to_user(np.asarray(mesh.vertices, dtype=np.float64))
    return mesh
