"""Spacing loss: are the predicted grids spread over the surface as evenly as the encoder spreads them?

The encoder places a shape's n grids about one half-width apart (farthest-point sampling of the surface); sampled
shapes put theirs about half as far apart, in pairs with gaps between them ([row spacing] in docs/benchmarks.md):
each row learned where the surface is, not where the other rows are. With the nearest-neighbour distances of the
centres of the estimate ``x1_hat = x_t + (1 - t) u_theta(x_t, t)`` (:mod:`msdf.flow.path`) and of the data ``x1``,

    d_hat_bi = min_{j != i} |p_hat_bi - p_hat_bj|,      d_bi = min_{j != i} |p_bi - p_bj|      (B, n)

the loss compares the two distributions of spacings, each sorted (the 1-D Wasserstein-2 distance, so it does not
depend on which noise row was paired with which data row), in units of the shape's mean half-width ``s``::

    L_spacing = mean_{b, i} t_b (sort(d_hat_b)_i - sort(d_b)_i)^2 / mean_j(s_bj)^2

It pushes crowded pairs apart and pulls lone grids towards their neighbours; it is zero for the data in any row
order. The weight ``t`` fades it out where ``x1_hat`` is still a blurred average of many shapes, as in
:mod:`msdf.flow.center_loss`.

Measured (docs/training.md, "Spacing loss"): it lowered wholeness and left the sampled spacing where it was. At late
times training shows the model the data's rows plus a little noise, evenly spaced already; the crowding forms along
the sampling trajectory, in states this loss never sees.
"""
from __future__ import annotations

import torch

from msdf.rows import CENTERS, HALF_WIDTH


def nearest_spacing(centres: torch.Tensor) -> torch.Tensor:
    """Distance of every centre to its nearest other centre: ``centres`` (..., n, 3) -> (..., n), n >= 2.

    Differentiable everywhere the nearest distance is positive (the squared distances are formed explicitly, so a
    point's zero distance to itself never enters a square root)."""
    sq = (centres[..., :, None, :] - centres[..., None, :, :]).pow(2).sum(dim=-1)  # (..., n, n)
    eye = torch.eye(centres.shape[-2], dtype=torch.bool, device=centres.device)
    return sq.masked_fill(eye, float("inf")).amin(dim=-1).clamp_min(1e-12).sqrt()


def spacing_loss(pred_raw: torch.Tensor, data_raw: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``L_spacing`` of the module docstring: raw estimate ``pred_raw`` and data ``data_raw`` (B, n, 4 + k^3),
    times ``t`` (B,). Returns a float32 scalar."""
    d_hat = nearest_spacing(pred_raw[..., CENTERS].float()).sort(dim=-1).values
    d = nearest_spacing(data_raw[..., CENTERS].float()).sort(dim=-1).values
    scale = data_raw[..., HALF_WIDTH].float().mean(dim=-1).pow(2)  # (B,)
    return (t.float()[:, None] * (d_hat - d).pow(2) / scale[:, None]).mean()
