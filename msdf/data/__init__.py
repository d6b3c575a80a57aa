"""Datasets of M-SDF matrices: readers for mesh datasets, the batch preprocessor and the sharded store.

``MSDFStore(out_dir)`` reads what ``msdf preprocess`` wrote (imported lazily: opening a store needs only numpy).
"""
from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "MSDFStore": "msdf.data.store",
    "StoreError": "msdf.data.store",
    "preprocess": "msdf.data.preprocess",
    "read_dataset": "msdf.data.readers",
    "ShapeRecord": "msdf.data.readers",
    "EncodeSettings": "msdf.data.task",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'msdf.data' has no attribute {name!r}")


__all__ = list(_LAZY)
