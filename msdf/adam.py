"""Full-batch Adam on one tensor, without ``torch.optim``.

``torch.optim`` imports ``torch._dynamo`` the first time an optimiser is built. Mesh encoding runs in fresh worker
processes where that import is a large part of the start-up (``bench/bench_adam.py`` measures the time from a fresh
process to the first step, and the cost per step, against ``torch.optim.Adam``), and its one optimisation problem
needs nothing but plain Adam, so it uses this.

Update (Kingma & Ba 2015, as ``torch.optim.Adam`` with ``amsgrad=False, weight_decay=0``), step t = 1, 2, ...::

    m_t = b1 m_{t-1} + (1 - b1) g_t          v_t = b2 v_{t-1} + (1 - b2) g_t^2
    x_t = x_{t-1} - lr / (1 - b1^t) * m_t / (sqrt(v_t) / sqrt(1 - b2^t) + eps)
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor


def adam_minimize(loss_fn: Callable[[Tensor], Tensor], x0: Tensor, steps: int, lr: float,
                  betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                  callback: Callable[[int], None] | None = None) -> Tensor:
    """Run ``steps`` Adam steps on ``loss_fn(x)`` (a scalar) from ``x0`` (any shape); returns the final x (detached).

    ``callback(step)`` is called after each step (for progress bars). ``x0`` is not modified.
    """
    b1, b2 = betas
    x = x0.detach().clone()
    m = torch.zeros_like(x)
    v = torch.zeros_like(x)
    for t in range(1, steps + 1):
        xg = x.requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(loss_fn(xg), xg)
        x = xg.detach()
        m.mul_(b1).add_(g, alpha=1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        denom = (v.sqrt() / math.sqrt(1 - b2**t)).add_(eps)
        x.addcdiv_(m, denom, value=-lr / (1 - b1**t))
        if callback is not None:
            callback(t)
    return x
