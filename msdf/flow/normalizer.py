"""Per-column (or per-slot) normalisation of M-SDF matrices.

Centres, half-widths and SDF values live on different scales, so each of the D columns is standardised with the
store's statistics: ``x_norm = (x - mean) / std`` and back ``x = x_norm * std + mean`` (``mean``, ``std``: (D,)).
With slot-ordered rows (:mod:`msdf.flow.slots`) the statistics may be per slot and column, ``mean``, ``std``: (n, D)
(:meth:`Normalizer.per_slot`): the noise of the flow then spreads each slot's grid over the region where that slot's
grids lie in the data, not over the whole shape, and a given error of the model moves a grid by ``std[i]``, the spread
of slot i, instead of the spread of all centres. The statistics are saved with the checkpoint and undone at sampling.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch


class Normalizer:
    """Column-wise (``mean``, ``std``: (D,)) or slot-and-column-wise ((n, D)) standardisation; ``std`` is floored at
    ``eps`` so constant columns stay finite."""

    def __init__(self, mean: np.ndarray | torch.Tensor, std: np.ndarray | torch.Tensor, eps: float = 1e-6):
        self.mean = torch.as_tensor(np.asarray(mean, dtype=np.float32))
        self.std = torch.as_tensor(np.asarray(std, dtype=np.float32)).clamp_min(eps)
        if self.mean.ndim not in (1, 2) or self.mean.shape != self.std.shape:
            raise ValueError(f"normaliser needs mean and std of equal shape (D,) or (n, D), got {self.mean.shape}, "
                             f"{self.std.shape}")
        if not (torch.isfinite(self.mean).all() and torch.isfinite(self.std).all()):
            raise ValueError("normaliser statistics contain NaN or Inf")

    @classmethod
    def from_stats(cls, stats: dict[str, Any]) -> "Normalizer":
        """From ``MSDFStore.stats()`` or :meth:`to_dict` output: ``{"mean": (D,), "std": (D,)}``."""
        return cls(stats["mean"], stats["std"])

    @classmethod
    def per_slot(cls, matrices: torch.Tensor, floor: float = 0.05) -> "Normalizer":
        """Statistics of slot-ordered raw matrices (N, n, D) per slot and column, ``std`` floored at ``floor`` times
        the column's overall std (a slot whose grids barely move in the data keeps a finite noise scale)."""
        x = matrices.double()
        overall = x.reshape(-1, x.shape[-1]).std(dim=0)
        return cls(x.mean(dim=0).numpy(), torch.maximum(x.std(dim=0), floor * overall).numpy())

    def to_dict(self) -> dict[str, list]:
        """JSON-serialisable statistics."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @property
    def dim(self) -> int:
        return int(self.mean.shape[-1])

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """(..., D) raw -> (..., D) standardised ((..., n, D) for per-slot statistics)."""
        return (x - self.mean.to(x)) / self.std.to(x)

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """(..., D) standardised -> (..., D) raw ((..., n, D) for per-slot statistics)."""
        return x * self.std.to(x) + self.mean.to(x)
