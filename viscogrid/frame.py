"""The unit frame: a similarity transform that centres a point set's bounding box and scales its longest side.

``to_unit(x) = (x - center) / scale`` and ``to_user(u) = u * scale + center``. :meth:`Normalization.fit` picks
``center`` = bounding-box centre and ``scale`` = half the longest side / ``extent`` so the longest side spans
``[-extent, extent]`` (default 0.9: grids that stick out of the surface still stay inside the domain ``[-1, 1]^3``).
Distances scale by the same factor: ``sdf_user = sdf_unit * scale``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UNIT_EXTENT = 0.9


@dataclass(frozen=True)
class Normalization:
    """Similarity transform user frame <-> unit frame.

    Attributes:
        center: (3,) float64, the user-frame point that maps to the origin.
        scale: user-frame length of one unit-frame unit (> 0).
    """

    center: np.ndarray
    scale: float

    def __post_init__(self) -> None:
        center = np.asarray(self.center, dtype=np.float64).reshape(-1)
        if center.shape != (3,) or not np.all(np.isfinite(center)):
            raise ValueError(f"Normalization center must be 3 finite numbers, got {self.center!r}")
        scale = float(self.scale)
        if not np.isfinite(scale) or scale <= 0:
            raise ValueError(f"Normalization scale must be a finite positive number, got {self.scale!r}")
        object.__setattr__(self, "center", center)
        object.__setattr__(self, "scale", scale)

    @classmethod
    def fit(cls, vertices: np.ndarray, extent: float = UNIT_EXTENT) -> "Normalization":
        """Transform mapping the bounding box of ``vertices`` (V, 3) to be centred with longest side ``[-extent, extent]``."""
        v = np.asarray(vertices, dtype=np.float64)
        if v.ndim != 2 or v.shape[1] != 3 or len(v) == 0:
            raise ValueError(f"Normalization.fit needs vertices of shape (V, 3) with V > 0, got {v.shape}")
        lo, hi = v.min(axis=0), v.max(axis=0)
        half = float((hi - lo).max()) / 2.0
        if not np.isfinite(half) or half <= 0:
            raise ValueError("Normalization.fit: the vertices have zero extent (all points coincide)")
        return cls(center=(lo + hi) / 2.0, scale=half / extent)

    @classmethod
    def identity(cls) -> "Normalization":
        """The transform that leaves coordinates unchanged."""
        return cls(center=np.zeros(3), scale=1.0)

    def to_unit(self, x):
        """User-frame points (..., 3) -> unit frame. Works on numpy arrays and torch tensors (keeps dtype/device)."""
        if isinstance(x, np.ndarray):
            return _keep_float_dtype((x - self.center) / self.scale, x)
        return (x - _like(self.center, x)) / self.scale

    def to_user(self, u):
        """Unit-frame points (..., 3) -> user frame. Works on numpy arrays and torch tensors (keeps dtype/device)."""
        if isinstance(u, np.ndarray):
            return _keep_float_dtype(u * self.scale + self.center, u)
        return u * self.scale + _like(self.center, u)

    def to_dict(self) -> dict:
        """JSON-friendly form: ``{"center": [x, y, z], "scale": s}``."""
        return {"center": [float(c) for c in self.center], "scale": float(self.scale)}

    @classmethod
    def from_dict(cls, d: dict) -> "Normalization":
        """Inverse of :meth:`to_dict`."""
        return cls(center=np.asarray(d["center"], dtype=np.float64), scale=float(d["scale"]))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Normalization):
            return NotImplemented
        return bool(np.array_equal(self.center, other.center)) and self.scale == other.scale

    def __hash__(self) -> int:
        return hash((tuple(self.center.tolist()), self.scale))


def _keep_float_dtype(result: np.ndarray, like: np.ndarray) -> np.ndarray:
    """``result`` (computed in float64) cast back to ``like``'s dtype when that is a float type."""
    return result.astype(like.dtype, copy=False) if like.dtype.kind == "f" else result


def _like(a: np.ndarray, t):
    """``a`` as a torch tensor with ``t``'s dtype and device."""
    import torch

    return torch.as_tensor(a, dtype=t.dtype, device=t.device)
