"""The sign of uncovered space: where no grid's cube reaches, the Mosaic-SDF blend is undefined.

Returning 0 there puts the iso-level in empty space (phantom surfaces); returning a positive constant is wrong inside
thick parts, whose interior the surface-hugging grids do not cover (inner shells). The convention here:

1. On a lattice over the grids' bounding box (one node of margin, so the lattice border is uncovered), a node is
   *covered* when some cube contains it (W > 0).
2. Uncovered nodes are split into 6-connected components (``scipy.ndimage.label``; 6-connectivity leaks less
   through thin covered walls than 26).
3. A component that touches the lattice border is **outside** (+1).
4. An enclosed component takes the **majority sign of the covered field F at the covered nodes 6-adjacent to it**
   (ties: +1). The surface lies in covered space, so an enclosed pocket is entirely inside or entirely outside and
   its covered rim tells which.

:func:`uncovered_sign` does steps 2-4 on any covered mask and field (decoding uses it at the decode resolution);
:class:`CoverageSign` caches the result for one shape at a fixed resolution and answers point queries for
:meth:`msdf.representation.MosaicSDF.sdf`; :meth:`CoverageSign.from_blend` labels a given lattice (the space loss's
truth volumes, :mod:`msdf.flow.space_loss`).
"""
from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from msdf.field import Lattice, blend_sdf_lattice

__all__ = ["uncovered_sign", "nearest_covered_sign", "border_labels", "exterior", "shift_pairs", "CoverageSign"]


def shift_pairs(shape: tuple[int, ...], axis: int, step: int) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    """Slices (a, b) such that ``arr[b]`` is the neighbour at ``+step`` along ``axis`` of ``arr[a]``."""
    a = [slice(None)] * len(shape)
    b = [slice(None)] * len(shape)
    if step > 0:
        a[axis], b[axis] = slice(0, shape[axis] - 1), slice(1, shape[axis])
    else:
        a[axis], b[axis] = slice(1, shape[axis]), slice(0, shape[axis] - 1)
    return tuple(a), tuple(b)


def uncovered_sign(covered: np.ndarray, field: np.ndarray, level: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Sign of every uncovered lattice node (relative to the iso-level ``level``).

    Args:
        covered: (X, Y, Z) bool, True where some cube contains the node.
        field: (X, Y, Z) float, the blend F; only its sign relative to ``level`` at covered nodes next to uncovered
            components matters.
        level: the iso-level (0 for the surface).

    Returns:
        labels: (X, Y, Z) int32 component label of each uncovered node (0 at covered nodes).
        sign_of_label: (L + 1,) int8, the sign (+1 / -1) of each label (index 0 unused, +1), so
        ``sign_of_label[labels]`` is the sign volume of uncovered space.
    """
    labels, count = ndimage.label(~covered, output=np.int32)
    signs = np.ones(count + 1, dtype=np.int8)
    # votes[l] = sum over (covered node c, uncovered 6-neighbour u with label l) of sign(F(c)).
    # rim = +1 / -1 at covered nodes (sign of F - level, 0 counts as +), 0 at uncovered ones; int8 arithmetic.
    rim = covered.view(np.int8) - 2 * (covered & (field < level)).view(np.int8)
    acc = np.zeros(covered.shape, dtype=np.int8)
    for axis in range(3):
        for step in (1, -1):
            a, b = shift_pairs(covered.shape, axis, step)
            acc[b] += rim[a]
    acc *= ~covered
    hit = np.flatnonzero(acc)
    votes = np.bincount(labels.ravel()[hit], weights=acc.ravel()[hit], minlength=count + 1)
    signs[votes < 0] = -1
    # Components that reach the lattice border are outside, whatever their rim says.
    signs[border_labels(labels)] = 1
    signs[0] = 1
    return labels, signs


def nearest_covered_sign(covered: np.ndarray, field: np.ndarray, level: float = 0.0) -> np.ndarray:
    """(X, Y, Z) int8: at every node the sign of ``F - level`` at its nearest covered node (Euclidean; scipy's
    feature transform), the local alternative to :func:`uncovered_sign` (``msdf decode --method mc-nearest``).

    A crack through a grid shell takes the signs of the grids on either side of it instead of joining the pocket
    behind it to the outside, so the inside stays inside. Where the surface leaves the grids (inside values on the
    border of the covered space) the inside reaches out into uncovered space, beyond the one node of it that marching
    cubes reads, and the mesh is open there. Encodings, whose pockets are enclosed and whose outer border is
    outside, decode the same under both conventions."""
    idx = ndimage.distance_transform_edt(~covered, return_distances=False, return_indices=True)
    return np.where(field[tuple(idx)] < level, -1, 1).astype(np.int8)


def border_labels(labels: np.ndarray) -> np.ndarray:
    """The distinct labels on the six faces of a labelled (X, Y, Z) lattice (0, the covered nodes, included if
    present)."""
    faces = [labels[0], labels[-1], labels[:, 0], labels[:, -1], labels[:, :, 0], labels[:, :, -1]]
    return np.unique(np.concatenate([f.ravel() for f in faces]))


def exterior(covered: np.ndarray) -> np.ndarray:
    """(X, Y, Z) bool: the uncovered nodes joined to the lattice border through uncovered 6-neighbours, the space
    step 3 of the module docstring makes outside."""
    labels, count = ndimage.label(~covered, output=np.int32)
    reaches = np.zeros(count + 1, dtype=bool)
    reaches[border_labels(labels)] = True
    reaches[0] = False
    return reaches[labels]


class CoverageSign:
    """Sign and magnitude of one shape's uncovered space, precomputed on a lattice (unit frame).

    ``value(x) = sign(x) * (d(x) + h)`` for uncovered points x, where ``sign`` is the :func:`uncovered_sign` of the
    nearest lattice node (if that node is covered, which happens in gaps thinner than the spacing h, the sign of F at
    that node; points outside the lattice box are outside, +1) and ``d`` is the Euclidean distance transform of the
    uncovered lattice (distance from the nearest node to the nearest covered node) plus the distance from x to the
    lattice box. The surface lies in covered space, so ``d`` is (up to h) a lower bound of the true distance; ``+ h``
    keeps the value away from 0 so no level set appears in uncovered space.
    """

    def __init__(self, lattice: Lattice, sign: np.ndarray, distance: np.ndarray):
        self.lattice = lattice
        self.sign = sign  # (X, Y, Z) int8, defined at every node
        self.distance = distance  # (X, Y, Z) float32, distance to the nearest covered node (0 at covered nodes)

    @classmethod
    @torch.no_grad()
    def build(cls, centers: torch.Tensor, scales: torch.Tensor, values: torch.Tensor,
              resolution: int) -> "CoverageSign":
        """Evaluate the blend on a lattice with ``resolution`` nodes along the grids' longest side and label it."""
        lattice = Lattice.around(centers, scales, resolution)
        F, W = blend_sdf_lattice(centers, scales, values, lattice)
        return cls.from_blend(lattice, F.cpu().numpy(), (W > 0).cpu().numpy())

    @classmethod
    def from_blend(cls, lattice: Lattice, field: np.ndarray, covered: np.ndarray) -> "CoverageSign":
        """Label the uncovered nodes of ``lattice`` given the blend ``field`` and the ``covered`` mask there
        (both (X, Y, Z), as :func:`msdf.field.blend_sdf_lattice` returns them)."""
        labels, signs = uncovered_sign(covered, field)
        sign = np.where(covered, np.where(field < 0, -1, 1), signs[labels]).astype(np.int8)
        distance = (ndimage.distance_transform_edt(~covered) * lattice.h).astype(np.float32)
        return cls(lattice, sign, distance)

    def node_values(self) -> np.ndarray:
        """``sign * (distance to coverage + h)`` at every lattice node (X, Y, Z) float32: :meth:`value` at the
        nodes (meaningful at uncovered ones)."""
        return self.sign * (self.distance + np.float32(self.lattice.h))

    def value(self, points: np.ndarray) -> np.ndarray:
        """``sign * (distance to coverage + h)`` at uncovered unit-frame ``points`` (P, 3); returns (P,) float64."""
        L = self.lattice
        dims = np.asarray(L.dims)
        hi = L.lo + (dims - 1) * L.h
        outside_box = np.linalg.norm(np.maximum(L.lo - points, 0) + np.maximum(points - hi, 0), axis=1)
        idx = np.clip(np.rint((points - L.lo) / L.h).astype(np.int64), 0, dims - 1)
        sign = np.where(outside_box > 0, 1, self.sign[idx[:, 0], idx[:, 1], idx[:, 2]]).astype(np.float64)
        return sign * (self.distance[idx[:, 0], idx[:, 1], idx[:, 2]] + outside_box + L.h)
