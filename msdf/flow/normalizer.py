"""Per-column (or per-slot) normalisation of M-SDF matrices.

Centres, half-widths and SDF values live on different scales, so each of the D columns is standardised with the
store's statistics: ``x_norm = (x - mean) / std`` and back ``x = x_norm * std + mean`` (``mean``, ``std``: (D,)).
With slot-ordered rows (:mod:`msdf.flow.slots`) the statistics may be per slot and column, ``mean``, ``std``: (n, D)
(:meth:`Normalizer.per_slot`): the noise of the flow then spreads each slot's grid over the region where that slot's
grids lie in the data, not over the whole shape, and a given error of the model moves a grid by ``std[i]``, the spread
of slot i, instead of the spread of all centres. The statistics are saved with the checkpoint and undone at sampling.

With a ``value_scale`` ``a``, the k^3 SDF values are first companded by the symmetric log (invertible on all of R)::

    c(v) = a sign(v) log(1 + |v| / a),      v(c) = a sign(c) (exp(|c| / a) - 1)

and the statistics are those of ``c``; ``v(c)`` saturates at ``|v| = V_MAX`` (no point of the unit frame lies that
far from a surface), so a wild early estimate of the field loss cannot overflow. Near the surface (``|v| << a``)
``c ~ v``; far from it ``c`` grows like a logarithm, so the values' std shrinks and an error of the model of a given
size in standardised units moves the surface less (a row-level value error of 0.01 tears thin parts apart,
``bench/bench_row_tolerance.py``). Measured as a generation lever it did not pay (docs/training.md); off by default.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from msdf.rows import VALUES

V_MAX = 4.0  # largest |SDF value| a companded column decodes to (the unit frame's diagonal is 2 sqrt(3))


def compand(v: torch.Tensor, scale: float) -> torch.Tensor:
    """Symmetric log ``c = a sign(v) log(1 + |v| / a)`` of SDF values (any shape), ``a = scale``."""
    return scale * torch.sign(v) * torch.log1p(v.abs() / scale)


def expand(c: torch.Tensor, scale: float) -> torch.Tensor:
    """Inverse of :func:`compand`: ``v = a sign(c) (exp(|c| / a) - 1)``, ``|v|`` at most :data:`V_MAX`."""
    top = float(np.log1p(V_MAX / scale))
    return scale * torch.sign(c) * torch.expm1((c.abs() / scale).clamp(max=top))


class Normalizer:
    """Column-wise (``mean``, ``std``: (D,)) or slot-and-column-wise ((n, D)) standardisation of the rows, with the
    SDF values companded first when ``value_scale`` is given (module docstring); ``std`` is floored at ``eps`` so
    constant columns stay finite."""

    def __init__(self, mean: np.ndarray | torch.Tensor, std: np.ndarray | torch.Tensor, eps: float = 1e-6,
                 value_scale: float | None = None):
        if value_scale is not None and not value_scale > 0:
            raise ValueError(f"value_scale must be > 0 or None (got {value_scale})")
        self.value_scale = value_scale
        self.mean = torch.as_tensor(np.asarray(mean, dtype=np.float32))
        self.std = torch.as_tensor(np.asarray(std, dtype=np.float32)).clamp_min(eps)
        if self.mean.ndim not in (1, 2) or self.mean.shape != self.std.shape:
            raise ValueError(f"normaliser needs mean and std of equal shape (D,) or (n, D), got {self.mean.shape}, "
                             f"{self.std.shape}")
        if not (torch.isfinite(self.mean).all() and torch.isfinite(self.std).all()):
            raise ValueError("normaliser statistics contain NaN or Inf")

    @classmethod
    def from_stats(cls, stats: dict[str, Any]) -> "Normalizer":
        """From ``MSDFStore.stats()`` or :meth:`to_dict` output: ``{"mean": (D,), "std": (D,)}`` (and the
        ``"value_scale"`` of a companding normaliser)."""
        return cls(stats["mean"], stats["std"], value_scale=stats.get("value_scale"))

    @classmethod
    def fit(cls, matrices: torch.Tensor, value_scale: float | None = None, chunk: int = 256) -> "Normalizer":
        """Per-column statistics of raw matrices (N, n, D), of the companded values when ``value_scale`` is given:
        ``mean_d = mean(x_d)``, ``std_d = sqrt(mean(x_d^2) - mean_d^2)``, accumulated in float64 ``chunk`` shapes at a
        time (as ``MSDFStore.stats``), so no float64 copy of the whole store is made."""
        total = torch.zeros(matrices.shape[-1], dtype=torch.float64)
        squares = torch.zeros_like(total)
        for s in range(0, len(matrices), chunk):
            x = cls._compand(matrices[s:s + chunk].double(), value_scale).reshape(-1, matrices.shape[-1])
            total += x.sum(dim=0)
            squares += x.pow(2).sum(dim=0)
        count = matrices.shape[0] * matrices.shape[1]
        mean = total / count
        std = (squares / count - mean.pow(2)).clamp_min(0.0).sqrt()
        return cls(mean.numpy(), std.numpy(), value_scale=value_scale)

    @classmethod
    def per_slot(cls, matrices: torch.Tensor, floor: float = 0.05, value_scale: float | None = None) -> "Normalizer":
        """Statistics of slot-ordered raw matrices (N, n, D) per slot and column, ``std`` floored at ``floor`` times
        the column's overall std (a slot whose grids barely move in the data keeps a finite noise scale)."""
        x = cls._compand(matrices.double(), value_scale)
        overall = x.reshape(-1, x.shape[-1]).std(dim=0)
        return cls(x.mean(dim=0).numpy(), torch.maximum(x.std(dim=0), floor * overall).numpy(),
                   value_scale=value_scale)

    @staticmethod
    def _compand(x: torch.Tensor, value_scale: float | None, inverse: bool = False) -> torch.Tensor:
        """``x`` (..., D) with its value columns companded (or expanded back, ``inverse``) at ``value_scale``."""
        if value_scale is None:
            return x
        f = expand if inverse else compand
        return torch.cat([x[..., :VALUES.start], f(x[..., VALUES], value_scale)], dim=-1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable statistics (with the ``value_scale`` of a companding normaliser)."""
        out: dict[str, Any] = {"mean": self.mean.tolist(), "std": self.std.tolist()}
        if self.value_scale is not None:
            out["value_scale"] = self.value_scale
        return out

    @property
    def dim(self) -> int:
        return int(self.mean.shape[-1])

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """(..., D) raw -> (..., D) standardised ((..., n, D) for per-slot statistics)."""
        return (self._compand(x, self.value_scale) - self.mean.to(x)) / self.std.to(x)

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """(..., D) standardised -> (..., D) raw ((..., n, D) for per-slot statistics); differentiable."""
        return self._compand(x * self.std.to(x) + self.mean.to(x), self.value_scale, inverse=True)
