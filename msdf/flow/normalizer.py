"""Per-column normalisation of M-SDF matrices.

Centres, half-widths and SDF values live on different scales, so each of the D columns is standardised with the
store's statistics: ``x_norm = (x - mean) / std`` and back ``x = x_norm * std + mean`` (``mean``, ``std``: (D,)).
The statistics are saved with the checkpoint and undone at sampling.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch


class Normalizer:
    """Column-wise standardisation; ``std`` is floored at ``eps`` so constant columns stay finite."""

    def __init__(self, mean: np.ndarray | torch.Tensor, std: np.ndarray | torch.Tensor, eps: float = 1e-6):
        self.mean = torch.as_tensor(np.asarray(mean, dtype=np.float32))
        self.std = torch.as_tensor(np.asarray(std, dtype=np.float32)).clamp_min(eps)
        if self.mean.ndim != 1 or self.mean.shape != self.std.shape:
            raise ValueError(f"normaliser needs mean and std of equal shape (D,), got {self.mean.shape}, "
                             f"{self.std.shape}")
        if not (torch.isfinite(self.mean).all() and torch.isfinite(self.std).all()):
            raise ValueError("normaliser statistics contain NaN or Inf")

    @classmethod
    def from_stats(cls, stats: dict[str, Any]) -> "Normalizer":
        """From ``MSDFStore.stats()`` or :meth:`to_dict` output: ``{"mean": (D,), "std": (D,)}``."""
        return cls(stats["mean"], stats["std"])

    def to_dict(self) -> dict[str, list[float]]:
        """JSON-serialisable statistics."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """(..., D) raw -> (..., D) standardised."""
        return (x - self.mean.to(x)) / self.std.to(x)

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """(..., D) standardised -> (..., D) raw."""
        return x * self.std.to(x) + self.mean.to(x)
