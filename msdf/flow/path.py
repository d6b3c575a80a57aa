"""The conditional-OT (CondOT) probability path of flow matching and its time samplers.

With noise ``x0 ~ N(0, I)`` and data ``x1``, the path and its conditional velocity are

    x_t = (1 - t) * x0 + t * x1,        u_t(x_t | x0, x1) = d x_t / dt = x1 - x0,

and the flow-matching loss regresses the model on that target:

    L = E_{t, x0, x1} || u_theta(x_t, t) - (x1 - x0) ||^2      (mean over all elements).

``t`` is drawn uniformly or from a logit-normal ``t = sigmoid(m + s * N(0, 1))`` (more weight on mid times).
"""
from __future__ import annotations

import torch

from msdf.rows import GEOMETRY


def interpolate(x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``x_t = (1 - t) x0 + t x1``; ``x0, x1``: (B, ...), ``t``: (B,). Returns (B, ...)."""
    tt = t.reshape(-1, *([1] * (x0.dim() - 1))).to(x0.dtype)
    return (1.0 - tt) * x0 + tt * x1


def clean_estimate(x: torch.Tensor, t: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """The data estimate a velocity implies on this path, ``x1_hat = x_t + (1 - t) u``: ``x``, ``u`` (B, ...),
    ``t`` (B,) -> (B, ...) in ``u``'s dtype."""
    return x.to(u.dtype) + (1.0 - t).reshape(-1, *([1] * (u.dim() - 1))).to(u.dtype) * u


def target_velocity(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """The conditional velocity of the CondOT path, ``x1 - x0`` (independent of ``t``)."""
    return x1 - x0


def flow_matching_loss(pred: torch.Tensor, x0: torch.Tensor, x1: torch.Tensor,
                       weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error between the predicted velocity and ``x1 - x0`` (a scalar, float32).

    ``weight`` (D,) optional per-column weights of the last axis: ``mean_{b,i,d} w_d (pred - target)^2``.
    """
    err = (pred.float() - target_velocity(x0, x1).float()).pow(2)
    return (err * weight.to(err)).mean() if weight is not None else err.mean()


def column_weights(dim: int, geometry_weight: float) -> torch.Tensor | None:
    """(D,) loss weights for M-SDF rows: ``geometry_weight`` on the 4 centre/half-width columns, 1 on the k^3 values,
    rescaled to mean 1 (``None`` when ``geometry_weight == 1``, i.e. plain MSE)."""
    if geometry_weight == 1.0:
        return None
    w = torch.ones(dim)
    w[GEOMETRY] = geometry_weight
    return w * (dim / w.sum())


def sample_time(
    batch: int,
    kind: str = "uniform",
    *,
    loc: float = 0.0,
    scale: float = 1.0,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw ``batch`` times in (0, 1): ``kind="uniform"`` or ``"logit_normal"`` (``sigmoid(loc + scale * z)``)."""
    if kind == "uniform":
        return torch.rand(batch, device=device, generator=generator)
    if kind == "logit_normal":
        return torch.sigmoid(loc + scale * torch.randn(batch, device=device, generator=generator))
    raise ValueError(f"unknown time sampler {kind!r}; expected 'uniform' or 'logit_normal'")
