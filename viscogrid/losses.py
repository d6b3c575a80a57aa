"""VisCo loss terms, each a separate function of node/point values (all differentiable, any device).

Notation: ``f`` node values, ``h`` spacing, ``g = grad f`` by central differences, ``L = lap f`` by the 7-point stencil.

- viscosity (regularised eikonal): ``mean_nodes( ((|g| - 1) sign(f) - eps L)^2 )``; ``eps > 0`` picks the viscosity
  solution of ``|grad f| = 1``, i.e. a true signed distance without spurious kinks.
- coarea (area of the zero level set): ``sum_nodes delta_beta(f) |g| h^3`` with the Laplace density
  ``delta_beta(s) = exp(-|s| / beta) / (2 beta)``; by the coarea formula it tends to the surface area as beta -> 0.
- point data: ``mean_i f(x_i)^2``; normal data: ``mean_i |grad f(x_i) - n_i|^2``.
"""
from __future__ import annotations

import torch

from viscogrid.grid import central_gradient, laplacian

_NORM_EPS = 1e-12  # keeps d|g|/dg finite where g = 0


def gradient_norm(nb: torch.Tensor, h: float) -> torch.Tensor:
    """``|grad f|`` (M,) at nodes from their neighbour values ``nb`` (M, 6), smoothed at 0 by ``sqrt(|g|^2 + 1e-12)``."""
    g = central_gradient(nb, h)
    return torch.sqrt((g * g).sum(-1) + _NORM_EPS)


def viscosity_residual(
    center: torch.Tensor, nb: torch.Tensor, h: float, eps: float, grad_norm: torch.Tensor | None = None
) -> torch.Tensor:
    """``(|grad f| - 1) sign(f) - eps lap f`` (M,) at nodes with values ``center`` (M,) and neighbours ``nb`` (M, 6).

    ``grad_norm``: :func:`gradient_norm` of the same nodes if already computed (shared with :func:`coarea`).
    For an exact SDF ``|grad f| = 1`` and the residual is ``-eps lap f`` (``-2 eps / r`` for a sphere of radius r).
    """
    g = gradient_norm(nb, h) if grad_norm is None else grad_norm
    return (g - 1.0) * torch.sign(center.detach()) - eps * laplacian(center, nb, h)


def viscosity_loss(
    center: torch.Tensor, nb: torch.Tensor, h: float, eps: float, grad_norm: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean squared viscosity residual (scalar)."""
    return viscosity_residual(center, nb, h, eps, grad_norm).square().mean()


def laplace_density(s: torch.Tensor, beta: float) -> torch.Tensor:
    """``delta_beta(s) = exp(-|s| / beta) / (2 beta)``, a smooth Dirac delta of width ``beta`` (integrates to 1)."""
    return torch.exp(-s.abs() / beta) / (2.0 * beta)


def coarea(
    center: torch.Tensor, nb: torch.Tensor, h: float, beta: float, grad_norm: torch.Tensor | None = None
) -> torch.Tensor:
    """Area of the zero level set ``sum_nodes delta_beta(f) |grad f| h^3`` (scalar, unit-frame area units).

    Sums over the given nodes only; nodes far from the surface (``|f| >> beta``) contribute nothing.
    """
    g = gradient_norm(nb, h) if grad_norm is None else grad_norm
    return (laplace_density(center, beta) * g).sum() * h**3


def point_loss(f_points: torch.Tensor) -> torch.Tensor:
    """``mean_i f(x_i)^2`` for the field values (N,) at the input points."""
    return f_points.square().mean()


def normal_loss(grad_points: torch.Tensor, normals: torch.Tensor) -> torch.Tensor:
    """``mean_i |grad f(x_i) - n_i|^2`` for field gradients (N, 3) and unit normals (N, 3) at the points."""
    return (grad_points - normals).square().sum(-1).mean()
