"""Exponential moving average of model weights (used for sampling).

``theta_ema <- d * theta_ema + (1 - d) * theta`` after every optimiser step, with the warm-up
``d = min(decay, (1 + step) / (10 + step))`` so short runs are not dominated by the random initialisation.
"""
from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Holds ``module``, a frozen copy of the model whose parameters track the average."""

    def __init__(self, model: nn.Module, decay: float = 0.999):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        self._params = list(self.module.parameters())
        self._buffers = list(self.module.buffers())

    def current_decay(self, step: int) -> float:
        """The warmed-up decay used at optimiser step ``step`` (0-based)."""
        return min(self.decay, (1.0 + step) / (10.0 + step))

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Move the average towards ``model``'s current parameters (buffers are copied): one ``foreach`` lerp over
        all parameter tensors (the average is a copy of the model, so every pair shares dtype and device)."""
        d = self.current_decay(step)
        torch._foreach_lerp_(self._params, [p.detach() for p in model.parameters()], 1.0 - d)
        for e, b in zip(self._buffers, model.buffers()):
            e.copy_(b)
