"""Grid repulsion during sampling: spread crowded grids over the surface the way the encoder spreads them.

The encoder places a shape's n grids about one half-width apart (farthest-point sampling of the surface); the demo's
models put theirs about half as far apart, in every class and at every guidance weight, in pairs with gaps between
them (docs/benchmarks.md#row-spacing): each row learned where the surface is, not where the other rows are. Neither
the spacing loss (:mod:`msdf.flow.spacing_loss`) nor more optimiser steps moved that. This module adds the missing
interaction at sampling time, in the spirit of particle guidance (Corso et al., ICLR 2024), which repels the
samples of a batch from each other; here the particles are the grids of one sample.

At times ``t_lo <= t < t_hi`` the centre columns of the velocity get a push that moves crowded grids of the current
clean estimate apart, along the surface::

    x1_hat = clean_estimate(x, t, u)                                  (B, n, D) normalised (msdf.flow.path)
    (p_i, s_i, V_i) = rows of denormalize(x1_hat)                      unit frame
    s_bar = mean_i s_i                                                 (B,)
    f_i   = s_bar sum_{j != i} max(0, r - |p_i - p_j| / s_bar) (p_i - p_j) / |p_i - p_j|          (B, n, 3)
    f_i  <- f_i - T_i f_i / lambda_max(T_i)                           (tangential: the grid stays on its surface)
    u[..., centres] += lambda f / std_centres                          (back to normalised units)

``T_i = sum_nodes g g^T`` is the grid's structure tensor, ``g`` the forward differences of its values ``V_i``
((k, k, k) in x, y, z order, :mod:`msdf.rows`) along the three axes. On a plane or a board ``T_i`` is
``lambda m m^T`` with ``m`` the normal, and the projection removes the normal part of the push; on a rod (a leg,
a stem) it keeps only the part along the axis; a corner or a blob, where every direction varies alike, is not
pushed. Unlike the mean gradient, ``T_i`` does not cancel in a board thinner than the grid, whose two faces have
opposite normals, and those thin boards are what tears in generated shapes; unlike the leading eigenvector it is
continuous in the values, so rounding cannot flip a push. A pair nearer than
``r`` mean half-widths moves apart at ``lambda`` times its overlap per unit time; grids farther apart feel nothing.
At ``r = 1`` the encodings' own layout (nearest neighbour ~1 half-width) would be left almost as it is; the default
``r = 1.3`` reaches a little further, and the demo model's samples still end nearer (0.73 half-widths) than the
encodings (0.97; docs/benchmarks.md#row-spacing). The values are
not touched: the model regenerates them for the new centres in its next evaluations, which is why the push stops at
``t_hi < 1``. Nothing here looks at the decoded surface; the decode stays raw.

Measured (docs/benchmarks.md#repulsion; the defaults ``msdf.choices.REPULSION_DEFAULT``, lambda 4 at r = 1.3): on two
15-minute trainings, more whole samples with fewer stray grids (median wholeness +0.012 and +0.028), at about the
same class accuracy and 1-NNA; chairs gained on both, shelves and stools on one of the two only.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from msdf.flow.centre_push import CentrePush
from msdf.rows import CENTERS, HALF_WIDTH, VALUES, grid_size


def structure_tensors(values: Tensor) -> Tensor:
    """``T = sum_nodes g g^T`` of each grid's values (module docstring): (..., k^3) -> (..., 3, 3)."""
    k = grid_size(4 + values.shape[-1])
    v = values.reshape(*values.shape[:-1], k, k, k)
    # forward differences along x, y, z, each cropped to the (k-1)^3 cells so the three line up
    g = torch.stack([v.diff(dim=-3)[..., :, :-1, :-1], v.diff(dim=-2)[..., :-1, :, :-1],
                     v.diff(dim=-1)[..., :-1, :-1, :]], dim=-1).flatten(-4, -2)  # (..., (k-1)^3, 3)
    return g.transpose(-1, -2) @ g


def repulsion_force(raw: Tensor, radius: float) -> Tensor:
    """The tangential push ``f`` (B, n, 3) of the module docstring on raw rows ``raw`` (B, n, 4 + k^3), unit frame."""
    p = raw[..., CENTERS]
    s_bar = raw[..., HALF_WIDTH].clamp_min(1e-6).mean(dim=-1)[:, None, None]  # (B, 1, 1)
    dist = torch.cdist(p, p, compute_mode="donot_use_mm_for_euclid_dist").clamp_min(1e-9)  # (B, n, n), exact
    c = (radius - dist / s_bar).clamp_min(0.0) / dist  # overlap / distance
    c.diagonal(dim1=-2, dim2=-1).zero_()  # a grid does not push itself (its own term would be r / 1e-9)
    # sum_j c_ij (p_i - p_j) as two (B, n, n) x (B, n, 3) products: no (B, n, n, 3) tensor of differences
    f = s_bar * (c.sum(dim=-1, keepdim=True) * p - c @ p)
    tensor = structure_tensors(raw[..., VALUES]).double()  # (B, n, 3, 3)
    top = torch.linalg.eigvalsh(tensor)[..., -1:].clamp_min(1e-30)  # (B, n, 1)
    return f - ((tensor @ f.double()[..., None]).squeeze(-1) / top).to(f.dtype)


@dataclass(frozen=True)
class Repulsion(CentrePush):
    """Grid repulsion (module docstring): ``strength`` lambda (0 = off), ``radius`` r in mean half-widths, active at
    ``t_lo <= t < t_hi`` (:class:`~msdf.flow.centre_push.CentrePush`)."""

    radius: float = 1.0
    name = "repulsion"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.radius > 0.0:
            raise ValueError(f"repulsion needs radius > 0 (got {self})")

    def force(self, raw: Tensor) -> Tensor:
        """:func:`repulsion_force` at :attr:`radius`."""
        return repulsion_force(raw, self.radius)
