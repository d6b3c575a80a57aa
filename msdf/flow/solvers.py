"""ODE solvers for flow-matching sampling: fixed-step Euler, midpoint, RK4 and adaptive dopri5.

All solvers integrate ``dx/dt = velocity_fn(x, t)`` from ``t = 0`` (noise) to ``t = 1`` (data) and are model-agnostic:
``velocity_fn(x (B, ...), t (B,)) -> v (B, ...)`` is any closure, e.g. a classifier-free-guided flow model
``lambda x, t: sampler.velocity(x, t, cond, guidance)``.

The fixed-step methods are budgeted by NFE (number of function evaluations), not by steps:

* ``euler``    x_{k+1} = x_k + h u(x_k, t_k)                                      1 NFE / step, O(h)
* ``midpoint`` x_{k+1} = x_k + h u(x_k + h/2 u(x_k, t_k), t_k + h/2)              2 NFE / step, O(h^2)
* ``rk4``      classical Runge-Kutta 4 (k1..k4, weights 1/6, 1/3, 1/3, 1/6)         4 NFE / step, O(h^4)
* ``dopri5``   adaptive Dormand-Prince 5(4) from ``torchdiffeq``; NFE is whatever the error control needs.

``h = 1 / steps`` with ``steps = nfe / (NFE per step)``; ``nfe`` must be a multiple of the NFE per step.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from msdf.choices import ODE_METHODS

VelocityFn = Callable[[Tensor, Tensor], Tensor]
"""``velocity_fn(x (B, ...), t (B,)) -> v (B, ...)``."""

FIXED_STEP_STAGES = {"euler": 1, "midpoint": 2, "rk4": 4}
METHODS = ODE_METHODS  # the fixed-step methods above and adaptive dopri5


@dataclass
class ODESolution:
    """Result of :func:`solve`.

    ``x``: final state x(1), same shape as the initial state. ``trajectory``: (S+1, B, ...) states at ``times`` when
    requested (fixed-step: every step boundary; dopri5: the requested ``trajectory_times``), else None.
    ``times``: (S+1,) the times of the trajectory (or of the step grid). ``nfe``: velocity evaluations actually made.
    """

    x: Tensor
    trajectory: Tensor | None
    times: Tensor
    nfe: int


Solver = Callable[[VelocityFn, Tensor], ODESolution]
"""``solver(velocity_fn, x0) -> ODESolution``: a fixed choice of method and budget (``msdf.generate.make_solver``)."""


class CountingVelocity:
    """Wrap ``velocity_fn`` so that every call is counted and ``t`` always arrives as a (B,) tensor.

    ``t`` may be given as a float, a 0-d tensor or a (B,) tensor; it is broadcast to ``(x.shape[0],)`` on ``x``'s
    device and dtype before the wrapped function is called.
    """

    def __init__(self, velocity_fn: VelocityFn):
        self.velocity_fn = velocity_fn
        self.calls = 0

    def __call__(self, x: Tensor, t: Tensor | float) -> Tensor:
        self.calls += 1
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        if t.dim() == 0:
            t = t.expand(x.shape[0])
        return self.velocity_fn(x, t)


def steps_for(method: str, nfe: int) -> int:
    """Number of steps a fixed-step ``method`` takes for a budget of ``nfe`` evaluations (ValueError if impossible)."""
    if method not in FIXED_STEP_STAGES:
        raise ValueError(f"unknown fixed-step method {method!r}; choose one of {sorted(FIXED_STEP_STAGES)}")
    stages = FIXED_STEP_STAGES[method]
    if nfe < stages or nfe % stages:
        raise ValueError(f"{method} uses {stages} NFE per step, so --nfe must be a positive multiple of {stages} "
                         f"(got {nfe})")
    return nfe // stages


def _step(method: str, f: CountingVelocity, x: Tensor, t: float, h: float) -> Tensor:
    """One step of a fixed-step Runge-Kutta method from (x, t) with step h."""
    if method == "euler":
        return x + h * f(x, t)
    if method == "midpoint":
        return x + h * f(x + 0.5 * h * f(x, t), t + 0.5 * h)
    k1 = f(x, t)
    k2 = f(x + 0.5 * h * k1, t + 0.5 * h)
    k3 = f(x + 0.5 * h * k2, t + 0.5 * h)
    k4 = f(x + h * k3, t + h)
    return x + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def solve(
    velocity_fn: VelocityFn,
    x0: Tensor,
    method: str = "midpoint",
    nfe: int = 32,
    *,
    t0: float = 0.0,
    t1: float = 1.0,
    return_trajectory: bool = False,
    trajectory_times: Tensor | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-5,
) -> ODESolution:
    """Integrate ``dx/dt = velocity_fn(x, t)`` from ``x(t0) = x0`` to ``t1``.

    Args:
        velocity_fn: ``(x (B, ...), t (B,)) -> (B, ...)``.
        x0: (B, ...) initial state (source noise).
        method: ``euler``, ``midpoint``, ``rk4`` (fixed grid, budget ``nfe``) or ``dopri5`` (adaptive, ``rtol``/``atol``;
            ``nfe`` is ignored).
        return_trajectory: also return the states on the step grid (fixed-step) or at ``trajectory_times`` (dopri5,
            default: just t0 and t1).

    Differentiable with respect to ``x0`` and any parameters inside ``velocity_fn`` (plain autograd through the steps).
    """
    f = CountingVelocity(velocity_fn)
    if method == "dopri5":
        from torchdiffeq import odeint

        times = trajectory_times if trajectory_times is not None else torch.tensor([t0, t1])
        times = times.to(device=x0.device, dtype=x0.dtype)
        traj = odeint(lambda t, x: f(x, t), x0, times, method="dopri5", rtol=rtol, atol=atol)
        return ODESolution(traj[-1], traj if return_trajectory else None, times, f.calls)
    steps = steps_for(method, nfe)
    h = (t1 - t0) / steps
    times = torch.linspace(t0, t1, steps + 1, dtype=x0.dtype, device=x0.device)
    x = x0
    states = [x0] if return_trajectory else None
    for k in range(steps):
        x = _step(method, f, x, t0 + k * h, h)
        if states is not None:
            states.append(x)
    return ODESolution(x, torch.stack(states) if states is not None else None, times, f.calls)
