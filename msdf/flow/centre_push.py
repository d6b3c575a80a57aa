"""A displacement of the grid centres added to the velocity while sampling, in a window of flow times.

Grid repulsion (:mod:`msdf.flow.repulsion`) and grid alignment (:mod:`msdf.flow.alignment`) both read the current
clean estimate of a sample, compute a displacement of each grid centre in the unit frame, and add it to the centre
columns of the velocity::

    x1_hat = clean_estimate(x, t, u)                     (B, n, D) normalised (msdf.flow.path)
    d      = force(denormalize(x1_hat))                  (B, n, 3) unit frame
    u[..., centres] += lambda d / std_centres            where t_lo <= t < t_hi (per sample)

so a grid moves by about ``lambda d`` per unit time; the SDF values are left to the model's next evaluations.
:class:`CentrePush` holds ``lambda`` and the window; a subclass gives the force.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor

from msdf.flow.path import CondOTPath
from msdf.flow.solvers import VelocityFn
from msdf.rows import CENTERS, HALF_WIDTH


@dataclass(frozen=True)
class CentrePush:
    """A push of strength ``strength`` (lambda, 0 = off) at ``t_lo <= t < t_hi`` (keyword-only); subclasses give
    :meth:`force` and a ``name`` for their errors."""

    strength: float = 0.0
    t_lo: float = field(default=0.5, kw_only=True)
    t_hi: float = field(default=0.95, kw_only=True)
    name = "a centre push"

    def __post_init__(self) -> None:
        if not (self.strength >= 0.0 and 0.0 <= self.t_lo < self.t_hi <= 1.0):
            raise ValueError(f"{self.name} needs strength >= 0 and 0 <= t_lo < t_hi <= 1 (got {self})")

    def force(self, raw: Tensor) -> Tensor:
        """Raw rows (B, n, 4 + k^3) -> centre displacement (B, n, 3), unit frame."""
        raise NotImplementedError

    def wrap(self, velocity: VelocityFn, path: CondOTPath, denormalize: Callable[[Tensor], Tensor],
             std: Tensor) -> VelocityFn:
        """``velocity`` (x (B, n, D), t) -> u with ``strength * force`` added to its centre columns (module
        docstring) for the samples whose ``t`` lies in the window; ``denormalize`` maps normalised rows to raw ones
        and ``std`` (3,) or (n, 3) is the centre columns' normalisation scale. ``strength == 0`` returns
        ``velocity`` itself."""
        if self.strength == 0.0:
            return velocity

        def pushed(x: Tensor, t: Tensor | float) -> Tensor:
            u = velocity(x, t)
            t_b = torch.as_tensor(t, dtype=torch.float32, device=x.device).reshape(-1).expand(x.shape[0])
            active = (t_b >= self.t_lo) & (t_b < self.t_hi)
            if not bool(active.any()):
                return u
            raw = denormalize(path.clean_estimate(x, t_b, u).float())
            push = self.strength * self.force(raw) / std.to(x.device)
            push = push * active.to(push.dtype)[:, None, None]
            return torch.cat([u[..., CENTERS] + push.to(u.dtype), u[..., HALF_WIDTH:]], dim=-1)

        return pushed
