"""Reconstruction fidelity: Chamfer-L1, F-score, normal consistency and volumetric IoU against a reference mesh.

Everything is measured in the reference's **metric frame**: its bounding box centred at the origin with the longest side
spanning [-1, 1] (``Normalization.fit(reference.vertices, extent=1.0)``, applied to both meshes). With ``X`` =
``n_points`` area-uniform samples on the reconstruction and ``Y`` on the reference, and ``d(p, M)`` the exact
point-to-triangle distance (Open3D BVH, :class:`msdf.oracle.SDFOracle`):

* ``chamfer_l1 = (mean_{x in X} d(x, ref) + mean_{y in Y} d(y, rec)) / 2``
* ``fscore = 2 P R / (P + R)`` with precision ``P = frac_x[d(x, ref) < tau]``, recall ``R = frac_y[d(y, rec) < tau]``,
  ``tau = 0.01``
* ``normal_consistency = (mean_x |n_x . n_ref(closest(x))| + mean_y |n_y . n_rec(closest(y))|) / 2`` (orientation-free)
* ``iou = |A & B| / |A | B|`` over ``n_points`` uniform points in the union of both bounding boxes, inside/outside by
  the generalised winding number of each mesh (robust on open or imperfect meshes).
"""
from __future__ import annotations

import numpy as np
import trimesh

from msdf.normalization import Normalization
from msdf.oracle import SDFOracle
from msdf.sampling import sample_surface

FSCORE_TAU = 0.01


def metric_frame(reference: trimesh.Trimesh) -> Normalization:
    """The transform that puts ``reference``'s bounding box centred with its longest side spanning [-1, 1]."""
    return Normalization.fit(np.asarray(reference.vertices), extent=1.0)


def _to_frame(mesh: trimesh.Trimesh, frame: Normalization) -> trimesh.Trimesh:
    return trimesh.Trimesh(vertices=frame.to_unit(np.asarray(mesh.vertices, dtype=np.float64)),
                           faces=np.asarray(mesh.faces), process=False)


def _one_way(samples: np.ndarray, normals: np.ndarray, target: SDFOracle) -> tuple[np.ndarray, np.ndarray]:
    """Distances (P,) from ``samples`` to ``target`` and |cos| (P,) between sample normals and the closest face's."""
    closest, face_n = target.closest(samples)
    dist = np.linalg.norm(samples - closest, axis=1)
    return dist, np.abs(np.einsum("ij,ij->i", normals, face_n))


def fidelity(reconstructed: trimesh.Trimesh, reference: trimesh.Trimesh, n_points: int = 100_000, seed: int = 0,
             tau: float = FSCORE_TAU) -> dict[str, float]:
    """Compare ``reconstructed`` with ``reference`` (both in the same user frame); see the module docstring.

    Returns ``dict(chamfer_l1, fscore, normal_consistency, iou)`` (floats). An empty reconstruction scores
    ``chamfer_l1 = inf`` and 0 for the others.
    """
    frame = metric_frame(reference)
    ref = _to_frame(reference, frame)
    if len(reconstructed.faces) == 0 or reconstructed.area <= 0:
        return {"chamfer_l1": float("inf"), "fscore": 0.0, "normal_consistency": 0.0, "iou": 0.0}
    rec = _to_frame(reconstructed, frame)
    ref_oracle, rec_oracle = SDFOracle(ref), SDFOracle(rec)

    x, nx = sample_surface(rec, n_points, seed=seed)
    y, ny = sample_surface(ref, n_points, seed=seed + 1)
    d_x, cos_x = _one_way(x, nx, ref_oracle)
    d_y, cos_y = _one_way(y, ny, rec_oracle)
    precision, recall = float(np.mean(d_x < tau)), float(np.mean(d_y < tau))
    fscore = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)

    lo = np.minimum(ref.bounds[0], rec.bounds[0])
    hi = np.maximum(ref.bounds[1], rec.bounds[1])
    q = np.random.default_rng(seed + 2).uniform(lo, hi, size=(n_points, 3))
    a, b = ref_oracle.inside(q), rec_oracle.inside(q)
    union = np.count_nonzero(a | b)
    iou = float(np.count_nonzero(a & b) / union) if union else 1.0
    return {
        "chamfer_l1": float(0.5 * (d_x.mean() + d_y.mean())),
        "fscore": float(fscore),
        "normal_consistency": float(0.5 * (cos_x.mean() + cos_y.mean())),
        "iou": iou,
    }
