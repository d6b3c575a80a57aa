"""Self-conditioning (Chen, Zhang & Hinton, ICLR 2023, "Analog Bits"): the model reads its own previous estimate.

A self-conditioned :class:`~msdf.flow.model.FlowTransformer` takes a previous estimate of the clean sample,
``x1_prev`` (B, n, D), next to ``x_t``. The estimate is the one velocity ``u`` implies on the training path
(:meth:`msdf.flow.path.CondOTPath.clean_estimate`; on plain CondOT)::

    x1_hat = x_t + (1 - t) u(x_t, t | c, x1_prev)

Training (:func:`training_estimate`): for a random share ``p`` of the batch, a first pass without gradient and with
no estimate (zeros) gives ``x1_hat``, which the trained pass then reads (stop-gradient); the rest read zeros. So the
model learns both to start a trajectory and to refine its last guess.

Sampling (:class:`SelfConditionedVelocity`): the velocity closure keeps the estimate of its last evaluation and feeds
it to the next one. Each guidance branch keeps its own estimate (the null branch never reads the conditional one).
Solvers move forward in time, so an evaluation at a time earlier than the last one starts a new trajectory and
drops the estimate (D-Flow integrates the same closure once per optimisation step).
"""
from __future__ import annotations

import torch
from torch import Tensor

from msdf.flow.condition import Condition
from msdf.flow.model import FlowTransformer
from msdf.flow.path import CondOTPath


@torch.no_grad()
def training_estimate(model: FlowTransformer, path: CondOTPath, xt: Tensor, t: Tensor, cond: Condition, p: float,
                      generator: torch.Generator | None = None) -> Tensor:
    """The ``x1_prev`` (B, n, D) of one training batch: ``x1_hat`` of a gradient-free pass for a random share ``p``
    of the rows of the batch (each sample independently), zeros for the rest.

    ``xt`` (B, n, D), ``t`` (B,), ``cond`` batch B.
    """
    pick = torch.rand(xt.shape[0], generator=generator).lt(p).nonzero().flatten().to(xt.device)
    out = torch.zeros_like(xt)
    if len(pick):
        u = model(xt[pick], t[pick], cond.index(pick.to(cond.null.device))).float()
        out[pick] = path.clean_estimate(xt[pick], t[pick], u)
    return out


class SelfConditionedVelocity:
    """The guided velocity ``(x (B, n, D), t (B,)) -> (B, n, D)`` of a self-conditioned model, for the solvers.

    Each call feeds the estimates of the previous call (one per guidance branch, module doc) and stores its own.
    ``cond`` has batch B or 1; ``guidance`` is the CFG weight ``w``; ``path`` the model's training path.
    """

    def __init__(self, model: FlowTransformer, cond: Condition, guidance: float, path: CondOTPath):
        if not model.self_condition:
            raise ValueError("SelfConditionedVelocity needs a model trained with self-conditioning")
        self.model, self.cond, self.guidance, self.path = model, cond, guidance, path
        self.estimate: Tensor | None = None
        self.last_t: float | None = None

    def __call__(self, x: Tensor, t: Tensor | float) -> Tensor:
        t = torch.as_tensor(t, device=x.device, dtype=torch.float32).reshape(-1).expand(x.shape[0])
        now = float(t.max())
        if self.last_t is not None and now < self.last_t:
            self.estimate = None  # a new trajectory
        u = self.model.forward_branches(x, t, self.cond.to(x.device), self.guidance, self.estimate)
        branches = u.shape[0] // x.shape[0]
        self.estimate = self.path.clean_estimate(x.repeat(branches, 1, 1), t.repeat(branches), u).detach()
        self.last_t = now
        return self.model.combine(u, self.guidance) if self.model.guided(self.guidance) else u
