"""Wholeness of a decoded surface: is it one object or a cloud of debris?

With the faces of a mesh grouped into edge-connected components ``C_1..C_m`` and ``A(C)`` their surface areas::

    wholeness  = max_j A(C_j) / sum_j A(C_j)      (1 for a single connected surface, -> 0 for scattered debris)
    components = m

Measured on the raw marching-cubes mesh (nothing removed first), so debris counts against the shape. A shape whose
decode failed has wholeness 0 (:data:`FAILED`).

Given the M-SDF matrix the mesh was decoded from (rows ``(p_i, s_i, V_i)``, same frame), the grids that made the debris
can be counted too::

    stray_rows = #{ i : dist(p_i, C_max) > s_i }      (C_max: the vertices of the largest component)

An encoder places every centre on the surface, so an encoding has almost none. A generated shape's stray rows are the
grids of its debris (a grid whose centre lands off the object still carries surface-like values and decodes to a
floating blob) and of the parts that came loose from the largest piece (a lamp's shade without its stem).
"""
from __future__ import annotations

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from msdf.rows import CENTERS, HALF_WIDTH

FAILED = {"wholeness": 0.0, "components": 0}
# msdf.sealing: a leak above 5% is an open shell (an encoding's leak is 0, a surface that leaves the grids of a
# thin part adds little, a core opened to the outside adds its inner rim; docs/benchmarks.md#open-shells)
OPEN_AT = 0.05


def _pieces(mesh: trimesh.Trimesh) -> tuple[np.ndarray, np.ndarray]:
    """(F,) edge-connected component label of each face of a non-empty ``mesh`` and (m,) the area of each component."""
    labels = trimesh.graph.connected_component_labels(mesh.face_adjacency, node_count=len(mesh.faces))
    return labels, np.bincount(labels, weights=mesh.area_faces)


def largest_piece(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """The edge-connected component ``C_max`` of a non-empty ``mesh`` with the largest surface area, as a mesh."""
    labels, area = _pieces(mesh)
    return mesh.submesh([np.flatnonzero(labels == int(np.argmax(area)))], append=True)


def wholeness(mesh: trimesh.Trimesh | None, matrix: np.ndarray | None = None) -> dict[str, float | int]:
    """``{"wholeness": float in [0, 1], "components": int}`` of ``mesh`` (see the module docstring), plus
    ``"stray_rows"`` when the decoded ``matrix`` (n, 4 + k^3) is given; a failed decode (``None``) or an empty mesh
    is :data:`FAILED` (and all n rows stray)."""
    if mesh is None or len(mesh.faces) == 0:
        return dict(FAILED) if matrix is None else {**FAILED, "stray_rows": int(len(matrix))}
    labels, area = _pieces(mesh)
    total = float(area.sum())
    out = {"wholeness": float(area.max() / total) if total > 0 else 0.0, "components": int(len(area))}
    if matrix is not None:
        main = np.unique(mesh.faces[labels == int(np.argmax(area))])
        m = np.asarray(matrix, dtype=np.float64)
        dist, _ = cKDTree(mesh.vertices[main]).query(m[:, CENTERS])
        out["stray_rows"] = int((dist > m[:, HALF_WIDTH]).sum())
    return out


def summarize(values: list[dict[str, float | int]], whole_at: float = 0.9,
              open_at: float = OPEN_AT) -> dict[str, float]:
    """Median wholeness, share of shapes with wholeness >= ``whole_at``, median component count (and the median stray
    rows, :mod:`msdf.completeness`, :mod:`msdf.disagreement` and :mod:`msdf.sealing`'s median leak with the share of
    open shells, leak > ``open_at``, when every value has them) of a sample set (failed decodes included as
    :data:`FAILED`; a disagreement of None, nothing to measure, counts as the worst, and a median that lands on one is
    None; a leak of None, no valid M-SDF, counts as 1)."""
    if not values:
        raise ValueError("wholeness summary of an empty set")
    w = np.array([v["wholeness"] for v in values], dtype=np.float64)
    c = np.array([v["components"] for v in values], dtype=np.float64)
    out = {"median_wholeness": float(np.median(w)), "share_whole": float((w >= whole_at).mean()),
           "median_components": float(np.median(c)), "whole_at": whole_at, "count": len(values)}
    if all("stray_rows" in v for v in values):
        out["median_stray_rows"] = float(np.median([v["stray_rows"] for v in values]))
    if all("leak" in v for v in values):
        leak = np.array([1.0 if v["leak"] is None else v["leak"] for v in values])
        out["median_leak"] = float(np.median(leak))
        out["share_open"] = float((leak > open_at).mean())
        out["open_at"] = open_at
    if all("completeness" in v for v in values):
        out["median_completeness"] = float(np.median([v["completeness"] for v in values]))
    if all("disagreement" in v for v in values):
        d = np.median([np.inf if v["disagreement"] is None else v["disagreement"] for v in values])
        out["median_disagreement"] = float(d) if np.isfinite(d) else None
    return out
