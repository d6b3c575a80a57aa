"""Wholeness of a decoded surface: is it one object or a cloud of debris?

With the faces of a mesh grouped into edge-connected components ``C_1..C_m`` and ``A(C)`` their surface areas::

    wholeness  = max_j A(C_j) / sum_j A(C_j)      (1 for a single connected surface, -> 0 for scattered debris)
    components = m

Measured on the raw marching-cubes mesh (nothing removed first), so debris counts against the shape. A shape whose
decode failed has wholeness 0 (:data:`FAILED`).
"""
from __future__ import annotations

import numpy as np
import trimesh

FAILED = {"wholeness": 0.0, "components": 0}


def wholeness(mesh: trimesh.Trimesh | None) -> dict[str, float | int]:
    """``{"wholeness": float in [0, 1], "components": int}`` of ``mesh`` (see the module docstring); a failed decode
    (``None``) or an empty mesh is :data:`FAILED`."""
    if mesh is None or len(mesh.faces) == 0:
        return dict(FAILED)
    labels = trimesh.graph.connected_component_labels(mesh.face_adjacency, node_count=len(mesh.faces))
    area = np.bincount(labels, weights=mesh.area_faces)
    total = float(area.sum())
    return {"wholeness": float(area.max() / total) if total > 0 else 0.0, "components": int(len(area))}


def summarize(values: list[dict[str, float | int]], whole_at: float = 0.9) -> dict[str, float]:
    """Median wholeness, share of shapes with wholeness >= ``whole_at`` and median component count of a sample set
    (failed decodes included as :data:`FAILED`)."""
    if not values:
        raise ValueError("wholeness summary of an empty set")
    w = np.array([v["wholeness"] for v in values], dtype=np.float64)
    c = np.array([v["components"] for v in values], dtype=np.float64)
    return {"median_wholeness": float(np.median(w)), "share_whole": float((w >= whole_at).mean()),
            "median_components": float(np.median(c)), "whole_at": whole_at, "count": len(values)}
