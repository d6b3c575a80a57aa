"""The conditional-OT (CondOT) probability path of flow matching, with per-column clocks, and its time samplers.

With noise ``x0 ~ N(0, I)`` and data ``x1``, column ``d`` of a row runs on its own clock
``kappa_d(t) = min(1, t / e_d)``, which reaches the data at time ``e_d`` (``0 < e_d <= 1``)::

    x_t = (1 - kappa(t)) * x0 + kappa(t) * x1,      u_t(x_t | x0, x1) = d x_t / dt = kappa'(t) * (x1 - x0),

    kappa'_d(t) = 1 / e_d for t < e_d, else 0.

With every ``e_d = 1`` this is the plain CondOT path ``x_t = (1 - t) x0 + t x1``, ``u = x1 - x0``.
:class:`CondOTPath` sets ``e = geometry_end`` on the 4 centre/half-width columns and ``e = values_end`` on the k^3
values. ``geometry_end < 1`` is a *geometry-first* path: the grids finish moving at ``geometry_end``, after which only
the values move, generated for a known layout. ``values_end < 1`` is the reverse: the values settle first and the
last part of the flow moves the grids to where their values fit. One time ``t`` still drives the whole matrix, so
every ODE solver, restart, BNS and D-Flow integrate it unchanged.

The flow-matching loss regresses the model on the target velocity::

    L = E_{t, x0, x1} || u_theta(x_t, t) - kappa'(t) (x1 - x0) ||^2      (mean over all elements).

``t`` is drawn uniformly or from a logit-normal ``t = sigmoid(m + s * N(0, 1))`` (more weight on mid times).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from msdf.rows import GEOMETRY

if TYPE_CHECKING:
    from msdf.flow.config import TrainConfig


@dataclass(frozen=True)
class CondOTPath:
    """The CondOT path of the module doc; ``geometry_end`` and ``values_end`` are ``e`` of the geometry and the value
    columns (both 1: plain CondOT).

    Tensors: ``x0, x1, x, u`` (B, ..., D) with the M-SDF row's columns last, ``t`` (B,).
    """

    geometry_end: float = 1.0
    values_end: float = 1.0

    def __post_init__(self) -> None:
        for name in ("geometry_end", "values_end"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1] (got {getattr(self, name)})")

    @classmethod
    def of(cls, config: "TrainConfig") -> "CondOTPath":
        """The path a training config names (its ``geometry_end`` and ``values_end``)."""
        return cls(config.geometry_end, config.values_end)

    def _ends(self, like: torch.Tensor) -> torch.Tensor:
        """(D,) the column ends ``e_d`` in ``like``'s dtype and device."""
        ends = torch.full((like.shape[-1],), self.values_end, dtype=like.dtype, device=like.device)
        ends[GEOMETRY] = self.geometry_end
        return ends

    @staticmethod
    def _time(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """``t`` (B,) shaped (B, 1, ..., 1) to broadcast against ``like``."""
        return t.reshape(-1, *([1] * (like.dim() - 1))).to(like.dtype)

    def kappa(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """``kappa_d(t) = min(1, t / e_d)`` (B, 1, ..., D), broadcastable against ``like`` (B, ..., D)."""
        return (self._time(t, like) / self._ends(like)).clamp(max=1.0)

    def rate(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """``kappa'_d(t)`` (B, 1, ..., D): ``1 / e_d`` while column d moves, else 0 (a column that ends at 1 moves up
        to t = 1)."""
        ends = self._ends(like)
        moving = (self._time(t, like) < ends) | (ends == 1.0)
        return moving.to(like.dtype) / ends

    def interpolate(self, x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``x_t = (1 - kappa(t)) x0 + kappa(t) x1`` (B, ..., D)."""
        kappa = self.kappa(t, x0)
        return (1.0 - kappa) * x0 + kappa * x1

    def target_velocity(self, x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The conditional velocity ``kappa'(t) (x1 - x0)`` (B, ..., D)."""
        return self.rate(t, x0) * (x1 - x0)

    def clean_estimate(self, x: torch.Tensor, t: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """The data estimate a velocity ``u`` implies at ``(x, t)``: ``x1_hat = x + (1 - kappa) / kappa' * u``, i.e.
        ``x + max(e - t, 0) u`` per column (``x + (1 - t) u`` on plain CondOT); in ``u``'s dtype."""
        remaining = (self._ends(u) - self._time(t, u)).clamp(min=0.0)
        return x.to(u.dtype) + remaining * u


def flow_matching_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                       row_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error between the predicted and the target velocity, both (B, n, D) (a scalar, float32).

    ``weight`` (D,) optional per-column weights of the last axis, ``row_weight`` (B, n) optional per-row weights
    (:mod:`msdf.flow.sparse_rows`): ``mean_{b,i,d} r_bi w_d (pred - target)^2``.
    """
    err = (pred.float() - target.float()).pow(2)
    if weight is not None:
        err = err * weight.to(err)
    if row_weight is not None:
        err = err * row_weight.to(err)[..., None]
    return err.mean()


DATA_PREDICTION_MIN_GAP = 0.05


def velocity_from_clean(x: torch.Tensor, t: torch.Tensor | float, x1_hat: torch.Tensor,
                        min_gap: float = DATA_PREDICTION_MIN_GAP) -> torch.Tensor:
    """The plain CondOT velocity a clean estimate implies: ``u = (x1_hat - x) / max(1 - t, min_gap)`` (B, ..., D).

    The inverse of :meth:`CondOTPath.clean_estimate` on the plain path wherever ``1 - t >= min_gap``; the floor (0.05,
    as in Li & He 2025, "Back to Basics: Let Denoising Generative Models Denoise") keeps the division bounded near
    t = 1. ``x``, ``x1_hat`` (B, ..., D); ``t`` (B,) or a scalar. A data-predicting network
    (``model.prediction: data``) returns this, so the loss, every solver and guidance see a velocity as before.
    """
    t = torch.as_tensor(t, device=x.device, dtype=x1_hat.dtype).reshape(-1, *([1] * (x.dim() - 1)))
    return (x1_hat - x.to(x1_hat.dtype)) / (1.0 - t).clamp(min=min_gap)


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
    uniform_share: float = 0.0,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw ``batch`` times (batch,) in (0, 1): ``kind="uniform"`` or ``"logit_normal"`` (``sigmoid(loc + scale * z)``).

    ``uniform_share`` p mixes the two: each time is uniform with probability p, else drawn from ``kind``, i.e. the
    density ``p + (1 - p) q(t)``. A late logit-normal (loc 1) leaves about 3% of the draws below t = 0.3, where the
    flow decides where the rows go; a share p makes that 0.3 p + 0.03 (1 - p).
    """
    if not 0.0 <= uniform_share <= 1.0:
        raise ValueError(f"uniform_share must lie in [0, 1] (got {uniform_share})")
    if kind == "uniform":
        return torch.rand(batch, device=device, generator=generator)
    if kind != "logit_normal":
        raise ValueError(f"unknown time sampler {kind!r}; expected 'uniform' or 'logit_normal'")
    t = torch.sigmoid(loc + scale * torch.randn(batch, device=device, generator=generator))
    if uniform_share == 0.0:
        return t
    uniform = torch.rand(batch, device=device, generator=generator)
    pick = torch.rand(batch, device=device, generator=generator) < uniform_share
    return torch.where(pick, uniform, t)
