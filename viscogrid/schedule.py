"""The coarse-to-fine schedule as plain data: one :class:`Level` per grid resolution, plus the loss weights.

Each level doubles the resolution, starts from the previous level's grid (trilinear upsampling) and runs ``steps``
Adam steps. ``eps`` (viscosity) and ``beta`` (coarea width) are annealed in proportion to the node spacing ``h``,
so the priors act at the scale the grid can resolve. Fine levels (``band`` set) optimise only the nodes within
``band`` cells of the points or of the current zero level set; the rest keep their upsampled values.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

COARSEST = 32
POINTS_PER_FACE = 4


@dataclass(frozen=True)
class Weights:
    """Loss weights: ``w_p * mean f(x)^2/h^2 + normal * mean|grad f - n|^2 + viscosity * L_visc + coarea * area``.

    The point term is measured in cells (divided by ``h^2``) so the balance does not change with the resolution, and
    its weight ``w_p = point * h^2 / (h^2 + noise_factor * sigma^2)`` backs off at levels whose cells are finer than
    the points' noise ``sigma`` (:func:`viscogrid.reconstruction.effective_point_weight`; ``noise_factor`` calibrated
    with ``bench/bench_visco.py --sections noise``).
    """

    point: float = 0.1
    normal: float = 0.1
    viscosity: float = 0.1
    coarea: float = 1e-3
    noise_factor: float = 30.0


@dataclass(frozen=True)
class Level:
    """One resolution of the schedule.

    Attributes:
        resolution: nodes per axis R (spacing ``h = 2 / (R - 1)`` over ``[-1, 1]``).
        steps: Adam steps.
        lr: Adam learning rate in units of ``h`` (decays linearly to ``lr / 10`` over the level).
        eps: viscosity ``eps`` in units of ``h``.
        beta: coarea Laplace width in units of ``h``.
        band: half-width in cells of the optimised narrow band, or ``None`` to optimise every node.
        max_points: use a random subset of at most this many points for the data terms (None: all); coarse
            grids cannot resolve more than a few points per cell, so this saves time without losing accuracy.
    """

    resolution: int
    steps: int
    lr: float = 0.3
    eps: float = 0.5
    beta: float = 1.0
    band: int | None = None
    max_points: int | None = None


def default_schedule(resolution: int, steps_scale: float = 1.0) -> list[Level]:
    """Levels ``R/2^k, ..., R/2, R`` (the coarsest >= 32) ending at ``resolution``; dense at the coarsest, banded above.

    ``steps_scale`` multiplies every level's step count (e.g. 0.5 for a faster, rougher run). Each level uses at
    most ``POINTS_PER_FACE * R^2`` points (about that many per surface cell for a unit-area surface).
    """
    if resolution < 8:
        raise ValueError(f"resolution must be >= 8, got {resolution}")
    resolutions = [resolution]
    while resolutions[0] // 2 >= COARSEST:
        resolutions.insert(0, resolutions[0] // 2)
    levels = []
    for i, r in enumerate(resolutions):
        if i == 0:
            level = Level(r, steps=150, lr=0.3)
        else:
            level = Level(r, steps=80 if r <= 64 else 50 if r <= 128 else 40, lr=0.2, band=4 if r <= 64 else 3)
        levels.append(
            replace(level, steps=max(1, round(level.steps * steps_scale)), max_points=POINTS_PER_FACE * r * r)
        )
    return levels
