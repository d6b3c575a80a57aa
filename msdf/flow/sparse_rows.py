"""Sparse-row weights: a heavier flow-matching loss on the rows of a shape's thin, line-like parts.

The encoder spreads a shape's n grids at a near-even spacing over its surface, so a leg or a pedestal (a chain of
grids along a line) holds few of them, and a 15-minute model gives such parts about half the grids their encodings
have (``bench/bench_row_spacing.py``, ``bench/bench_layout_time.py``). Nearest-neighbour spacing cannot tell a chain
from a sheet (both are even); the K-th neighbour can: on a sheet of spacing h it lies about ``h sqrt(K / pi)`` away,
on a chain about ``h K / 2``. For each stored shape with centres ``p`` (n, 3)::

    r_i = |p_i - p_(K)(i)|                         distance to the K-th nearest other centre
    w_i = (r_i / median_j r_j)^gamma,   then w <- max(w / mean_j w_j, f)    (mean 1 over the shape's rows, floor f)

and the flow-matching loss of row i is weighted by ``w_i`` (``TrainConfig.sparse_weight`` = gamma, 0 = off;
``sparse_neighbours`` = K; ``sparse_floor`` = f: 0 lets sheet rows fall below 1 so that a shape's mean stays 1,
1 only ever raises a row's weight). Weighting a row's loss by a function of its target tilts what the network learns
towards those targets: the minimiser of ``E[w |u - u_target|^2]`` at ``x_t`` is ``E[w u_target | x_t] / E[w |
x_t]``, the velocity of a flow whose rows go to heavy targets more often. The weights are a property of the data,
computed once from the raw centres and carried with each row through a row subset.

Measured on the demo's preset (docs/training.md, "Sparse-row weights"): gamma 1 gives legs and pedestals their
encodings' share of the grids back, and raises held-out class accuracy, but not wholeness; off in the presets.
"""
from __future__ import annotations

import torch

from msdf.rows import CENTERS

CHUNK = 32  # shapes per distance matrix: (CHUNK, n, n) floats at a time


def sparse_row_weights(raw: torch.Tensor, neighbours: int, power: float, floor: float = 0.0) -> torch.Tensor:
    """Per-row loss weights (N, n) of raw M-SDF matrices ``raw`` (N, n, 4 + k^3): mean 1 per shape, then at least
    ``floor`` (module doc). ``neighbours`` K must satisfy ``1 <= K < n``; ``power`` gamma = 0 gives all ones."""
    n = raw.shape[1]
    if not 1 <= neighbours < n:
        raise ValueError(f"sparse_neighbours must lie in [1, {n - 1}] for shapes of {n} rows (got {neighbours})")
    out = []
    for chunk in raw[..., CENTERS].double().split(CHUNK):
        dist = torch.cdist(chunk, chunk)  # (c, n, n); the zero self-distance is the 0-th neighbour
        r = dist.kthvalue(neighbours + 1, dim=-1).values.clamp_min(1e-12)  # (c, n)
        w = (r / r.median(dim=-1, keepdim=True).values).pow(power)
        out.append((w / w.mean(dim=-1, keepdim=True)).clamp_min(floor))
    return torch.cat(out).float()
