"""Datasets of M-SDF matrices: readers for mesh datasets, the batch preprocessor and the sharded store.

``MSDFStore(out_dir)`` reads what ``msdf preprocess`` wrote (imported lazily: opening a store needs only numpy).
"""
from __future__ import annotations

from msdf.lazy import lazy_attributes

_LAZY = {
    "MSDFStore": "msdf.data.store",
    "StoreError": "msdf.data.store",
    "preprocess": "msdf.data.preprocess",
    "read_dataset": "msdf.data.readers",
    "ShapeRecord": "msdf.data.readers",
    "EncodeSettings": "msdf.data.task",
}


__getattr__ = lazy_attributes("msdf.data", _LAZY)

__all__ = list(_LAZY)
