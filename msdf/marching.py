"""Marching cubes on a Mosaic-SDF (Yariv et al. 2024): the decoder's ``method="mc"``, in the user's coordinates.

Pipeline (resolution R = nodes along the longest side of the grids' bounding box):

1. Lattice: :meth:`msdf.field.Lattice.around` (spacing h = extent / (R - 3), one node of margin).
2. Field: :func:`msdf.field.blend_sdf_lattice` splats every grid onto the lattice nodes its cube contains
   (separable trilinear interpolation, weights accumulated per node), in x slabs so memory stays bounded at 512^3.
   The cost follows the covered volume, i.e. the surface area, not R^3.
3. Uncovered nodes get ``level + sign * s_max`` with the sign from :func:`msdf.coverage.uncovered_sign`
   (border-reaching components outside, enclosed ones the majority sign of their covered rim), so uncovered space
   never holds a zero crossing of its own. ``uncovered="nearest"`` (the decoder's ``method="mc-nearest"``) takes
   :func:`msdf.coverage.nearest_covered_sign` instead: each node the sign at its nearest covered node.
4. ``skimage.measure.marching_cubes`` with ``mask`` = covered nodes dilated by one node (cells with a covered corner),
   then back to the user frame, vertices merged, degenerate faces dropped; normals point outward (to increasing F).
"""
from __future__ import annotations

import numpy as np
import torch
import trimesh
from skimage import measure
from tqdm.auto import tqdm

from msdf.coverage import nearest_covered_sign, uncovered_sign
from msdf.device import torch_device
from msdf.field import Lattice, blend_sdf_lattice
from msdf.representation import MosaicSDF

__all__ = ["decode_volume", "marching_cubes"]

# Lattice nodes per z slab during splatting (bounds the temporary memory at high resolution).
_SLAB_NODES = 1 << 24


def _dilate(mask: np.ndarray) -> np.ndarray:
    """``mask`` grown by one node in all 26 directions (separable: one max per axis)."""
    out = mask.copy()
    for axis in range(3):
        grown = out.copy()
        n = out.shape[axis]
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[axis], hi[axis] = slice(0, n - 1), slice(1, n)
        grown[tuple(lo)] |= out[tuple(hi)]
        grown[tuple(hi)] |= out[tuple(lo)]
        out = grown
    return out


def _slab_depth(lattice: Lattice) -> int:
    """x planes per splatting slab (about ``_SLAB_NODES`` nodes each)."""
    return max(1, _SLAB_NODES // (lattice.dims[1] * lattice.dims[2]))


@torch.no_grad()
def decode_volume(msdf: MosaicSDF, resolution: int = 256, level: float = 0.0,
                  bar: tqdm | None = None, uncovered: str = "enclosed") -> tuple[np.ndarray, np.ndarray, Lattice]:
    """The signed field on the decode lattice (unit frame); ``bar`` (optional tqdm) advances once per splatting
    z slab and once for the coverage labelling.

    Returns:
        volume: (X, Y, Z) float32, F at covered nodes, ``level + sign * s_max`` at uncovered nodes (the sign of
            step 3 of the module docstring: ``uncovered`` is ``"enclosed"`` or ``"nearest"``).
        covered: (X, Y, Z) bool.
        lattice: the :class:`~msdf.field.Lattice` (unit frame).
    """
    if uncovered not in ("enclosed", "nearest"):
        raise ValueError(f"uncovered space: unknown convention {uncovered!r} (enclosed | nearest)")
    lattice = Lattice.around(msdf.centers, msdf.scales, resolution)
    X, Y, Z = lattice.dims
    volume = np.empty((X, Y, Z), dtype=np.float32)
    covered = np.empty((X, Y, Z), dtype=bool)
    step = _slab_depth(lattice)
    on_cpu = msdf.device.type == "cpu"
    c, s, v = msdf.centers.float(), msdf.scales.float(), msdf.values.float()
    for x0 in range(0, X, step):
        x1 = min(X, x0 + step)
        # On the CPU the splat writes straight into the volume (x slabs are contiguous blocks).
        out = torch.from_numpy(volume[x0:x1]) if on_cpu else None
        F, W = blend_sdf_lattice(c, s, v, lattice, (x0, x1), out=out)
        if not on_cpu:
            volume[x0:x1] = F.cpu().numpy()
        covered[x0:x1] = (W > 0).cpu().numpy()
        if bar is not None:
            bar.update()
    s_max = np.float32(float(msdf.scales.max()))
    if uncovered == "nearest":
        sign = nearest_covered_sign(covered, volume, level)
        volume[~covered] = np.float32(level) + sign[~covered] * s_max
    else:
        labels, signs = uncovered_sign(covered, volume, level)
        # Uncovered nodes hold F = 0 and covered ones label 0: adding fill[labels] sets exactly the uncovered ones.
        fill = np.float32(level) + signs.astype(np.float32) * s_max
        fill[0] = 0.0
        volume += fill[labels]
    if bar is not None:
        bar.update()
    return volume, covered, lattice


def marching_cubes(msdf: MosaicSDF, resolution: int = 256, device: str | torch.device | None = None,
                   level: float = 0.0, quiet: bool = True, source: str = "M-SDF",
                   uncovered: str = "enclosed") -> trimesh.Trimesh:
    """The ``level`` surface of ``msdf`` as a mesh in the user's coordinates (module doc); the field is evaluated on
    ``device`` (None: the shape's own device; ``"auto"``: cuda if available); ``uncovered`` picks the sign
    convention of uncovered space (step 3).

    Raises ``ValueError`` naming ``source`` when the field has no such surface.
    """
    if device is not None:
        msdf = msdf.to(torch_device(device))
    lattice = Lattice.around(msdf.centers, msdf.scales, resolution)
    steps = -(-lattice.dims[2] // _slab_depth(lattice)) + 2  # slabs, coverage, marching cubes
    with tqdm(total=steps, desc=f"decode {resolution}^3", disable=quiet, unit="step") as bar:
        volume, covered, lattice = decode_volume(msdf, resolution, level, bar, uncovered)
        mask = _dilate(covered)
        if not (volume[mask] < level).any() or not (volume[mask] > level).any():
            raise ValueError(f"{source}: the field has no level-{level} surface (all covered values on one side)")
        verts, faces, _, _ = measure.marching_cubes(volume, level=level, spacing=(lattice.h,) * 3, mask=mask,
                                                    gradient_direction="descent", allow_degenerate=False)
        bar.update()
    verts = msdf.normalization.to_user(verts.astype(np.float64) + lattice.lo)
    # Lewiner marching cubes already shares vertices between cells and drops degenerate triangles.
    mesh = trimesh.Trimesh(verts, faces, process=False)
    mesh.remove_unreferenced_vertices()
    return mesh
