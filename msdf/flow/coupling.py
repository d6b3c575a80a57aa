"""Multisample flow matching (Pooladian et al. 2023): exact OT pairing of noise and data within a batch.

For a batch of data ``x1`` (B, ...) and noise ``x0`` (B, ...), solve the assignment problem

    min_sigma  sum_i || x1_i - x0_sigma(i) ||^2

with :func:`scipy.optimize.linear_sum_assignment` and train on the pairs ``(x0_sigma(i), x1_i)``.  For conditional
training the assignment is solved separately inside each group of equal conditions, so noise is never moved
between conditions (plain batch OT across conditions biases the conditional paths).
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
