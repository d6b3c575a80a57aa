"""Stochastic sampling of a flow model: an SDE with the same marginals as the flow's ODE, integrated by
Euler-Maruyama (Song et al., ICLR 2021, the probability-flow correspondence; Karras et al., NeurIPS 2022, "churn").

On the CondOT path of :mod:`msdf.flow.path` (column d: ``x = kappa_d x1 + (1 - kappa_d) eps``) the velocity ``u``
implies the noise estimate and the score of the marginal p_t::

    eps_hat = x - t u                    (exact for every column still moving: t kappa'_d = kappa_d)
    grad log p_t(x) = -eps_hat / (1 - kappa)

and for every ``eta >= 0`` the SDE

    dx = [u - eta kappa'(t) eps_hat] dt + sqrt(2 eta kappa'(t) (1 - kappa(t))) dW

has the marginals of the ODE ``dx = u dt`` (Fokker-Planck: the diffusion ``g^2 = 2 eta kappa' (1 - kappa)`` is paid
for by ``g^2 / 2`` times the score in the drift). ``eta = 0`` is the ODE. The extra drift pulls each sample back
towards states the model was trained on, and the fresh noise lets the late part of the flow, where rows settle onto
the surface, correct what the early part got wrong; restart sampling (:class:`msdf.flow.sampler.Restart`) does the
same in a few large jumps, this solver in many small ones.

Euler-Maruyama on ``t_k = t0 + k h``, ``h = (1 - t0) / nfe``, one evaluation per step::

    x_{k+1} = x_k + h (u_k - eta kappa' eps_hat_k) + sqrt(2 eta kappa' (1 - kappa) h) z_k,   z_k ~ N(0, I)

The last step is a plain Euler step (no noise, no correction): on the plain CondOT path it lands on the model's
clean estimate ``x + (1 - t) u``. ``z_k`` of sample j is draw k of a numpy PCG64 generator seeded with the entropy
``(seeds[j], NOISE_STREAM)`` (:class:`StepNoise`), so a sample depends only on its own seed, not on the batching, its
source noise (draws of the torch generator seeded with ``seeds[j]``) is that of the ODE solvers, and the two streams
are independent. (Not a torch generator with an offset seed: torch's CPU generator keeps only the low 32 bits of a
seed, so ``seed + 2^48`` would replay the source noise.) The sampling temperature scales the source noise only.

Measured (``bench/bench_sampling.py``, docs/benchmarks.md#sampling-sde): on three 15-minute trainings, ``eta = 0.5``
before the default restart passes was a little less whole than the midpoint ODE (median wholeness lower by 0.001
to 0.011) and 1.4 to 2.8 points more accurate in class, within the sampling noise of one seed (0.014); so the
command line keeps the midpoint ODE and offers this solver as ``--solver sde``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from msdf.flow.path import CondOTPath
from msdf.flow.solvers import CountingVelocity, ODESolution, Solver, VelocityFn

NOISE_STREAM = 0x5DE  # the second entropy word of the step noise's generators (module doc)


class StepNoise:
    """Per-sample standard normal draws: ``next()`` -> (len(seeds), *shape) float32, row j the next draw of the numpy
    PCG64 generator seeded with the entropy ``(seeds[j], NOISE_STREAM)``."""

    def __init__(self, seeds: Sequence[int], shape: tuple[int, ...], device: str | torch.device = "cpu"):
        self.generators = [np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(s), NOISE_STREAM])))
                           for s in seeds]
        self.shape, self.device = shape, device

    def next(self) -> Tensor:
        draws = np.stack([g.standard_normal(self.shape, dtype=np.float32) for g in self.generators])
        return torch.from_numpy(draws).to(self.device)


def sde_solve(velocity_fn: VelocityFn, x0: Tensor, path: CondOTPath, eta: float, nfe: int, noise: StepNoise,
              t0: float = 0.0) -> ODESolution:
    """Euler-Maruyama integration of the module doc's SDE from ``x(t0) = x0`` (B, n, D) to t = 1 in ``nfe`` steps
    (one velocity evaluation each); ``noise.next()`` gives each step's ``z_k`` (B, n, D)."""
    f = CountingVelocity(velocity_fn)
    h = (1.0 - t0) / nfe
    x = x0
    for k in range(nfe):
        t = torch.full((x.shape[0],), t0 + k * h, dtype=x.dtype, device=x.device)
        u = f(x, t)
        if k == nfe - 1 or eta == 0.0:
            x = x + h * u
            continue
        kappa, rate = path.kappa(t, x), path.rate(t, x)
        eps_hat = x - t.view(-1, *([1] * (x.dim() - 1))) * u
        x = (x + h * (u - eta * rate * eps_hat)
             + torch.sqrt(2.0 * eta * rate * (1.0 - kappa) * h) * noise.next().to(x.dtype))
    return ODESolution(x, None, torch.linspace(t0, 1.0, nfe + 1), f.calls)


@dataclass(frozen=True)
class EulerMaruyama:
    """The stochastic solver of the module doc: noise level ``eta`` (0 = the ODE by Euler), ``nfe`` steps.

    Unlike an ODE :data:`~msdf.flow.solvers.Solver` it needs the samples' seeds and the model's path;
    :meth:`msdf.flow.sampler.FlowSampler.solve` :meth:`bind` s them for each batch.
    """

    eta: float
    nfe: int = 32

    def __post_init__(self) -> None:
        if not (self.eta >= 0.0 and math.isfinite(self.eta)) or self.nfe < 1:
            raise ValueError(f"the SDE solver needs a finite noise level eta >= 0 (--sde-noise) and nfe >= 1 "
                             f"(got eta={self.eta:g}, nfe={self.nfe})")

    def bind(self, path: CondOTPath, seeds: Sequence[int], shape: tuple[int, ...],
             device: str | torch.device = "cpu") -> Solver:
        """A plain :data:`Solver` for the samples of ``seeds`` (rows of shape ``shape``) on ``path``."""
        noise = StepNoise(seeds, shape, device)
        return lambda velocity_fn, x0: sde_solve(velocity_fn, x0, path, self.eta, self.nfe, noise)
