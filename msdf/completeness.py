"""Completeness of a generated shape: how much of the object it was asked for does its largest piece cover?

Wholeness (:mod:`msdf.wholeness`) is the largest piece's share of the decoded surface, so a shape that lost a part
outright (a lamp without its base) scores as well as a complete one, and better than one whose base came loose.
Completeness compares the largest piece ``C_max`` with the sample's nearest reference ``R`` (by Chamfer: the
reference conditional accuracy reads, :mod:`msdf.evaluation`), as point clouds in the frames the metrics use, R in
its own bounding-box frame and C_max in the frame of the *whole* sample's cloud (so the piece keeps its place and
size in the shape; the longest side of each box spans 2)::

    completeness = |{ r in R : min_{x in C_max} |r - x| <= tau }| / |R|          tau = TAU = 0.1

1 when the largest piece reaches every part of the reference; a missing or a detached part lowers it by about its
share of the reference's surface. Any difference of shape between a sample and its nearest reference lowers it too,
so a set of samples is read against the training encodings judged the same way (the ceiling), never against 1.
A failed decode scores 0.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

TAU = 0.1


def completeness(piece: np.ndarray, reference: np.ndarray, tau: float = TAU) -> float:
    """Share of the ``reference`` points (Q, 3) within ``tau`` of some ``piece`` point (P, 3), both in the frames of
    the module docstring; an empty piece (P = 0) covers nothing."""
    if len(piece) == 0:
        return 0.0
    dist, _ = cKDTree(np.asarray(piece, dtype=np.float64)).query(np.asarray(reference, dtype=np.float64),
                                                                 distance_upper_bound=tau)
    return float(np.mean(dist <= tau))
