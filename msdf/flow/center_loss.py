"""Nearest-centre loss: does every predicted grid sit on the data shape's surface, whichever row it was paired with?

The rows of an M-SDF are a set, and the flow-matching loss pairs noise row i with data row i at random, so its
regression target for a row is a blend of the places that row could go. A sampled grid whose centre lands between
two parts, off the surface, still carries surface-like values and decodes to a floating blob (measured: the debris
of generated shapes is made of such grids). With raw centres ``p_hat`` of the estimate
``x1_hat = x_t + (1 - t) u_theta(x_t, t)`` (the path's clean estimate, :mod:`msdf.flow.path`) and ``p``, ``s`` of
the data ``x1`` (B, n, 3) and (B, n)::

    L_center = mean_{b, i} t_b min_j ||p_hat_bi - p_bj||^2 / mean_j(s_bj)^2

is zero when every predicted centre coincides with some data centre (the data centres are the surface samples the
encoder placed) and grows with the distance off the surface in units of the shape's half-width. The weight ``t``
fades it out where ``x1_hat`` is still a blurred average of many shapes, as in :mod:`msdf.flow.field_loss`.
"""
from __future__ import annotations

import torch

from msdf.rows import CENTERS, HALF_WIDTH


def center_loss(pred_raw: torch.Tensor, data_raw: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``L_center`` of the module docstring: raw estimate ``pred_raw`` and data ``data_raw`` (B, n, 4 + k^3),
    times ``t`` (B,). Returns a float32 scalar."""
    p_hat, p = pred_raw[..., CENTERS].float(), data_raw[..., CENTERS].float()
    nearest = torch.cdist(p_hat, p).amin(dim=-1).pow(2)  # (B, n)
    scale = data_raw[..., HALF_WIDTH].float().mean(dim=-1).pow(2)  # (B,)
    return (t.float()[:, None] * nearest / scale[:, None]).mean()
