"""Shell leak of an M-SDF: do its grids enclose the inside of the shape, or does the inside reach the outside?

The grids of an M-SDF hug the surface, so a thick part (a bottle's body, a sofa's seat) is a shell of grids around
an uncovered pocket; :mod:`msdf.coverage` gives an enclosed pocket the sign of its covered rim (inside) and any
uncovered space that reaches the lattice border the sign outside. Where the shell has a hole (no grid covers a
patch of the surface), the pocket joins the exterior and decodes as outside: the shape comes out hollow, with an
inner surface along the inside of its shell, still one connected piece, so wholeness does not see it.

On a lattice of ``resolution`` nodes along the grids' longest side (:meth:`msdf.field.Lattice.around`, border
outside every cube), with covered nodes ``C`` (``W > 0``), the blend ``F`` (:mod:`msdf.field`) and the uncovered nodes
that reach the border through uncovered 6-neighbours ``E`` (the exterior), count the 6-neighbour pairs ``(c, u)``
with ``c`` in ``C`` and ``u`` in ``E``, the exterior's covered rim::

    leak = #{(c, u) : F(c) < level} / #{(c, u)}          (0 when the exterior touches no covered node)

An encoding's grids reach past its surface everywhere, so the exterior meets only outside values: ``leak = 0``.
A surface that leaves the grids (a generated grid that ends inside the shape) adds a little; a core opened to the
outside adds its whole inside rim, a share near the core's inner area against the outer shell's.
"""
from __future__ import annotations

import numpy as np
import torch

from msdf.coverage import exterior, shift_pairs
from msdf.field import Lattice, blend_sdf_lattice
from msdf.representation import MosaicSDF, MSDFFormatError

RESOLUTION = 96


def lattice_leak(covered: np.ndarray, field: np.ndarray, level: float = 0.0) -> float:
    """``leak`` of the module docstring from the covered mask and the blend on a lattice (both (X, Y, Z))."""
    outside = exterior(covered)
    inside = covered & (field < level)
    rim = rim_inside = 0
    for axis in range(3):
        for step in (1, -1):
            a, b = shift_pairs(covered.shape, axis, step)
            rim += int((covered[a] & outside[b]).sum())
            rim_inside += int((inside[a] & outside[b]).sum())
    return rim_inside / rim if rim else 0.0


@torch.no_grad()
def shell_leak(matrix: np.ndarray | torch.Tensor, resolution: int = RESOLUTION, level: float = 0.0) -> float | None:
    """``leak`` (module docstring) of a raw M-SDF matrix (n, 4 + k^3), unit frame; None when the matrix is no valid
    M-SDF (:meth:`msdf.representation.MosaicSDF.from_matrix` refuses it)."""
    try:
        shape = MosaicSDF.from_matrix(torch.as_tensor(np.asarray(matrix), dtype=torch.float32))
    except MSDFFormatError:
        return None
    lattice = Lattice.around(shape.centers, shape.scales, resolution)
    field, weight = blend_sdf_lattice(shape.centers, shape.scales, shape.values, lattice)
    return lattice_leak((weight > 0).numpy(), field.numpy(), level)
