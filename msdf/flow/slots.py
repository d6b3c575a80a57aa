"""Slot template: a canonical row order for M-SDF matrices, so that row i of every shape lives in the same region.

The rows of an M-SDF are a set. A permutation-equivariant model must then break the symmetry between rows itself:
with noise rows paired to data rows at random, each noise row at ``t = 0`` may be heading for any of the n grids, and
a small model averages those targets -- grids end up between the surfaces of the data (debris). The slot template
removes that ambiguity, as image patches have a fixed place in the image:

1. ``template`` (n, 3) = k-means (Lloyd) of the grid centres of all training shapes with n clusters, so each slot
   is a region where training shapes have surface;
2. each shape's rows are reordered by an optimal one-to-one assignment of its centres to the slots,
   ``perm = argmin_sigma sum_i |p_sigma(i) - template_i|^2`` (Hungarian, :func:`scipy.optimize.linear_sum_assignment`);
3. the model adds an embedding of ``template_i`` to row token i (:class:`msdf.flow.model.SlotEmbedder`), so the
   velocity of row i knows where its grid belongs.

The reordering is a bijection of the rows, so the M-SDF (a set) is unchanged; the template travels with the weights.
"""
from __future__ import annotations

import numpy as np
import torch

from msdf.rows import CENTERS
from scipy.optimize import linear_sum_assignment


def fit_template(centres: torch.Tensor, slots: int, iters: int = 25, seed: int = 0,
                 max_points: int = 200_000) -> torch.Tensor:
    """k-means of grid centres: ``centres`` (..., 3) (e.g. (N, n, 3) of all training shapes) -> (slots, 3).

    k-means++ seeding (each new centre drawn with probability proportional to the squared distance to the nearest
    centre so far), then Lloyd iterations; an empty cluster is re-seeded at the point farthest from its centre. At
    most ``max_points`` points (a seeded random subset) enter the fit.
    """
    gen = torch.Generator().manual_seed(seed)
    pts = centres.reshape(-1, 3).double()
    if pts.shape[0] < slots:
        raise ValueError(f"slot template: {pts.shape[0]} centres cannot fill {slots} slots")
    if pts.shape[0] > max_points:
        pts = pts[torch.randperm(pts.shape[0], generator=gen)[:max_points]]
    means = torch.empty(slots, 3, dtype=pts.dtype)
    means[0] = pts[torch.randint(pts.shape[0], (1,), generator=gen)]
    d2 = (pts - means[0]).pow(2).sum(1)
    for j in range(1, slots):
        means[j] = pts[torch.multinomial(d2 + 1e-30, 1, generator=gen)]
        d2 = torch.minimum(d2, (pts - means[j]).pow(2).sum(1))
    for _ in range(iters):
        dist = torch.cdist(pts, means)  # (P, slots)
        near, assign = dist.min(dim=1)
        sums = torch.zeros_like(means).index_add_(0, assign, pts)
        counts = torch.bincount(assign, minlength=slots)
        empty = torch.nonzero(counts == 0).flatten()
        means = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], means)
        if len(empty):
            means[empty] = pts[near.argsort(descending=True)[: len(empty)]]
    return means.float()


def slot_order(centres: np.ndarray | torch.Tensor, template: np.ndarray | torch.Tensor) -> np.ndarray:
    """The row order of one shape: ``perm`` (n,) with row ``perm[i]`` assigned to slot i (min total squared
    distance between centres (n, 3) and template (n, 3))."""
    c = np.asarray(centres, dtype=np.float64)
    t = np.asarray(template, dtype=np.float64)
    if c.shape != t.shape:
        raise ValueError(f"slot order: centres {c.shape} and template {t.shape} differ")
    cost = ((t[:, None, :] - c[None, :, :]) ** 2).sum(-1)  # (slot, row)
    slots, rows = linear_sum_assignment(cost)
    return rows[np.argsort(slots)]


def reorder_rows(matrices: torch.Tensor, template: torch.Tensor) -> torch.Tensor:
    """(N, n, D) raw matrices -> the same shapes with rows in slot order (centres are columns 0:3)."""
    out = torch.empty_like(matrices)
    for j in range(matrices.shape[0]):
        out[j] = matrices[j, torch.from_numpy(slot_order(matrices[j, :, CENTERS], template))]
    return out
