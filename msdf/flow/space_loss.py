"""Space loss: wherever a predicted grid sits, its values must lie on the data shape's side of zero there.

Every training grid is centred on the surface, so its k^3 values always hold a zero crossing; a model trained only on
such rows gives every grid a surface, and a sampled grid whose centre lands in empty space decodes to a floating blob
(the debris of generated shapes). The flow-matching and field losses pair predicted row i with data row i; this loss
instead asks each predicted grid to carry the truth *at the place it was put*. With raw rows ``(p_hat, s_hat,
V_hat)`` of the estimate ``x1_hat = x_t + (1 - t) u_theta(x_t, t)`` (the path's, :mod:`msdf.flow.path`) and the
truncated field ``S`` of the data shape::

    r_ia   = p_hat_i + s_hat_i g_a                    (g_a: the node offsets in [-1, 1]^3; positions detached)
    a_ia   = sign(S_b(r_ia)) clip(V_hat_ia, tau)      (the value, signed towards the truth's side)
    L_space = mean_{b, i, a} t_b [|S_b(r_ia)| > m] max(0, |S_b(r_ia)| - m - a_ia)^2 / sigma^2

``clip(v, tau) = max(-tau, min(tau, v))``, ``S`` is clipped to ``[-tau, tau]`` and the margin ``m`` is a multiple
(``margin``, default 1) of the spacing h of the lattice ``S`` is read from, the precision of the truth. Wherever the
truth lies farther than m from the surface, each value must lie on the truth's side of zero and at least ``|S| - m``
from it: a grid in empty space is pushed to
positive values (it then decodes to nothing), one inside a thick part to negative ones. Within m of the truth's
surface the loss is silent: the lattice does not resolve walls or rods thinner than h, and the flow-matching
and field losses fit those values. Overshoot is free because outside the data's coverage ``|S|`` is only a lower
bound of the distance. The positions are detached: the loss shapes the values a grid takes where it is, not where it
goes. ``sigma`` and the weight ``t`` are those of :mod:`msdf.flow.field_loss`.

``S_b`` is read by trilinear interpolation from a volume per training shape (:class:`SpaceTruth`), the shape's own
M-SDF decoded on a lattice shared by all shapes: the blend where grids cover a node, and outside the coverage
``sign * (d + h)`` of :class:`msdf.coverage.CoverageSign` (``d`` the distance to the covered band, ``h`` the spacing).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from msdf.coverage import CoverageSign
from msdf.field import Lattice, blend_sdf_lattice
from msdf.flow.field_loss import node_offsets
from msdf.rows import CENTERS, HALF_WIDTH, VALUES, split_rows


class SpaceTruth:
    """Truncated fields ``S`` of a set of shapes on one cubic lattice (unit frame).

    Attributes:
        volumes: (N, R, R, R) float16, ``S`` at the lattice nodes (x slowest), clipped to ``[-tau, tau]``
            (2 R^3 bytes per shape: 0.5 MB at R = 64).
        lo: lower corner of the lattice box (3,); hi: its upper corner (3,), float32 tensors.
        tau: the truncation (the 99th percentile of the data's |values|).
        h: the node spacing.
    """

    def __init__(self, volumes: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, tau: float):
        self.volumes, self.lo, self.hi, self.tau = volumes, lo, hi, float(tau)
        self.h = float((hi - lo).max()) / (volumes.shape[-1] - 1)

    @classmethod
    @torch.no_grad()
    def build(cls, raw: torch.Tensor, resolution: int = 64, quiet: bool = True) -> "SpaceTruth":
        """Decode every shape of ``raw`` (N, n, 4 + k^3) on a ``resolution``^3 lattice around all their cubes
        (one node of margin, so the border is exterior)."""
        raw = raw.float()
        centers, half = raw[..., CENTERS], raw[..., HALF_WIDTH]
        lo = (centers - half[..., None]).amin(dim=(0, 1))
        hi = (centers + half[..., None]).amax(dim=(0, 1))
        h = float((hi - lo).max()) / (resolution - 3)
        lattice = Lattice(lo=lo.double().numpy() - h, h=h, dims=(resolution,) * 3)
        values = raw[..., VALUES].abs().flatten()
        tau = float(torch.quantile(values[::max(1, values.numel() >> 22)], 0.99))  # quantile takes <= 2^24 inputs
        volumes = torch.empty((len(raw), resolution, resolution, resolution), dtype=torch.float16)
        for b in tqdm(range(len(raw)), desc="space truth", disable=quiet):
            c, s, v = split_rows(raw[b])
            field, weight = blend_sdf_lattice(c, s, v, lattice)
            field, covered = field.numpy(), (weight > 0).numpy()
            outside = CoverageSign.from_blend(lattice, field, covered).node_values()
            volumes[b] = torch.from_numpy(np.where(covered, field, outside)).clamp(-tau, tau)
        box_lo = torch.as_tensor(lattice.lo, dtype=torch.float32)
        return cls(volumes, box_lo, box_lo + h * (resolution - 1), tau)

    def to(self, device: torch.device | str) -> "SpaceTruth":
        return SpaceTruth(self.volumes.to(device), self.lo.to(device), self.hi.to(device), self.tau)

    def at(self, index: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """``S`` of shapes ``index`` (B,) at ``points`` (B, P, 3), trilinear; the border value (exterior) beyond
        the box. Returns (B, P)."""
        unit = 2.0 * (points - self.lo) / (self.hi - self.lo) - 1.0  # grid_sample's [-1, 1] over the node box
        grid = unit.flip(-1)[:, :, None, None, :]  # (B, P, 1, 1, 3) as (x, y, z) = (W, H, D) indices
        volume = self.volumes[index.to(self.volumes.device)][:, None].float()  # (B, 1, R, R, R)
        out = F.grid_sample(volume, grid, mode="bilinear", padding_mode="border", align_corners=True)
        return out.reshape(points.shape[:2])


def space_loss(pred_raw: torch.Tensor, truth: SpaceTruth, index: torch.Tensor, t: torch.Tensor, k: int,
               value_std: float, margin: float = 1.0) -> torch.Tensor:
    """``L_space`` of the module docstring: raw estimate ``pred_raw`` (B, n, 4 + k^3) of the shapes ``index`` (B,)
    of ``truth``, times ``t`` (B,), margin ``m = margin * truth.h``. Returns a float32 scalar."""
    pred = pred_raw.float()
    b, n, _ = pred.shape
    nodes = (pred[..., None, CENTERS] + pred[..., HALF_WIDTH, None, None] * node_offsets(k, pred.device)).detach()
    target = truth.at(index, nodes.reshape(b, n * k ** 3, 3)).reshape(b, n, k ** 3)
    m = margin * truth.h
    shortfall = target.abs() - m - torch.sign(target) * pred[..., VALUES].clamp(-truth.tau, truth.tau)
    charged = (target.abs() > m) * shortfall.clamp_min(0.0)
    return (t.float()[:, None, None] * charged.pow(2)).mean() / value_std ** 2
