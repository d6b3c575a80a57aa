"""Row subsets: train on m of each shape's n rows, a fresh random subset per sample and step.

The rows of an M-SDF are a set and the transformer has no positional encoding (without slots), so m rows drawn
without replacement from a shape's n are themselves a set of grids on the same surface, n / m times sparser::

    S_b ~ uniform m-subset of {1..n},      x1_b <- x1_b[S_b]      (B, n, D) -> (B, m, D)

and the flow-matching loss (and the field loss, row by row) is taken on those m rows. Attention is a softmax-weighted
mean over the keys, which a uniform subset estimates without bias in the mean of its numerator and denominator, so
a block's output for a row changes little with the density of the set; sampling still generates all n rows. The
point is cost: a step's linear layers scale with m and its attention with m^2, so more optimiser steps fit a fixed
budget (``TrainConfig.train_rows``, a cap: shapes with at most that many rows train on all of them; 0 = every row,
the default).

Not for slot-ordered rows (row i is tied to template point i): :meth:`msdf.flow.config.TrainConfig.validate` refuses
them. The space loss (:mod:`msdf.flow.space_loss`) works on a subset: it reads each predicted grid against the whole
shape's truth volume at the place the grid sits, whichever other rows were drawn.
"""
from __future__ import annotations

import torch


def row_subset(x: torch.Tensor, m: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``x`` (B, n, D) -> (B, m, D): sample b keeps ``m`` of its rows, chosen uniformly without replacement and
    independently per sample (``generator`` on ``x``'s device, None = the global one), in random order.
    ``m`` must satisfy ``1 <= m <= n``; ``m == n`` returns ``x`` unchanged."""
    b, n, _ = x.shape
    if not 1 <= m <= n:
        raise ValueError(f"row subset of {m} rows from shapes of {n} rows (need 1 <= m <= n)")
    if m == n:
        return x
    keys = torch.rand(b, n, generator=generator, device=x.device)
    keep = keys.argsort(dim=1)[:, :m]  # (B, m) the first m of a uniform random permutation
    return x.gather(1, keep[..., None].expand(b, m, x.shape[2]))
