"""Field-space loss: does each predicted grid put the surface where the data's grid has it?

The flow-matching loss compares rows column by column, so a grid moved along the surface costs as much as one moved
off it, and a centre error is not tied to the values that should move with it. What marching cubes sees is the field.
For a training pair, the model's estimate of the data at time t is
``x1_hat = x_t + (1 - t) u_theta(x_t, t)`` (plain CondOT path; :meth:`msdf.flow.path.CondOTPath.clean_estimate` in
general); row i of ``x1_hat`` estimates row i of ``x1``. With raw rows ``(p, s, V)`` of ``x1`` and
``(p_hat, s_hat, V_hat)`` of ``x1_hat``, the field of predicted grid i is read at the k^3 nodes of data grid i::

    q_ia = p_i + s_i g_a                        (g_a: the node offsets in [-1, 1]^3)
    F_ia = trilinear(V_hat_i, (q_ia - p_hat_i) / s_hat_i)     (border values outside the predicted cube)
    L_field = mean_{b, i, a} t_b (F_ia - V_ia)^2 / sigma^2

``sigma`` is the overall standard deviation of the SDF values, so the loss has the scale of the normalised MSE, and
the weight ``t`` fades it out where ``x1_hat`` is still a blurred average of many shapes. A grid moved along a flat
surface leaves F unchanged; moved across it, F changes by the distance moved: the loss measures surface placement.

Marching cubes reads only the sign of the field, so an error matters where the data's value is small: a thin board
one node spacing thick is a few near-zero values whose signs a small error flips, while a node far from the surface
can be off by as much without changing the mesh. ``surface_weight`` lambda >= 0 moves the loss's weight there::

    omega_ia = 1 + lambda exp(-|V_ia| / delta_i)     (delta_i = 2 s_i / (k - 1): data grid i's node spacing)
    L_field  = mean_{b, i, a} t_b omega_ia (F_ia - V_ia)^2 / (mean(omega) sigma^2)

Normalised by the mean weight, it redistributes the loss towards the surface without raising its total; lambda = 0
is the plain loss above.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from msdf.rows import CENTERS, HALF_WIDTH, VALUES


def node_offsets(k: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(k^3, 3) offsets ``g`` in [-1, 1]^3 of the grid nodes, in the C order of a row's values (index a -> x)."""
    lin = torch.linspace(-1.0, 1.0, k, device=device)
    return torch.stack(torch.meshgrid(lin, lin, lin, indexing="ij"), dim=-1).reshape(-1, 3)


def predicted_field_at_data_nodes(pred: torch.Tensor, data: torch.Tensor, k: int,
                                  min_half_width: float = 1e-3) -> torch.Tensor:
    """``F`` (B, n, k^3): predicted grid i (raw rows ``pred`` (B, n, 4 + k^3)) read at the nodes of data grid i
    (raw rows ``data``), trilinear, border values outside the predicted cube."""
    b, n, _ = pred.shape
    offsets = node_offsets(k, pred.device).to(pred.dtype)
    q = data[..., None, CENTERS] + data[..., HALF_WIDTH, None, None] * offsets  # (B, n, k^3, 3)
    local = (q - pred[..., None, CENTERS]) / pred[..., HALF_WIDTH, None, None].clamp_min(min_half_width)
    volume = pred[..., VALUES].reshape(b * n, 1, k, k, k)  # (D, H, W) = (a, b, c) = (x, y, z)
    grid = local.reshape(b * n, 1, 1, k ** 3, 3).flip(-1)  # grid_sample's (x, y, z) index (W, H, D)
    out = F.grid_sample(volume, grid, mode="bilinear", padding_mode="border", align_corners=True)
    return out.reshape(b, n, k ** 3)


def surface_weights(data: torch.Tensor, k: int, surface_weight: float) -> torch.Tensor:
    """``omega`` (B, n, k^3) of the module docstring for raw data rows ``data`` (B, n, 4 + k^3)."""
    spacing = 2.0 * data[..., HALF_WIDTH, None] / (k - 1)  # (B, n, 1)
    return 1.0 + surface_weight * torch.exp(-data[..., VALUES].abs() / spacing.clamp_min(1e-6))


def field_loss(pred_raw: torch.Tensor, data_raw: torch.Tensor, t: torch.Tensor, k: int,
               value_std: float, surface_weight: float = 0.0) -> torch.Tensor:
    """``L_field`` of the module docstring: raw estimate ``pred_raw`` and data ``data_raw`` (B, n, 4 + k^3), times
    ``t`` (B,), near-surface weight ``surface_weight`` (lambda; 0 = uniform). Returns a float32 scalar."""
    data = data_raw.float()
    err = (predicted_field_at_data_nodes(pred_raw.float(), data, k) - data[..., VALUES]).pow(2)
    weighted = t.float()[:, None, None] * err
    if surface_weight > 0:
        omega = surface_weights(data, k, surface_weight)
        weighted = omega * weighted / omega.mean()
    return weighted.mean() / value_std ** 2
