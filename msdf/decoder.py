"""Decode a Mosaic-SDF (Yariv et al. 2024) into a triangle mesh in the user's coordinates.

The method is looked up in :data:`DECODERS` and called with every argument of :func:`decode`::

    "mc"     msdf.marching.marching_cubes   marching cubes on the splatted blend field (fast, exact to the field)
    "mc-nearest"  the same, uncovered space signed by its nearest covered node (msdf.coverage.nearest_covered_sign:
             a crack in a grid shell no longer opens the inside; open where the surface leaves the grids)
    "visco"  msdf.visco.from_msdf           VisCo Grids reconstruction from the field's level set (watertight, clean)

Each takes ``(msdf, resolution=, device=, level=, quiet=, source=)`` (``source`` names the shape in errors) once
:func:`decode` has loaded the file and checked the resolution against the memory limit.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable, Iterator

import torch
import trimesh
from tqdm.auto import tqdm

from msdf.limits import check_resolution
from msdf.marching import decode_volume, marching_cubes
from msdf.representation import MosaicSDF
from msdf.visco import from_msdf

__all__ = ["decode", "decode_batch", "decode_volume", "Decoded", "DECODERS", "METHODS"]

DECODERS: dict[str, Callable[..., trimesh.Trimesh]] = {"mc": marching_cubes,
                                                        "mc-nearest": partial(marching_cubes, uncovered="nearest"),
                                                        "visco": from_msdf}
METHODS = tuple(DECODERS)  # == msdf.choices.DECODE_METHODS (the command line's list)


def decode(msdf_or_path: MosaicSDF | str | os.PathLike, resolution: int = 256, method: str = "mc",
           device: str | torch.device = "cpu", level: float = 0.0, quiet: bool = True) -> trimesh.Trimesh:
    """Extract the surface ``F = level`` of an M-SDF as a mesh in the user's coordinates.

    Args:
        msdf_or_path: a :class:`MosaicSDF` or the path of its ``.npz`` file.
        resolution: lattice nodes along the longest side of the grids' bounding box (>= 8; 512 works).
        method: ``"mc"`` or ``"visco"`` (module doc).
        device: torch device for the field evaluation (``"auto"``: cuda if available).
        level: iso-level in unit-frame units (0 = the surface).
        quiet: hide the progress bars.

    Returns:
        A watertight-where-possible ``trimesh.Trimesh`` (merged vertices, no degenerate faces, outward normals).
        Raises ``ValueError`` if the level set is empty.

    Example (the sphere of radius 0.5 as 8 grids of 5^3 exact distances, marching cubes on a 32^3 lattice):

    >>> import numpy as np, torch
    >>> from msdf import MosaicSDF, decode
    >>> centers = torch.tensor([[x, y, z] for x in (-.4, .4) for y in (-.4, .4) for z in (-.4, .4)])
    >>> offsets = torch.stack(torch.meshgrid(*[torch.linspace(-1, 1, 5)] * 3, indexing="ij"), -1).reshape(-1, 3)
    >>> nodes = centers[:, None, :] + 0.45 * offsets                    # (8, 125, 3), half-width 0.45
    >>> shape = MosaicSDF(centers, torch.full((8,), 0.45), (nodes.norm(dim=-1) - 0.5).reshape(8, 5, 5, 5))
    >>> mesh = decode(shape, resolution=32)
    >>> mesh.is_watertight, bool(np.allclose(np.linalg.norm(mesh.vertices, axis=1), 0.5, atol=0.03))
    (True, True)
    """
    from_file = isinstance(msdf_or_path, (str, os.PathLike, Path))
    msdf = MosaicSDF.load(msdf_or_path) if from_file else msdf_or_path
    if method not in DECODERS:
        raise ValueError(f"decode: unknown method {method!r}; choose one of {METHODS}")
    check_resolution(resolution, method)
    return DECODERS[method](msdf, resolution=resolution, device=device, level=level, quiet=quiet,
                            source=str(msdf_or_path) if from_file else "M-SDF")


@dataclass
class Decoded:
    """One decoded sample of :func:`decode_batch`: its M-SDF (None when the matrix is not a valid M-SDF), its mesh
    (None when decoding failed or gave no faces), the ``error`` that says why (else None) and the decode time."""

    shape: MosaicSDF | None
    mesh: trimesh.Trimesh | None
    error: str | None
    seconds: float


def decode_batch(matrices, normalization=None, resolution: int = 256, method: str = "mc",
                 device: str | torch.device = "cpu", level: float = 0.0, quiet: bool = True,
                 desc: str = "decode") -> Iterator[Decoded]:
    """Decode raw M-SDF matrices (B, n, 4 + k^3) one by one (with a ``desc`` progress bar), yielding a
    :class:`Decoded` per sample; a sample that cannot be decoded is reported, never raised.

    ``normalization`` (a :class:`~msdf.normalization.Normalization`, None = unit frame) places every shape in the
    user's coordinates. Failures: ``"invalid M-SDF: ..."`` (non-finite values, a non-positive half-width),
    ``"decode failed: ..."`` (no surface at ``level``), ``"decode produced an empty mesh"``.
    """
    for matrix in tqdm(matrices, desc=desc, unit="shape", disable=quiet):
        t0 = time.perf_counter()
        try:
            shape = MosaicSDF.from_matrix(matrix, normalization=normalization)
        except ValueError as exc:
            yield Decoded(None, None, f"invalid M-SDF: {exc}", time.perf_counter() - t0)
            continue
        try:
            mesh, error = decode(shape, resolution=resolution, method=method, device=device, level=level), None
        except ValueError as exc:  # e.g. the field has no zero level set
            mesh, error = None, f"decode failed: {exc}"
        if mesh is not None and len(mesh.faces) == 0:
            mesh, error = None, "decode produced an empty mesh"
        yield Decoded(shape, mesh, error, time.perf_counter() - t0)
