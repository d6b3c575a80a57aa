"""The M-SDF matrix row layout (Yariv et al. 2024, Mosaic-SDF): grid i is the row ``[p_i (3) | s_i (1) | V_i (k^3)]``.

``p_i`` is the grid's centre, ``s_i`` its half-width and ``V_i`` its (k, k, k) SDF values flattened in C order
(unit frame). A matrix is (n, 4 + k^3), a batch (B, n, 4 + k^3). Every module reads and writes rows through the named
column slices and helpers here (numpy arrays and torch tensors alike)::

    m[..., CENTERS]     (..., 3)    centres p_i
    m[..., HALF_WIDTH]  (...)       half-widths s_i
    m[..., GEOMETRY]    (..., 4)    centres and half-widths
    m[..., VALUES]      (..., k^3)  SDF values V_i
"""
from __future__ import annotations

CENTERS = slice(0, 3)
HALF_WIDTH = 3
GEOMETRY = slice(0, 4)
VALUES = slice(4, None)


def row_dim(k: int) -> int:
    """Columns of a row for k^3 grids: ``4 + k^3``."""
    return 4 + k ** 3


def grid_size(dim: int) -> int:
    """``k`` of rows with ``dim`` columns; ``ValueError`` unless ``dim == 4 + k^3`` with an integer k >= 2.

    >>> grid_size(4 + 7 ** 3)
    7
    """
    k = round((dim - 4) ** (1 / 3)) if dim > 4 else 0
    if k < 2 or row_dim(k) != dim:
        raise ValueError(f"row length {dim} is not 4 + k^3 for an integer k >= 2")
    return k


def split_rows(m, k: int | None = None):
    """Rows (..., 4 + k^3) -> (centres (..., 3), half-widths (...), values (..., k, k, k)); views where possible.

    ``k`` is checked against the row length when given, inferred from it otherwise.
    """
    dim = m.shape[-1]
    if k is None:
        k = grid_size(dim)
    elif dim != row_dim(k):
        raise ValueError(f"M-SDF rows have {dim} columns, expected 4 + k^3 = {row_dim(k)} for k={k}")
    return m[..., CENTERS], m[..., HALF_WIDTH], m[..., VALUES].reshape(*m.shape[:-1], k, k, k)


def join_rows(centers, half_widths, values):
    """Inverse of :func:`split_rows` for torch tensors: (..., 3), (...), (..., k, k, k) -> (..., 4 + k^3)."""
    import torch

    lead = centers.shape[:-1]
    return torch.cat([centers, half_widths.unsqueeze(-1), values.reshape(*lead, -1)], dim=-1)
