"""The grid function: node values on a regular lattice over the domain ``[-1, 1]^3``, trilinear between nodes.

A grid of resolution ``R`` has ``R`` nodes per axis at ``x_i = -1 + i h`` with spacing ``h = 2 / (R - 1)``; values are
stored as a (R, R, R) tensor indexed ``[i, j, k]`` (i along x, j along y, k along z) or flattened in C order
(``flat = (i R + j) R + k``). Everything here is plain torch and runs on any device.

- :func:`trilinear_stencil` precomputes, for fixed points, the 8 corner nodes, trilinear weights and their spatial
  derivatives, so ``f(x) = sum_c w_c v_c`` and ``grad f(x) = sum_c dw_c v_c`` are gathers that are linear in the values.
- :func:`neighbours` gives the 6 axis neighbours of nodes, for central differences
  ``df/dx ~ (v[i+1] - v[i-1]) / 2h`` and the 7-point Laplacian ``(sum_6 v_nb - 6 v) / h^2``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def spacing(resolution: int) -> float:
    """Node spacing ``h = 2 / (R - 1)`` of a resolution-``R`` grid over ``[-1, 1]``."""
    if resolution < 3:
        raise ValueError(f"grid resolution must be >= 3, got {resolution}")
    return 2.0 / (resolution - 1)


def node_coordinates(resolution: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Positions of all nodes, (R, R, R, 3) float32, ``[i, j, k] -> (-1 + i h, -1 + j h, -1 + k h)``."""
    axis = torch.linspace(-1.0, 1.0, resolution, device=device)
    return torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1)


def trilinear_stencil(points: torch.Tensor, resolution: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Corner nodes and weights of the trilinear interpolant at ``points``.

    Args:
        points: (N, 3) positions inside ``[-1, 1]^3`` (clamped to it).
        resolution: R.
    Returns:
        idx: (N, 8) int64 flat node indices of the cell corners, corner ``c = 4a + 2b + d`` at offset (a, b, d).
        w: (N, 8) weights ``prod_axes (t if offset else 1 - t)``, summing to 1, so ``f(x) = (w * v[idx]).sum(-1)``.
        dw: (N, 8, 3) spatial derivatives of ``w`` (per unit length), so ``grad f(x) = (dw * v[idx, None]).sum(1)``.
    """
    r = resolution
    h = spacing(r)
    u = ((points.clamp(-1.0, 1.0) + 1.0) / h).to(torch.float32)
    base = u.floor().clamp(0, r - 2)
    t = u - base
    base = base.long()
    corners, weights, grads = [], [], []
    one = torch.ones_like(t[:, 0])
    for a in (0, 1):
        for b in (0, 1):
            for d in (0, 1):
                off = (a, b, d)
                factors = [t[:, ax] if o else 1.0 - t[:, ax] for ax, o in enumerate(off)]
                slopes = [one if o else -one for o in off]
                corners.append(((base[:, 0] + a) * r + (base[:, 1] + b)) * r + (base[:, 2] + d))
                weights.append(factors[0] * factors[1] * factors[2])
                grads.append(
                    torch.stack(
                        [
                            slopes[0] * factors[1] * factors[2],
                            factors[0] * slopes[1] * factors[2],
                            factors[0] * factors[1] * slopes[2],
                        ],
                        dim=-1,
                    )
                    / h
                )
    return torch.stack(corners, 1), torch.stack(weights, 1), torch.stack(grads, 1)


class _Gather(torch.autograd.Function):
    """``values[idx]`` whose backward scatters with ``index_add_`` (faster on CPU than indexing's accumulating
    ``index_put_``; ``bench/bench_visco.py --sections gather`` measures it)."""

    @staticmethod
    def forward(ctx, values: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(idx)
        ctx.size = values.shape[0]
        return values[idx]

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (idx,) = ctx.saved_tensors
        out = torch.zeros(ctx.size, dtype=grad.dtype, device=grad.device)
        return out.index_add_(0, idx.reshape(-1), grad.reshape(-1)), None


def gather(values: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``values[idx]`` for a 1-D ``values`` (V,) and any-shape integer ``idx``; differentiable in ``values``."""
    return _Gather.apply(values, idx)


def interpolate(values: torch.Tensor, idx: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``f(x_n) = sum_c w[n, c] values[idx[n, c]]`` -> (N,). ``values`` is any 1-D vector that ``idx`` indexes."""
    return (gather(values, idx) * w).sum(-1)


def interpolate_gradient(values: torch.Tensor, idx: torch.Tensor, dw: torch.Tensor) -> torch.Tensor:
    """``grad f(x_n) = sum_c dw[n, c] values[idx[n, c]]`` -> (N, 3)."""
    return (gather(values, idx).unsqueeze(-1) * dw).sum(1)


def interior_nodes(resolution: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Flat indices (M,) of the nodes that have all 6 neighbours (not on the domain boundary)."""
    inner = torch.arange(1, resolution - 1, device=device)
    i, j, k = torch.meshgrid(inner, inner, inner, indexing="ij")
    return ((i * resolution + j) * resolution + k).reshape(-1)


def neighbours(flat: torch.Tensor, resolution: int) -> torch.Tensor:
    """The 6 axis neighbours (M, 6) ``[x-, x+, y-, y+, z-, z+]`` of interior nodes ``flat`` (M,)."""
    r = resolution
    steps = torch.tensor([-r * r, r * r, -r, r, -1, 1], device=flat.device)
    return flat[:, None] + steps


def central_gradient(nb: torch.Tensor, h: float) -> torch.Tensor:
    """Central-difference gradient (M, 3) from neighbour values ``nb`` (M, 6): ``(v[+] - v[-]) / 2h`` per axis."""
    return torch.stack([nb[:, 1] - nb[:, 0], nb[:, 3] - nb[:, 2], nb[:, 5] - nb[:, 4]], dim=-1) / (2.0 * h)


def laplacian(center: torch.Tensor, nb: torch.Tensor, h: float) -> torch.Tensor:
    """7-point Laplacian (M,): ``(sum_6 nb - 6 center) / h^2``."""
    return (nb.sum(-1) - 6.0 * center) / (h * h)


def upsample(values: torch.Tensor, resolution: int) -> torch.Tensor:
    """Trilinear resampling of a (r, r, r) grid onto a (R, R, R) grid over the same domain (node-aligned corners)."""
    return F.interpolate(values[None, None], size=(resolution,) * 3, mode="trilinear", align_corners=True)[0, 0]
