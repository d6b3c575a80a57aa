"""Mosaic-SDF: a shape as a set of small local SDF grids near its surface.

Public API (imported lazily so that ``msdf --help`` does not pay for torch/open3d)::

    msdf.encode(mesh_or_path, ...) -> MosaicSDF
    msdf.decode(msdf_or_path, resolution=256, ...) -> trimesh.Trimesh
    msdf.MosaicSDF      # .sdf(points), .save(path), .load(path), .to_matrix(), .from_matrix()
    msdf.MSDFStore      # a dataset of M-SDF matrices written by ``msdf preprocess``
    msdf.FlowSampler    # a trained flow model: .load(run_dir), .condition(...), .sample(cond, seeds, solver)
"""
from __future__ import annotations

from msdf.lazy import lazy_attributes

__version__ = "0.1.0"

_LAZY = {
    "MosaicSDF": "msdf.representation",
    "encode": "msdf.encoder",
    "decode": "msdf.decoder",
    "MSDFStore": "msdf.data.store",
    "FlowSampler": "msdf.flow.sampler",
}


__getattr__ = lazy_attributes("msdf", _LAZY)

__all__ = list(_LAZY)
