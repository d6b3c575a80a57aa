"""Overlap disagreement of an M-SDF: do the grids that overlap agree on where the surface is?

Rows ``(p_i, s_i, V_i)`` of an (n, 4 + k^3) matrix; node ``a`` of grid ``i`` sits at ``x_ia = p_i + s_i o_a`` with
``o_a in [-1, 1]^3`` (:func:`msdf.encoder.grid_offsets`), where the grid's own value is ``V_ia``. With the blend
``F``, ``W`` of :mod:`msdf.field`, the field of the *other* grids at that node is (leave-one-out; the own grid's hat
weight there is ``w_ia = 1 - ||o_a||_inf`` and its trilinear value is ``V_ia`` exactly)::

    F_-i(x_ia) = (W(x_ia) F(x_ia) - w_ia V_ia) / (W(x_ia) - w_ia)

Over the nodes near the surface, ``|V_ia| < s_i / (k - 1)`` (within half a node spacing of it), that another grid
covers (``W - w_ia > 0``)::

    disagreement = sqrt( mean (V_ia - F_-i(x_ia))^2 )        (unit-frame length)

The grids of an encoding sample one SDF, so they agree up to interpolation error. A grid moved by ``delta`` along the
surface normal, or one whose values are all offset by ``delta``, disagrees with its neighbours by about ``delta``
(its neighbours pull the blend back towards them, so somewhat less): the row-level error that tears the thin parts
of an encoding apart (``bench/bench_row_tolerance.py``). The measure needs no reference shape: it reads a generator's
row precision off its samples. ``bench/bench_row_precision.py`` calibrates it against known perturbations, and also
shows that a generated sample made to agree is no more whole: its grids agree on a wrong surface.
"""
from __future__ import annotations

import numpy as np
import torch

from msdf.encoder import grid_offsets
from msdf.field import blend_sdf
from msdf.rows import CENTERS, HALF_WIDTH, VALUES, grid_size

COVERED = 1e-6  # W - w_ia below this: no other grid covers the node


def left_out(field: torch.Tensor, weight: torch.Tensor, own_weight: torch.Tensor,
             own_value: torch.Tensor) -> torch.Tensor:
    """``F_-i = (W F - w_ia V_ia) / (W - w_ia)``: the blend of the other grids at a node of grid i (module
    docstring), elementwise; where no other grid covers the node (``W - w_ia <= 1e-6``) the result is meaningless."""
    return (weight * field - own_weight * own_value) / (weight - own_weight).clamp_min(COVERED)


def node_residuals(matrix: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``V_ia - F_-i(x_ia)`` (m,) at the near-surface nodes another grid covers (module docstring); float64 for a
    numpy matrix, the tensor's dtype (and differentiable in it, the choice of nodes aside) for a tensor."""
    m = matrix if isinstance(matrix, torch.Tensor) else torch.from_numpy(np.asarray(matrix, dtype=np.float64))
    k = grid_size(m.shape[-1])
    centers, scales, values = m[:, CENTERS], m[:, HALF_WIDTH], m[:, VALUES]
    offsets = torch.from_numpy(grid_offsets(k)).to(m)                            # (k^3, 3)
    nodes = centers[:, None, :] + scales[:, None, None] * offsets[None]          # (n, k^3, 3)
    field, weight = blend_sdf(nodes.reshape(1, -1, 3), centers[None], scales[None],
                              values.reshape(1, -1, k, k, k))
    field, weight = field.view_as(values), weight.view_as(values)                # (n, k^3)
    own = (1.0 - offsets.abs().amax(-1))[None].expand_as(values)                 # w_ia
    others = weight - own
    near = (values.abs() < (scales / (k - 1))[:, None]) & (others > COVERED)
    return (values - left_out(field, weight, own, values))[near]


def overlap_disagreement(matrix: np.ndarray | torch.Tensor) -> float | None:
    """Root mean square of :func:`node_residuals` (module docstring); None when there is nothing to measure: no
    near-surface node is shared, or the matrix is no valid M-SDF (a non-finite entry, a half-width <= 0)."""
    m = np.asarray(matrix, dtype=np.float64)
    if not np.isfinite(m).all() or (m[:, HALF_WIDTH] <= 0).any():
        return None
    r = node_residuals(m)
    return float(r.pow(2).mean().sqrt()) if r.numel() else None


def disagreement_loss(matrix: torch.Tensor) -> torch.Tensor:
    """Mean of the squared :func:`node_residuals` of one (n, 4 + k^3) tensor: a differentiable scalar (0 when no
    node is shared)."""
    r = node_residuals(matrix)
    return r.pow(2).mean() if r.numel() else matrix.sum() * 0.0
