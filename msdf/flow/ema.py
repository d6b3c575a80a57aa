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

    def current_decay(self, step: int) -> float:
        """The warmed-up decay used at optimiser step ``step`` (0-based)."""
        return min(self.decay, (1.0 + step) / (10.0 + step))

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Move the average towards ``model``'s current parameters (buffers are copied)."""
        d = self.current_decay(step)
        for e, p in zip(self.module.parameters(), model.parameters()):
            e.lerp_(p.detach().to(e.dtype), 1.0 - d)
        for e, b in zip(self.module.buffers(), model.buffers()):
            e.copy_(b)
