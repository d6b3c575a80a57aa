"""Narrow-band bookkeeping: which nodes are optimised and how their stencils and point corners index them.

At fine levels only nodes near the surface are variables. The optimiser then works on a compact vector
``x = cat(variables (M,), constants (C,))`` where the constants are the fixed values of non-band nodes that some
band stencil touches; every gather (6-neighbour stencils, trilinear corners of the points) indexes ``x`` directly,
so a step costs O(band + points) instead of O(R^3).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from viscogrid.grid import neighbours


@dataclass
class Band:
    """Compact indexing of a level's variables.

    Attributes:
        nodes: (M,) flat grid indices of the variables (interior nodes; the priors are evaluated at these).
        const_nodes: (C,) flat grid indices of fixed nodes touched by a variable's stencil.
        nb_local: (M, 6) indices into ``x`` of the variables' 6 neighbours.
        point_local: (N, 8) indices into ``x`` of the points' trilinear corners.
    """

    nodes: torch.Tensor
    const_nodes: torch.Tensor
    nb_local: torch.Tensor
    point_local: torch.Tensor


def band_mask(values: torch.Tensor, point_idx: torch.Tensor, half_width: int, h: float) -> torch.Tensor:
    """Boolean (R, R, R) mask: nodes within ``half_width`` cells of a point's cell or where ``|f| < half_width h``.

    Args:
        values: (R, R, R) current grid (the upsampled previous level).
        point_idx: (N, 8) flat corner indices of the points' cells.
        half_width: dilation radius in cells.
    """
    r = values.shape[0]
    occupied = torch.zeros(r**3, dtype=torch.bool, device=values.device)
    occupied[point_idx.reshape(-1)] = True
    return dilate(occupied.view(r, r, r), half_width) | (values.abs() < half_width * h)


def dilate(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Boolean (R, R, R) ``mask`` grown by ``radius`` nodes along each axis (a box, separable: shifted ORs).

    Slicing ORs cost 2 * radius passes per axis over the bools; CPU ``max_pool3d`` was ~100x slower at 256^3.
    """
    out = mask.clone()
    for axis in range(3):
        src = out.clone()
        n = out.shape[axis]
        for s in range(1, radius + 1):
            out.narrow(axis, 0, n - s).logical_or_(src.narrow(axis, s, n - s))
            out.narrow(axis, s, n - s).logical_or_(src.narrow(axis, 0, n - s))
    return out


def build_band(mask: torch.Tensor, point_idx: torch.Tensor) -> Band:
    """Compact indices for the variables: the nodes of ``mask`` (R, R, R) bool off the domain boundary.

    Boundary nodes stay fixed (they have no full stencil, so no prior constrains them and Adam would move them at
    full step size). At coarse resolutions (R < ~21 with the 0.9 unit extent) a point's cell can touch the domain
    boundary: such corners join the constants, so the point term still reads them but does not move them. Every
    other point corner must be a variable.
    """
    r = mask.shape[0]
    device = mask.device
    inner = torch.zeros_like(mask)
    inner[1:-1, 1:-1, 1:-1] = True
    nodes = (mask & inner).reshape(-1).nonzero().squeeze(1)
    lookup = torch.full((r**3,), -1, dtype=torch.int64, device=device)
    lookup[nodes] = torch.arange(len(nodes), device=device)
    nb = neighbours(nodes, r)
    boundary_corners = point_idx[~inner.reshape(-1)[point_idx]]
    outside = torch.cat([nb[lookup[nb] < 0], boundary_corners]).unique()
    lookup[outside] = len(nodes) + torch.arange(len(outside), device=device)
    point_local = lookup[point_idx]
    interior = inner.reshape(-1)[point_idx]
    if (point_local < 0).any() or (point_local[interior] >= len(nodes)).any():
        raise RuntimeError("narrow band does not contain every point's cell (band construction bug)")
    return Band(nodes, outside, nb_local=lookup[nb], point_local=point_local)
