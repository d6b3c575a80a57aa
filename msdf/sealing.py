"""Shell leak of an M-SDF: do its grids enclose the inside of the shape, or does the inside reach the outside?

The grids of an M-SDF hug the surface, so a thick part (a bottle's body, a sofa's seat) is a shell of grids around
an uncovered pocket; :mod:`msdf.coverage` gives an enclosed pocket the sign of its covered rim (inside) and any
uncovered space that reaches the lattice border the sign outside. Where the shell has a hole (no grid covers a
patch of the surface), the pocket joins the exterior and decodes as outside: the shape comes out hollow, with an
inner surface along the inside of its shell, still one connected piece, so wholeness does not see it.

On a lattice of ``resolution`` nodes along the grids' longest side (:meth:`msdf.field.Lattice.around`, border
outside every cube), with covered nodes ``C`` (``W > 0``), the blend ``F`` (:mod:`msdf.field`), the uncovered nodes
that reach the border through uncovered 6-neighbours ``E`` (the exterior), and ``N(c)`` the 6-neighbours of ``c``::

    rim  = { c in C : F(c) < level, N(c) has an uncovered node }      covered inside nodes next to a pocket
    leak = |{ c in rim : N(c) meets E }| / |rim|                      (0 when the rim is empty)

An encoding's pockets are enclosed (``leak = 0``). A shell with a hole gives the share of its inside rim that faces
the outside through it: about the pocket's share of all the pockets' rims.
"""
from __future__ import annotations

import numpy as np
import torch

from msdf.coverage import exterior, neighbours_any
from msdf.field import Lattice, blend_sdf_lattice
from msdf.rows import CENTERS, HALF_WIDTH, VALUES, grid_size

RESOLUTION = 96


def lattice_leak(covered: np.ndarray, field: np.ndarray, level: float = 0.0) -> float:
    """``leak`` of the module docstring from the covered mask and the blend on a lattice (both (X, Y, Z))."""
    rim = covered & (field < level) & neighbours_any(~covered)
    if not rim.any():
        return 0.0
    return float((rim & neighbours_any(exterior(covered))).sum() / rim.sum())


@torch.no_grad()
def shell_leak(matrix: np.ndarray | torch.Tensor, resolution: int = RESOLUTION, level: float = 0.0) -> float | None:
    """``leak`` (module docstring) of a raw M-SDF matrix (n, 4 + k^3), unit frame; None when the matrix is no valid
    M-SDF (a non-finite entry, a half-width <= 0)."""
    m = torch.as_tensor(np.asarray(matrix), dtype=torch.float32)
    k = grid_size(m.shape[-1])
    centers, scales = m[:, CENTERS], m[:, HALF_WIDTH]
    if not bool(torch.isfinite(m).all()) or not bool((scales > 0).all()):
        return None
    lattice = Lattice.around(centers, scales, resolution)
    field, weight = blend_sdf_lattice(centers, scales, m[:, VALUES].reshape(-1, k, k, k), lattice)
    return lattice_leak((weight > 0).numpy(), field.numpy(), level)
