"""The Mosaic-SDF representation: n local k^3 SDF grids, their file format, and the signed field they define.

A shape is a set of rows ``[p_i (3) | s_i (1) | V_i flattened in C order (k^3)]`` (float32, shape (n, 4 + k^3)),
in the shape's *unit frame* (see :mod:`msdf.normalization`); the :class:`~msdf.normalization.Normalization` that maps
the unit frame back to the user's coordinates travels with it. Rows are an unordered set: permuting them changes
nothing.

File format (``.npz``, written atomically, read with ``allow_pickle=False``)::

    matrix          float32 (n, 4 + k^3)   the rows above, unit frame
    n, k            int64 scalars          must match the matrix
    norm_center     float64 (3,)           user-frame point at the unit-frame origin
    norm_scale      float64 scalar         user length of one unit-frame unit (sdf_user = sdf_unit * norm_scale)
    format_version  int64 scalar           FORMAT_VERSION (1)
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from msdf.atomic import atomic_write
from msdf.field import blend_sdf
from msdf.limits import check_archive
from msdf.normalization import Normalization
from msdf.rows import HALF_WIDTH, grid_size, join_rows, split_rows

__all__ = ["MosaicSDF", "MSDFFormatError", "FORMAT_VERSION", "stack"]

FORMAT_VERSION = 1
_KEYS = {"matrix", "n", "k", "norm_center", "norm_scale", "format_version"}
# Resolution (nodes along the longest side of the grids' box) of the lattice that decides the sign of uncovered space.
COVERAGE_RESOLUTION = 128


class MSDFFormatError(ValueError):
    """An M-SDF file (or matrix) is malformed; the message names the file and the reason."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def _check_rows(matrix: np.ndarray, where: str) -> int:
    """Validate an (n, 4 + k^3) matrix; returns k. Raises MSDFFormatError naming ``where``."""
    if matrix.ndim != 2:
        raise MSDFFormatError(where, f"matrix must be 2-D (n, 4 + k^3), got shape {matrix.shape}")
    n, D = matrix.shape
    if n < 1:
        raise MSDFFormatError(where, "matrix has no rows (n = 0)")
    try:
        k = grid_size(D)
    except ValueError as exc:
        raise MSDFFormatError(where, str(exc)) from None
    if not np.all(np.isfinite(matrix)):
        bad = int((~np.isfinite(matrix)).any(axis=1).sum())
        raise MSDFFormatError(where, f"matrix has non-finite values (NaN/Inf) in {bad} row(s)")
    if not np.all(matrix[:, HALF_WIDTH] > 0):
        bad = int((matrix[:, HALF_WIDTH] <= 0).sum())
        raise MSDFFormatError(where, f"{bad} grid(s) have a non-positive half-width (column 3 must be > 0)")
    return k


class MosaicSDF:
    """n local SDF grids (unit frame) plus the transform back to the user's frame.

    Attributes:
        centers: (n, 3) grid centers p_i.
        scales: (n,) half-widths s_i > 0.
        values: (n, k, k, k) SDF samples, ``values[i, a, b, c]`` at ``p_i + s_i (-1 + 2(a, b, c)/(k - 1))``.
        normalization: unit frame <-> user frame.
        info: free-form metadata of the producer (e.g. encode timings, coverage); kept in memory, not saved.

    Signed distance (:meth:`sdf`): the blend of :func:`msdf.field.blend_sdf` where some cube covers the point. In
    uncovered space the paper's F is undefined; here it is ``sign * magnitude`` with the sign of the uncovered
    connected component the point lies in (components reaching the border are outside, enclosed ones take the
    majority sign of the covered field around them, see :mod:`msdf.coverage`) and a distance-like positive
    magnitude (distance to the covered region plus one lattice spacing), so no zero level set appears there.

    Example (matrix form and ``.npz`` files of an encoded box):

    >>> import tempfile, trimesh
    >>> from msdf import MosaicSDF, encode
    >>> shape = encode(trimesh.creation.box(extents=(1.0, 2.0, 3.0)), n_grids=32, k=3, refine_steps=0)
    >>> matrix = shape.to_matrix()                      # (n, 4 + k^3) rows [p | s | V]
    >>> tuple(matrix.shape)
    (32, 31)
    >>> path = Path(tempfile.mkdtemp()) / "box.npz"
    >>> shape.save(path)
    >>> again = MosaicSDF.load(path)
    >>> bool(torch.equal(again.to_matrix(), matrix)) and again.normalization == shape.normalization
    True
    >>> [bool(d < 0) for d in again.sdf(np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 2.0]]))]   # inside, outside
    [True, False]
    >>> MosaicSDF.from_matrix(matrix, shape.normalization).k
    3
    """

    def __init__(self, centers, scales, values, normalization: Normalization | None = None,
                 info: dict | None = None):
        c, s, v = (torch.as_tensor(t) for t in (centers, scales, values))
        dtype = torch.promote_types(torch.promote_types(c.dtype, s.dtype), v.dtype)
        dtype = dtype if dtype.is_floating_point else torch.float32  # one float dtype for all three
        self.centers = c.to(dtype=dtype)
        self.scales = s.to(device=c.device, dtype=dtype)
        self.values = v.to(device=c.device, dtype=dtype)
        n = self.centers.shape[0]
        if self.centers.shape != (n, 3):
            raise ValueError(f"MosaicSDF: centers must be (n, 3), got {tuple(self.centers.shape)}")
        if self.scales.shape != (n,):
            raise ValueError(f"MosaicSDF: scales must be (n,)=({n},), got {tuple(self.scales.shape)}")
        if self.values.dim() != 4 or self.values.shape[0] != n or len(set(self.values.shape[1:])) != 1:
            raise ValueError(f"MosaicSDF: values must be (n, k, k, k) with n={n}, got {tuple(self.values.shape)}")
        self.normalization = normalization if normalization is not None else Normalization.identity()
        self.info = dict(info) if info else {}
        self._coverage: dict[int, object] = {}

    # -- basic properties -------------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        """Number of grids."""
        return int(self.centers.shape[0])

    @property
    def k(self) -> int:
        """Samples per grid axis."""
        return int(self.values.shape[-1])

    @property
    def device(self) -> torch.device:
        return self.centers.device

    def to(self, device: str | torch.device) -> "MosaicSDF":
        """A copy on ``device`` (same normalization)."""
        return MosaicSDF(self.centers.to(device), self.scales.to(device), self.values.to(device), self.normalization,
                         self.info)

    def __repr__(self) -> str:
        return f"MosaicSDF(n={self.n}, k={self.k}, device={self.device}, normalization={self.normalization})"

    # -- matrix form ------------------------------------------------------------------------------------------
    def to_matrix(self) -> torch.Tensor:
        """(n, 4 + k^3) rows ``[p | s | V.flatten()]`` (C order), on this object's device and dtype."""
        return join_rows(self.centers, self.scales, self.values)

    @classmethod
    def from_matrix(cls, matrix, normalization: Normalization | None = None) -> "MosaicSDF":
        """Inverse of :meth:`to_matrix`; ``matrix`` is a numpy array or tensor (n, 4 + k^3). Validates it
        (shape, finiteness, positive half-widths) and raises :class:`MSDFFormatError` otherwise."""
        m = torch.as_tensor(matrix)
        k = _check_rows(m.detach().cpu().numpy(), "<matrix>")
        return cls(*split_rows(m, k), normalization)

    # -- files ------------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the ``.npz`` file described in the module docstring (atomically)."""
        matrix = self.to_matrix().detach().cpu().numpy().astype(np.float32)
        _check_rows(matrix, str(path))
        with atomic_write(path, suffix=".npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, matrix=matrix, n=np.int64(self.n), k=np.int64(self.k),
                         norm_center=np.asarray(self.normalization.center, np.float64),
                         norm_scale=np.float64(self.normalization.scale), format_version=np.int64(FORMAT_VERSION))

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device = "cpu") -> "MosaicSDF":
        """Read and validate a ``.npz`` M-SDF file. Raises :class:`MSDFFormatError` naming the file and the reason
        (missing file, not an npz, missing/unexpected keys, pickled objects, bad shapes, non-finite values,
        non-positive half-widths, unknown format version)."""
        where = str(path)
        if not Path(path).is_file():
            raise MSDFFormatError(where, "no such file")
        check_archive(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                keys = set(z.files)
                if keys != _KEYS:
                    missing, extra = sorted(_KEYS - keys), sorted(keys - _KEYS)
                    raise MSDFFormatError(where, f"not an M-SDF file: missing keys {missing}, unexpected keys {extra}")
                data = {key: z[key] for key in _KEYS}
        except MSDFFormatError:
            raise
        except ValueError as e:  # object arrays refuse to load without pickle
            raise MSDFFormatError(where, f"unreadable array (pickled objects are not allowed): {e}") from None
        except (OSError, zipfile.BadZipFile, EOFError) as e:
            raise MSDFFormatError(where, f"not a readable .npz file: {e}") from None
        for key in ("n", "k", "format_version", "norm_scale"):
            if data[key].shape != ():
                raise MSDFFormatError(where, f"'{key}' must be a scalar, got shape {data[key].shape}")
        if data["format_version"].dtype.kind not in "iu" or int(data["format_version"]) != FORMAT_VERSION:
            raise MSDFFormatError(where, f"unknown format_version {data['format_version']!r} "
                                         f"(this reader knows {FORMAT_VERSION})")
        matrix = data["matrix"]
        if matrix.dtype.kind != "f":
            raise MSDFFormatError(where, f"matrix must be floating point, got dtype {matrix.dtype}")
        k = _check_rows(matrix, where)
        if int(data["n"]) != matrix.shape[0] or int(data["k"]) != k:
            raise MSDFFormatError(where, f"header n={int(data['n'])}, k={int(data['k'])} does not match the matrix "
                                         f"shape {matrix.shape} (D must be 4 + k^3)")
        try:
            norm = Normalization(center=data["norm_center"], scale=float(data["norm_scale"]))
        except (ValueError, TypeError) as e:
            raise MSDFFormatError(where, f"bad normalization: {e}") from None
        return cls.from_matrix(torch.from_numpy(matrix.astype(np.float32)).to(device), norm)

    # -- the field --------------------------------------------------------------------------------------------
    def coverage(self, resolution: int = COVERAGE_RESOLUTION):
        """The cached :class:`msdf.coverage.CoverageSign` of this shape at ``resolution`` (built on first use).

        The cache assumes the grids are not modified in place afterwards; build a new MosaicSDF after editing them.
        """
        if resolution not in self._coverage:
            from msdf.coverage import CoverageSign

            self._coverage[resolution] = CoverageSign.build(self.centers, self.scales, self.values, resolution)
        return self._coverage[resolution]

    def sdf(self, points, frame: str = "user", chunk: int = 1 << 20):
        """Signed distance at ``points`` (P, 3) (numpy or torch; returns the same kind, shape (P,)).

        ``frame="user"``: points and distances in the user's coordinates; ``"unit"``: in the unit frame. Covered
        points get the blend F; uncovered points get the coverage sign times a distance-like magnitude (class
        docstring). Negative inside.
        """
        if frame not in ("user", "unit"):
            raise ValueError(f"frame must be 'user' or 'unit', got {frame!r}")
        is_np = isinstance(points, np.ndarray)
        x = torch.as_tensor(np.asarray(points) if is_np else points)
        if x.dim() != 2 or x.shape[-1] != 3:
            raise ValueError(f"sdf: points must be (P, 3), got {tuple(x.shape)}")
        out_device, out_dtype = x.device, x.dtype if x.is_floating_point() else torch.float32
        x = x.to(device=self.device, dtype=self.values.dtype)
        if frame == "user":
            x = self.normalization.to_unit(x)
        parts = []
        for a in range(0, x.shape[0], chunk):
            xa = x[a:a + chunk]
            F, W = blend_sdf(xa[None], self.centers[None], self.scales[None], self.values[None])
            F, W = F[0], W[0]
            unc = W == 0
            if bool(unc.any()):
                fill = self.coverage().value(xa[unc].detach().cpu().numpy())
                F = F.clone()
                F[unc] = torch.as_tensor(fill, dtype=F.dtype, device=F.device)
            parts.append(F)
        F = torch.cat(parts) if parts else torch.zeros(0, dtype=self.values.dtype, device=self.device)
        if frame == "user":
            F = F * self.normalization.scale
        F = F.to(device=out_device, dtype=out_dtype)
        return F.detach().numpy() if is_np else F


def stack(msdfs: Sequence[MosaicSDF]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batch shapes with equal n and k for :func:`msdf.field.blend_sdf`: centers (B, n, 3), scales (B, n),
    values (B, n, k, k, k) (on the first shape's device)."""
    if not msdfs:
        raise ValueError("stack: need at least one MosaicSDF")
    n, k = msdfs[0].n, msdfs[0].k
    for i, m in enumerate(msdfs):
        if (m.n, m.k) != (n, k):
            raise ValueError(f"stack: shape {i} has n={m.n}, k={m.k}; shape 0 has n={n}, k={k}")
    dev = msdfs[0].device
    return (torch.stack([m.centers.to(dev) for m in msdfs]), torch.stack([m.scales.to(dev) for m in msdfs]),
            torch.stack([m.values.to(dev) for m in msdfs]))
