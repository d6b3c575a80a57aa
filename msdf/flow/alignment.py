"""Grid alignment during sampling: each grid's centre moved so that its values fit the field of its neighbours.

A generated grid carries its piece of surface through its own centre, but the centres of the grids on one part sit
off it along the normal by more than a thin part is thick (a shelf's grid centres form a diffuse cloud around the
boards; docs/training.md, "Where the debris comes from"). Blended, the offset copies of a board cancel and the board
tears. This module registers each grid to the others: a step of the translation ``d_i`` that lowers the
disagreement of its near-surface values with the blend of the other grids (:mod:`msdf.disagreement`), the
Gauss-Newton step where the gradient has unit length (as an SDF's has)::

    x_ia = p_i + s_i o_a                              node a of grid i, o_a in [-1, 1]^3 (msdf.encoder.grid_offsets)
    r_ia = V_ia - F_-i(x_ia)                          leave-one-out residual (msdf.disagreement.left_out)
    g_ia = grad V_i at node a                         central differences of the grid's own lattice (one-sided
                                                      on its faces), over the node spacing 2 s_i / (k - 1)
    d_i  = mean_a r_ia g_ia                           over the nodes with |V_ia| < s_i / (k - 1) another grid covers
    d_i <- d_i min(1, s_i / (2 |d_i|))                at most half a half-width

In one dimension, with the others' field ``F = z`` and grid i carrying the surface at ``z = delta`` (``V = z -
delta``), ``r = -delta`` and ``g = 1``: the step is ``-delta``, onto the others' surface. A board or a rod thinner
than a node spacing (``V = |z - delta| - tau``) gets about half of it: the residual changes sign with the gradient
on the two sides, and the node at the kink, whose central difference vanishes, adds nothing. A grid moved
along a plane it carries (tangentially) changes no residual and gets no step, so alignment acts along the normal,
where grid repulsion (:mod:`msdf.flow.repulsion`) does not. Unlike minimising the disagreement over all entries (the
diagnosis of ``bench/bench_row_precision.py``, which erases thin parts by editing the values), only centres move: each
grid keeps its piece of surface, and the model regenerates the values in its next evaluations.

The step is added to the velocity by :meth:`msdf.flow.centre_push.CentrePush.wrap` at ``t_lo <= t < t_hi``,
after the repulsion's push (its clean estimate includes that push). It costs one blend at the near-surface nodes
per evaluation in the window. Nothing here looks at a reference or at the decoded mesh; the decode stays raw.

Measured (docs/benchmarks.md#alignment, strength 16 with the default repulsion, two 15-minute trainings, 144
held-out references): median wholeness 0.889 against 0.898 and 0.880 against 0.905, shelves 0.56 against 0.48 and
0.44 against 0.43, sampling 21% and 33% slower. Not a gain, so ``msdf.choices.ALIGNMENT_DEFAULT`` leaves it off.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from msdf.disagreement import COVERED, left_out
from msdf.encoder import grid_offsets
from msdf.field import blend_sdf
from msdf.flow.centre_push import CentrePush
from msdf.rows import CENTERS, HALF_WIDTH, VALUES, grid_size

def alignment_step(raw: Tensor) -> Tensor:
    """The step ``d`` (B, n, 3) of the module docstring on raw rows ``raw`` (B, n, 4 + k^3), unit frame.

    Only the near-surface nodes enter the blend: they are gathered per sample into (B, P) with P the largest count,
    and the padding is placed outside every cube (where the blend is 0 with weight 0)."""
    B, n, D = raw.shape
    k = grid_size(D)
    p, s, v = raw[..., CENTERS], raw[..., HALF_WIDTH].clamp_min(1e-6), raw[..., VALUES]
    offsets = torch.as_tensor(grid_offsets(k), dtype=raw.dtype, device=raw.device)        # (k^3, 3)
    own = 1.0 - offsets.abs().amax(dim=-1)                                                 # (k^3,) w_ia
    near = (v.abs() < (s / (k - 1))[..., None]).flatten(1)                                 # (B, n k^3)
    count = near.sum(dim=1)
    P = int(count.max())
    step = torch.zeros_like(p)
    if P == 0:
        return step
    flat = torch.argsort((~near).to(torch.uint8), dim=1, stable=True)[:, :P]             # near nodes first
    valid = torch.arange(P, device=raw.device)[None] < count[:, None]                     # (B, P)
    grid, node = flat // k ** 3, flat % k ** 3
    rows = torch.arange(B, device=raw.device)[:, None]
    far = (p + s[..., None]).amax(dim=(0, 1)) + 1.0                                        # outside every cube
    points = torch.where(valid[..., None], p[rows, grid] + s[rows, grid, None] * offsets[node], far)
    values = v.reshape(B, n, k, k, k)
    field, weight = blend_sdf(points, p, s, values)                                       # (B, P)
    # the own lattice's differences (unit node spacing), over the node spacing 2 s / (k - 1): (B, n, k^3, 3)
    slopes = torch.stack(torch.gradient(values, dim=(2, 3, 4)), dim=-1).flatten(2, 4)
    slopes = slopes / (2.0 * s / (k - 1))[..., None, None]
    gradient = slopes[rows, grid, node]                                                   # (B, P, 3)
    value, w_own = v.flatten(1).gather(1, flat), own[node]
    used = valid & (weight - w_own > COVERED)
    residual = torch.where(used, value - left_out(field, weight, w_own, value), torch.zeros_like(value))
    numerator = torch.zeros_like(p).index_put_((rows.expand_as(grid), grid), residual[..., None] * gradient,
                                               accumulate=True)
    count = torch.zeros_like(s).index_put_((rows.expand_as(grid), grid), used.to(s.dtype), accumulate=True)
    step = numerator / count.clamp_min(1.0)[..., None]
    cap = 0.5 * s[..., None] / step.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return step * cap.clamp(max=1.0)


@dataclass(frozen=True)
class Alignment(CentrePush):
    """Grid alignment (module docstring): ``strength`` lambda (0 = off), active at ``t_lo <= t < t_hi``
    (:class:`~msdf.flow.centre_push.CentrePush`)."""

    name = "alignment"

    def force(self, raw: Tensor) -> Tensor:
        """:func:`alignment_step`."""
        return alignment_step(raw)
