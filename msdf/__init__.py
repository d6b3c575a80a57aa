"""Mosaic-SDF: a shape as a set of small local SDF grids near its surface.

Public API (imported lazily so that ``msdf --help`` does not pay for torch/open3d)::

    msdf.encode(mesh_or_path, ...) -> MosaicSDF
    msdf.decode(msdf_or_path, resolution=256, ...) -> trimesh.Trimesh
    msdf.MosaicSDF      # .sdf(points), .save(path), .load(path), .to_matrix(), .from_matrix()
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "MosaicSDF": "msdf.representation",
    "encode": "msdf.encoder",
    "decode": "msdf.decoder",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'msdf' has no attribute {name!r}")


__all__ = list(_LAZY)
