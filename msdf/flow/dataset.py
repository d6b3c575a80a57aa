"""Training data access: load a store's matrices into memory, split train/validation, and an in-memory store.

Any object with the :class:`msdf.data.MSDFStore` interface works: ``len``, ``store[i]["msdf"]`` (n, D) float32,
``.labels``, ``.captions``, ``.n``, ``.k``, ``.stats(indices)``; optional ``.splits`` and ``.root``.
:class:`ArrayStore` is that interface over arrays already in memory (analytic shapes, tests, benchmarks).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from msdf.rows import row_dim


class ArrayStore:
    """In-memory M-SDF dataset: ``matrices`` (N, n, 4 + k^3) float32 with optional labels and captions."""

    def __init__(self, matrices: np.ndarray | torch.Tensor, k: int, labels: Sequence[str | None] | None = None,
                 captions: Sequence[str | None] | None = None):
        m = torch.as_tensor(matrices, dtype=torch.float32).cpu().numpy()
        if m.ndim != 3 or m.shape[2] != row_dim(k):
            raise ValueError(f"matrices must have shape (N, n, {row_dim(k)}) for k={k}, got {m.shape}")
        self._m = m
        self.n, self.k, self.dim = m.shape[1], k, m.shape[2]
        self.labels = list(labels) if labels is not None else [None] * len(m)
        self.captions = list(captions) if captions is not None else [None] * len(m)
        if len(self.labels) != len(m) or len(self.captions) != len(m):
            raise ValueError("labels/captions must have one entry per matrix")

    def __len__(self) -> int:
        return len(self._m)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"msdf": self._m[i].copy(), "id": str(i), "label": self.labels[i], "caption": self.captions[i]}

    def stats(self, indices: Sequence[int] | None = None) -> dict[str, np.ndarray]:
        """Per-column mean/std over all rows of the chosen shapes (float64 accumulation)."""
        sel = self._m if indices is None else self._m[np.asarray(indices, dtype=np.int64)]
        flat = sel.reshape(-1, self.dim).astype(np.float64)
        return {"mean": flat.mean(0).astype(np.float32), "std": flat.std(0).astype(np.float32), "count": len(sel)}


def split_indices(store: Any, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(train, val) indices: the store's own ``"val"`` split if it has one, else a seeded random hold-out.

    The hold-out has ``round(val_fraction * N)`` shapes (at least 1 when ``val_fraction > 0`` and N >= 2).
    """
    n = len(store)
    splits = list(getattr(store, "splits", None) or [])
    if splits and "val" in splits:
        val = [i for i, s in enumerate(splits) if s == "val"]
        return [i for i in range(n) if splits[i] != "val"], val
    n_val = 0 if val_fraction <= 0 or n < 2 else min(n - 1, max(1, round(val_fraction * n)))
    perm = np.random.default_rng(seed).permutation(n)
    return sorted(perm[n_val:].tolist()), sorted(perm[:n_val].tolist())


def load_matrices(store: Any, indices: Sequence[int] | None = None, quiet: bool = False) -> torch.Tensor:
    """(len(indices), n, D) float32 tensor of the store's matrices (all shapes by default), with a progress bar."""
    order = range(len(store)) if indices is None else indices
    out = torch.empty(len(order), store.n, row_dim(store.k))
    for j, i in enumerate(tqdm(order, desc="loading store", disable=quiet, leave=False)):
        m = np.asarray(store[i]["msdf"], dtype=np.float32)
        if m.shape != tuple(out.shape[1:]):
            raise ValueError(f"shape {i} of the store has matrix shape {m.shape}, expected {tuple(out.shape[1:])}")
        out[j] = torch.from_numpy(m)
    if not torch.isfinite(out).all():
        bad = torch.nonzero(~torch.isfinite(out).flatten(1).all(1)).flatten().tolist()
        raise ValueError(f"store has NaN/Inf values in shapes {[list(order)[b] for b in bad[:10]]}")
    return out
