"""Read a preprocessed M-SDF dataset: :class:`MSDFStore` over the shards and manifests of one ``OUT_DIR``.

Opening the store reads only ``store.json`` and the manifests; shard files are memory-mapped lazily when a row is
first asked for (an LRU of open maps keeps file descriptors bounded), so a 600k-shape store opens a handful of
files, not 600k.
"""
from __future__ import annotations

import json
import os
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Iterator

import numpy as np

from msdf.data.layout import FORMAT_VERSION, SHARD_DIR, STORE_FILE, read_jsonl
from msdf.rows import row_dim


#: Manifest fields an :class:`MSDFStore` keeps in memory per shape (the rest, e.g. ``stats``, stays in the file).
ENTRY_KEYS = ("id", "source", "label", "caption", "split", "shard", "row", "normalization")


class StoreError(ValueError):
    """The folder is not a valid M-SDF store; the message names the file and the reason."""


def read_store_config(root: Path) -> dict | None:
    """``store.json`` of ``root`` (``{"format_version", "n", "k", "dim", "dtype"}``), or None if there is none."""
    path = root / STORE_FILE
    if not path.is_file():
        return None
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        n, k, version = int(config["n"]), int(config["k"]), int(config["format_version"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"{path}: not a valid store description ({exc})") from exc
    if version > FORMAT_VERSION:
        raise StoreError(f"{path}: store format version {version} is newer than this code ({FORMAT_VERSION})")
    if n <= 0 or k < 2:
        raise StoreError(f"{path}: invalid n={n}, k={k}")
    return config


class MSDFStore:
    """A dataset of M-SDF matrices, indexed 0..len-1 in manifest order (manifests sorted by name).

    ``store[i]`` -> ``dict(msdf=(n, 4 + k^3) float32 ndarray, id, label, caption, split, source)``.
    ``.msdf(i)`` -> :class:`msdf.representation.MosaicSDF` in the user's coordinates (its normalization restored).
    ``.labels`` / ``.captions`` / ``.ids`` / ``.splits``: lists aligned with the indices. ``.n``, ``.k``, ``.dim``.

    Args:
        root: the ``OUT_DIR`` of ``msdf preprocess``.
        max_open_shards: how many shard memory maps stay open at once (LRU).

    Example (``store_dir`` written by ``msdf preprocess MESHES -o store_dir --grids 16 --k 3``, two meshes):

    >>> from msdf import MSDFStore
    >>> store = MSDFStore(store_dir)
    >>> len(store), store.n, store.k
    (2, 16, 3)
    >>> row = store[0]
    >>> row["msdf"].shape, row["msdf"].dtype.name
    ((16, 31), 'float32')
    >>> store.msdf(0).n                                   # as a MosaicSDF in the mesh's own coordinates
    16
    """

    def __init__(self, root: str | os.PathLike, max_open_shards: int = 64):
        self.root = Path(root)
        config = read_store_config(self.root)
        if config is None:
            raise StoreError(f"{self.root}: no {STORE_FILE}; not an M-SDF store written by `msdf preprocess`")
        self.n, self.k = int(config["n"]), int(config["k"])
        self.dim = row_dim(self.k)
        self._entries: list[dict] = []
        seen: set[str] = set()
        for manifest in sorted(self.root.glob("manifest*.jsonl")):
            for line in read_jsonl(manifest):
                if line["id"] in seen:  # two writers converted the same shape: keep the first
                    continue
                seen.add(line["id"])
                entry = {key: line.get(key) for key in ENTRY_KEYS}  # stats stay on disk: 600k lines must fit
                entry["shard"] = sys.intern(entry["shard"])
                self._entries.append(entry)
        self._maps: OrderedDict[str, np.ndarray] = OrderedDict()
        self._max_open = max(1, int(max_open_shards))

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"MSDFStore({str(self.root)!r}, shapes={len(self)}, n={self.n}, k={self.k})"

    def _shard(self, name: str) -> np.ndarray:
        arr = self._maps.get(name)
        if arr is not None:
            self._maps.move_to_end(name)
            return arr
        path = self.root / SHARD_DIR / name
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise StoreError(f"{path}: cannot memory-map shard ({exc})") from exc
        if arr.dtype != np.float32 or arr.ndim != 3 or arr.shape[1:] != (self.n, self.dim):
            raise StoreError(f"{path}: shard has dtype {arr.dtype} shape {arr.shape}, expected float32 "
                             f"(rows, {self.n}, {self.dim})")
        self._maps[name] = arr
        if len(self._maps) > self._max_open:
            self._maps.popitem(last=False)
        return arr

    def matrix(self, i: int) -> np.ndarray:
        """The raw (n, 4 + k^3) float32 matrix of shape ``i`` (a copy, safe to modify)."""
        entry = self.entry(i)
        shard = self._shard(entry["shard"])
        row = int(entry["row"])
        if row >= shard.shape[0]:
            raise StoreError(f"{self.root / SHARD_DIR / entry['shard']}: manifest row {row} out of range "
                             f"({shard.shape[0]} rows)")
        return np.array(shard[row], dtype=np.float32)

    def entry(self, i: int) -> dict:
        """The manifest fields of shape ``i`` kept in memory (:data:`ENTRY_KEYS`; ``stats`` are in the manifest)."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"shape index {i} out of range for a store of {len(self)} shapes")
        return self._entries[i]

    def __getitem__(self, i: int) -> dict:
        e = self.entry(i)
        return {"msdf": self.matrix(i), "id": e["id"], "label": e.get("label"), "caption": e.get("caption"),
                "split": e.get("split"), "source": e.get("source")}

    def __iter__(self) -> Iterator[dict]:
        for i in range(len(self)):
            yield self[i]

    @property
    def ids(self) -> list[str]:
        return [e["id"] for e in self._entries]

    @property
    def labels(self) -> list[str | None]:
        return [e.get("label") for e in self._entries]

    @property
    def captions(self) -> list[str | None]:
        return [e.get("caption") for e in self._entries]

    @property
    def splits(self) -> list[str | None]:
        return [e.get("split") for e in self._entries]

    def indices(self, split: str) -> list[int]:
        """Indices of the shapes whose manifest split equals ``split`` (e.g. ModelNet's ``train``)."""
        return [i for i, e in enumerate(self._entries) if e.get("split") == split]

    def normalization(self, i: int):
        """The :class:`msdf.normalization.Normalization` that maps shape ``i``'s unit frame back to its mesh file."""
        from msdf.normalization import Normalization

        return Normalization.from_dict(self.entry(i)["normalization"])

    def msdf(self, i: int):
        """Shape ``i`` as a :class:`msdf.representation.MosaicSDF` in the user's coordinates."""
        import torch

        from msdf.representation import MosaicSDF

        return MosaicSDF.from_matrix(torch.from_numpy(self.matrix(i)), normalization=self.normalization(i))

    def stats(self, indices: list[int] | None = None, chunk: int = 256) -> dict[str, np.ndarray]:
        """Per-column mean and std over all rows of the chosen shapes (all by default), for training normalisation.

        ``mean_d = (1 / (S n)) sum_{s, i} M_s[i, d]``, ``std_d = sqrt(mean(M^2)_d - mean_d^2)``, accumulated in
        float64 shard by shard. Returns ``dict(mean=(D,) float32, std=(D,) float32, count=S)``.
        """
        order = list(range(len(self))) if indices is None else [int(i) for i in indices]
        if not order:
            raise StoreError(f"{self.root}: no shapes to compute statistics over")
        by_shard: dict[str, list[int]] = {}
        for i in order:
            e = self.entry(i)
            by_shard.setdefault(e["shard"], []).append(int(e["row"]))
        total = np.zeros(self.dim, dtype=np.float64)
        total_sq = np.zeros(self.dim, dtype=np.float64)
        for name, rows in by_shard.items():
            shard = self._shard(name)
            rows = sorted(rows)
            for start in range(0, len(rows), chunk):
                block = np.asarray(shard[rows[start:start + chunk]], dtype=np.float64).reshape(-1, self.dim)
                total += block.sum(axis=0)
                total_sq += np.square(block).sum(axis=0)
        count = len(order) * self.n
        mean = total / count
        var = np.maximum(total_sq / count - np.square(mean), 0.0)
        return {"mean": mean.astype(np.float32), "std": np.sqrt(var).astype(np.float32), "count": len(order)}
