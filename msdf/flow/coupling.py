"""Couplings of noise and data: which noise each data sample, and each of its rows, flows from.

Multisample flow matching (Pooladian et al. 2023): exact OT pairing of noise and data within a batch.

For a batch of data ``x1`` (B, ...) and noise ``x0`` (B, ...), solve the assignment problem

    min_sigma  sum_i || x1_i - x0_sigma(i) ||^2

with :func:`scipy.optimize.linear_sum_assignment` and train on the pairs ``(x0_sigma(i), x1_i)``.  For conditional
training the assignment is solved separately inside each group of equal conditions, so noise is never moved
between conditions (plain batch OT across conditions biases the conditional paths).

Row alignment (equivariant OT, Klein et al. 2023, for sets): the rows of an M-SDF are a set, so each sample's noise
rows may be reordered before pairing. :func:`align_rows` gives data row i the noise row of an exact per-sample
assignment on whole rows (all columns, in the normalised space the flow runs in)::

    min_pi  sum_i || x1_bi - x0_b,pi(i) ||^2          for every sample b

A permutation-equivariant model sees the same noise set, now paired so that the paths cross less.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment


def ot_permutation(x0: torch.Tensor, x1: torch.Tensor, groups: torch.Tensor | None = None) -> torch.Tensor:
    """Return ``perm`` (B,) such that ``x0[perm]`` is the exact squared-distance OT match of ``x1``.

    ``groups`` (B,) integer ids: rows are only paired with rows of the same id (``None``: one group).
    """
    if x0.shape != x1.shape:
        raise ValueError(f"noise and data shapes differ: {tuple(x0.shape)} vs {tuple(x1.shape)}")
    b = x0.shape[0]
    cost = torch.cdist(x1.detach().reshape(b, -1).double(), x0.detach().reshape(b, -1).double()).pow(2).cpu().numpy()
    gid = np.zeros(b, dtype=np.int64) if groups is None else groups.detach().cpu().numpy()
    perm = np.arange(b)
    for g in np.unique(gid):
        idx = np.flatnonzero(gid == g)
        rows, cols = linear_sum_assignment(cost[np.ix_(idx, idx)])
        perm[idx[rows]] = idx[cols]
    return torch.as_tensor(perm, device=x0.device)


def align_rows(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """``x0`` (B, n, D) with each sample's rows reordered to the exact squared-distance assignment to the rows of
    ``x1`` (B, n, D) (module doc); returns (B, n, D)."""
    if x0.shape != x1.shape or x0.dim() != 3:
        raise ValueError(f"align_rows needs two (B, n, D) tensors of one shape: {tuple(x0.shape)} vs {tuple(x1.shape)}")
    cost = torch.cdist(x1.detach().double(), x0.detach().double()).pow(2).cpu().numpy()
    order = np.stack([linear_sum_assignment(c)[1] for c in cost])
    return torch.gather(x0, 1, torch.as_tensor(order, device=x0.device)[..., None].expand_as(x0))
