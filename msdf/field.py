"""The Mosaic-SDF field: a partition-of-unity blend of n local k^3 SDF grids (Yariv et al., CVPR 2024, eq. 2).

For a query point x and grids (p_i, s_i, V_i)::

    u_i(x) = (x - p_i) / s_i                       local coordinate, the grid's cube is u in [-1, 1]^3
    w_i(x) = max(0, 1 - ||u_i(x)||_inf)            hat weight, zero on and outside the cube boundary
    T_i(x) = trilinear(V_i, (u_i(x) + 1) (k - 1) / 2)
    F(x)   = sum_i w_i(x) T_i(x) / W(x),   W(x) = sum_i w_i(x)

``V_i[a, b, c]`` is the SDF at ``p_i + s_i * (-1 + 2a/(k-1), -1 + 2b/(k-1), -1 + 2c/(k-1))`` (a along x, b along y,
c along z). Where W == 0 (no cube contains x) F is returned as 0: the paper leaves it undefined and the caller decides
(see :mod:`msdf.coverage`, :meth:`msdf.representation.MosaicSDF.sdf`).

Each query point only visits the grids whose cube contains it. Every call builds a uniform spatial hash over the
bounding box of all cubes (cell = the largest half-width, so a cube overlaps at most 3 cells per axis) in compressed
sparse row form: the (grid, cell) overlap pairs sorted by cell, with a start offset and count per cell. A point reads
the candidate list of its own cell, keeps the candidates whose cube contains it, and only those (point, grid) pairs
enter the (differentiable) weight and trilinear computation, which is accumulated per point with ``index_add``. The
hash is rebuilt from the current tensors each call, so it follows centers and half-widths that move during
refinement. Points are processed in chunks, so memory stays bounded for millions of queries.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["blend_sdf", "blend_sdf_lattice", "Lattice", "GridHash", "build_grid_hash"]

# Largest number of (point, candidate) slots materialised at once; bounds the memory of one chunk.
_CHUNK_SLOTS = 1 << 22
# Upper bound on hash cells per shape, so a batch with tiny half-widths cannot allocate a huge cell table.
_MAX_CELLS_PER_SHAPE = 1 << 18


class GridHash:
    """Compressed-sparse-row spatial hash of the cubes of a batch of grid sets (built by :func:`build_grid_hash`).

    Attributes:
        lo: (3,) lower corner of the hashed box (shared by the batch).
        cell: cell edge length (scalar tensor).
        dims: number of cells per axis (G).
        starts: (B * G^3,) int64 offset of each cell's run in ``grids``.
        counts: (B * G^3,) int64 number of grids overlapping each cell.
        grids: (E,) int64 flat grid index ``b * n + i`` of each overlap pair, sorted by cell.
        max_count: the largest ``counts`` entry (candidate slots per point).
    """

    def __init__(self, lo, cell, dims, starts, counts, grids, max_count):
        self.lo, self.cell, self.dims = lo, cell, dims
        self.starts, self.counts, self.grids, self.max_count = starts, counts, grids, max_count

    def cell_of(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Flat per-shape cell index of ``points`` (..., 3) and a mask of the points inside the hashed box."""
        g = torch.floor((points - self.lo) / self.cell).long()
        inside = ((g >= 0) & (g < self.dims)).all(dim=-1)
        g = g.clamp(0, self.dims - 1)
        return (g[..., 0] * self.dims + g[..., 1]) * self.dims + g[..., 2], inside


@torch.no_grad()
def build_grid_hash(centers: torch.Tensor, scales: torch.Tensor) -> GridHash:
    """Hash the cubes ``[p_i - s_i, p_i + s_i]`` of ``centers`` (B, n, 3), ``scales`` (B, n) into a uniform grid.

    The box is the union of all cubes of the batch; the cell edge is ``max(s)`` (enlarged if needed so a shape has at
    most ``_MAX_CELLS_PER_SHAPE`` cells). Each cube is listed in every cell it overlaps (at most 3^3 with the default
    cell). Built with tensor ops on the tensors' device.
    """
    B, n, _ = centers.shape
    c = centers.detach()
    s = scales.detach().unsqueeze(-1)
    lo = (c - s).reshape(-1, 3).amin(dim=0)
    hi = (c + s).reshape(-1, 3).amax(dim=0)
    extent = float((hi - lo).max())
    cell = max(float(s.max()), extent / round(_MAX_CELLS_PER_SHAPE ** (1 / 3)), 1e-12)
    dims = max(1, int(extent / cell) + 1)
    glo = torch.floor((c - s - lo) / cell).long().clamp(0, dims - 1)  # (B, n, 3) first cell overlapped
    ghi = torch.floor((c + s - lo) / cell).long().clamp(0, dims - 1)  # (B, n, 3) last cell overlapped
    span = int((ghi - glo).max()) + 1
    r = torch.arange(span, device=c.device)
    off = torch.stack(torch.meshgrid(r, r, r, indexing="ij"), dim=-1).reshape(-1, 3)  # (span^3, 3)
    cells = glo.unsqueeze(2) + off  # (B, n, span^3, 3)
    valid = (cells <= ghi.unsqueeze(2)).all(dim=-1)
    flat_cell = (cells[..., 0] * dims + cells[..., 1]) * dims + cells[..., 2]
    flat_cell = flat_cell + (torch.arange(B, device=c.device) * dims**3).view(B, 1, 1)
    flat_grid = torch.arange(B * n, device=c.device).view(B, n, 1).expand_as(flat_cell)
    flat_cell, flat_grid = flat_cell[valid], flat_grid[valid]
    order = torch.argsort(flat_cell, stable=True)
    counts = torch.bincount(flat_cell, minlength=B * dims**3)
    starts = torch.cumsum(counts, 0) - counts
    return GridHash(lo, torch.tensor(cell, dtype=c.dtype, device=c.device), dims, starts, counts,
                    flat_grid[order], int(counts.max()) if counts.numel() else 0)


def _trilinear(values: torch.Tensor, k: int, grid: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Trilinear interpolation of ``values`` (G, k^3) at local coordinates ``u`` (Q, 3) in [-1, 1]^3 of grids ``grid`` (Q,).

    Lattice coordinate ``g = (u + 1)(k - 1)/2``; base node ``i0 = clamp(floor(g), 0, k - 2)``, fraction ``t = g - i0``;
    result ``sum_{d in {0,1}^3} prod_j (d_j t_j + (1 - d_j)(1 - t_j)) V[i0 + d]``. Returns (Q,).
    """
    g = (u + 1.0) * (0.5 * (k - 1))
    i0 = torch.floor(g.detach()).long().clamp(0, k - 2)
    t = g - i0.to(g.dtype)
    base = grid * (k**3) + (i0[:, 0] * k + i0[:, 1]) * k + i0[:, 2]
    flat = values.reshape(-1)
    out = torch.zeros_like(t[:, 0])
    for dx in (0, 1):
        wx = t[:, 0] if dx else 1.0 - t[:, 0]
        for dy in (0, 1):
            wy = t[:, 1] if dy else 1.0 - t[:, 1]
            for dz in (0, 1):
                wz = t[:, 2] if dz else 1.0 - t[:, 2]
                out = out + wx * wy * wz * flat[base + (dx * k * k + dy * k + dz)]
    return out


def blend_sdf(
    points: torch.Tensor, centers: torch.Tensor, scales: torch.Tensor, values: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Evaluate the Mosaic-SDF blend ``F`` and total weight ``W`` at query points.

    Args:
        points: (B, P, 3) query points (same frame as the grids, normally the unit frame).
        centers: (B, n, 3) grid centers p_i.
        scales: (B, n) half-widths s_i > 0.
        values: (B, n, k, k, k) SDF samples V_i.

    Returns:
        F: (B, P) ``sum_i w_i T_i / sum_i w_i`` where covered, exactly 0 where ``W == 0``.
        W: (B, P) ``sum_i w_i(x)`` (0 = uncovered).

    Differentiable in all four inputs (piecewise smooth: the trilinear cell index and the L-inf argmax are
    locally constant). Works on any device; all inputs must share device and dtype.
    """
    if points.dim() != 3 or points.shape[-1] != 3:
        raise ValueError(f"blend_sdf: points must be (B, P, 3), got {tuple(points.shape)}")
    B, P, _ = points.shape
    if centers.dim() != 3 or centers.shape[0] != B or centers.shape[-1] != 3:
        raise ValueError(f"blend_sdf: centers must be (B, n, 3) with B={B}, got {tuple(centers.shape)}")
    n = centers.shape[1]
    if scales.shape != (B, n):
        raise ValueError(f"blend_sdf: scales must be (B, n)=({B}, {n}), got {tuple(scales.shape)}")
    if values.dim() != 5 or values.shape[:2] != (B, n) or not (values.shape[2] == values.shape[3] == values.shape[4]):
        raise ValueError(f"blend_sdf: values must be (B, n, k, k, k), got {tuple(values.shape)}")
    k = values.shape[2]
    if k < 2:
        raise ValueError(f"blend_sdf: grids need k >= 2 samples per axis, got k={k}")

    flat_pts = points.reshape(B * P, 3)
    flat_c = centers.reshape(B * n, 3)
    flat_s = scales.reshape(B * n)
    flat_v = values.reshape(B * n, k**3)
    dtype = torch.promote_types(torch.promote_types(points.dtype, centers.dtype),
                                torch.promote_types(scales.dtype, values.dtype))
    num = torch.zeros(B * P, dtype=dtype, device=points.device)
    den = torch.zeros(B * P, dtype=dtype, device=points.device)
    if n == 0 or P == 0:
        return num.view(B, P), den.view(B, P)

    h = build_grid_hash(centers, scales)
    shape_of_point = torch.arange(B, device=points.device).repeat_interleave(P)
    chunk = max(1, _CHUNK_SLOTS // max(h.max_count, 1))
    slot = torch.arange(h.max_count, device=points.device)
    num_parts, den_parts = [], []
    for a in range(0, B * P, chunk):
        x = flat_pts[a:a + chunk]
        with torch.no_grad():
            cell, inside = h.cell_of(x.detach())
            row = shape_of_point[a:a + chunk] * h.dims**3 + cell
            cnt = torch.where(inside, h.counts[row], torch.zeros_like(row))
            take = slot.unsqueeze(0) < cnt.unsqueeze(1)  # (C, M)
            pi, si = take.nonzero(as_tuple=True)
            gid = h.grids[h.starts[row[pi]] + si]
            hit = ((x.detach()[pi] - flat_c.detach()[gid]) / flat_s.detach()[gid].unsqueeze(-1)).abs().amax(dim=-1) < 1
            pi, gid = pi[hit], gid[hit]
        s = flat_s[gid]
        u = (x[pi] - flat_c[gid]) / s.unsqueeze(-1)
        w = (1.0 - u.abs().amax(dim=-1)).clamp_min(0.0)
        t = _trilinear(flat_v, k, gid, u)
        num_parts.append(torch.zeros(x.shape[0], dtype=dtype, device=x.device).index_add(0, pi, (w * t).to(dtype)))
        den_parts.append(torch.zeros(x.shape[0], dtype=dtype, device=x.device).index_add(0, pi, w.to(dtype)))
    num = torch.cat(num_parts)
    den = torch.cat(den_parts)
    covered = den > 0
    F = torch.where(covered, num / torch.where(covered, den, torch.ones_like(den)), torch.zeros_like(num))
    return F.view(B, P), den.view(B, P)


@dataclass(frozen=True)
class Lattice:
    """A regular lattice of nodes ``lo + h * (i, j, l)``, ``0 <= (i, j, l) < dims``, in the grids' frame.

    Attributes:
        lo: (3,) float64 position of node (0, 0, 0).
        h: node spacing (same on every axis).
        dims: nodes per axis (X, Y, Z).
    """

    lo: np.ndarray
    h: float
    dims: tuple[int, int, int]

    @classmethod
    def around(cls, centers: torch.Tensor, scales: torch.Tensor, resolution: int) -> "Lattice":
        """Lattice with ``resolution`` nodes along the longest side of the cubes' bounding box (n, 3), (n,).

        One node of margin on every side, so every border node lies strictly outside every cube (border-touching
        uncovered space is the exterior, see :mod:`msdf.coverage`). The other axes get as many nodes as they need
        at the same spacing ``h = extent / (resolution - 3)``.
        """
        if int(resolution) < 8:
            raise ValueError(f"lattice resolution must be >= 8, got {resolution}")
        c = centers.detach().double().cpu().numpy().reshape(-1, 3)
        s = scales.detach().double().cpu().numpy().reshape(-1, 1)
        if len(c) == 0:
            raise ValueError("a lattice needs at least one grid")
        blo, bhi = (c - s).min(axis=0), (c + s).max(axis=0)
        h = float((bhi - blo).max()) / (int(resolution) - 3)
        dims = tuple(int(min(resolution, np.ceil((bhi[a] - blo[a]) / h - 1e-9) + 3)) for a in range(3))
        return cls(lo=blo - h, h=h, dims=dims)

    def nodes(self) -> np.ndarray:
        """All node positions (X * Y * Z, 3) in C order (x slowest)."""
        idx = np.stack(np.meshgrid(*[np.arange(d) for d in self.dims], indexing="ij"), axis=-1).reshape(-1, 3)
        return self.lo + idx * self.h


def _hat_matrix(j: torch.Tensor, ok: torch.Tensor, lo: float, h: float, c: torch.Tensor, s: torch.Tensor,
                k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-axis local coordinates and trilinear weights of lattice nodes ``j`` (g, m) for grids (c, s) of shape (g,).

    Returns ``u`` (g, m) = (lo + j h - c) / s (set to 2, i.e. weight 0, where not ``ok``) and the tent matrix
    ``A`` (g, m, k) with ``A[., r, a] = max(0, 1 - |(u_r + 1)(k - 1)/2 - a|)``, so ``T = A_x A_y A_z V`` (separable
    trilinear interpolation).
    """
    u = (lo + j.to(c.dtype) * h - c.unsqueeze(1)) / s.unsqueeze(1)
    u = torch.where(ok, u, torch.full_like(u, 2.0))
    g = (u + 1.0) * (0.5 * (k - 1))
    a = torch.arange(k, device=c.device, dtype=c.dtype)
    A = (1.0 - (g.unsqueeze(-1) - a).abs()).clamp_min(0.0) * ok.unsqueeze(-1)
    return u, A


def _separable_trilinear(Ax: torch.Tensor, Ay: torch.Tensor, Az: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``T[g, x, y, z] = sum_abc Ax[g, x, a] Ay[g, y, b] Az[g, z, c] v[g, a, b, c]`` as three batched matmuls.

    Shapes: Ax (g, mx, k), Ay (g, my, k), Az (g, mz, k), v (g, k, k, k) -> (g, mx, my, mz).
    """
    g, k = v.shape[0], v.shape[-1]
    mx, my, mz = Ax.shape[1], Ay.shape[1], Az.shape[1]
    t = torch.bmm(Ax, v.reshape(g, k, k * k)).reshape(g, mx * k, k)  # (g, mx, b, c)
    t = torch.bmm(t, Az.transpose(1, 2)).reshape(g, mx, k, mz)  # (g, mx, b, mz)
    t = torch.bmm(Ay, t.permute(0, 2, 1, 3).reshape(g, k, mx * mz))  # (g, my, mx * mz)
    return t.reshape(g, my, mx, mz).permute(0, 2, 1, 3)


def blend_sdf_lattice(
    centers: torch.Tensor, scales: torch.Tensor, values: torch.Tensor, lattice: Lattice,
    x_range: tuple[int, int] | None = None, out: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The blend ``F`` and weight ``W`` at every node of ``lattice`` (or its x slab), by per-grid splatting.

    Args:
        centers (n, 3), scales (n,), values (n, k, k, k): one shape's grids (any device, one dtype).
        lattice: the node lattice; ``x_range=(x0, x1)`` restricts to nodes with x index in [x0, x1) (a contiguous
            block of a C-order volume).
        out: optional contiguous (x1 - x0, Y, Z) tensor of ``values``' dtype and device that receives F (e.g. a view
            of a larger volume); its content is overwritten.

    Returns:
        F, W: (x1 - x0, Y, Z) on the grids' device; F = 0 where W = 0 (uncovered). F is ``out`` when given.

    Each grid's open cube contains an m_x * m_y * m_z block of nodes; trilinear interpolation onto that block is
    separable, ``T[x, y, z] = sum_abc Ax[x, a] Ay[y, b] Az[z, c] V[a, b, c]``, weights ``w = 1 - max(|u_x|, |u_y|,
    |u_z|) = min_axis (1 - |u_axis|)^+`` (a broadcast minimum of three per-axis vectors), and each grid's block of
    ``w T`` and ``w`` is added into the lattice with one slice addition (measured 2x faster on CPU than one
    ``index_add_`` scatter over all pairs). The cost is proportional to the number of (grid, node) pairs, i.e. to the
    covered volume (which hugs the surface), not to the lattice size.
    Agrees with :func:`blend_sdf` at the nodes up to float rounding.
    """
    X, Y, Z = lattice.dims
    x0, x1 = x_range or (0, X)
    dev, dt = centers.device, values.dtype
    k = values.shape[-1]
    shape = (x1 - x0, Y, Z)
    if out is None:
        num = torch.zeros(shape, dtype=dt, device=dev)
    else:
        if tuple(out.shape) != shape or not out.is_contiguous():
            raise ValueError(f"blend_sdf_lattice: out must be a contiguous tensor of shape {shape}")
        num = out.zero_()
    den = torch.zeros(shape, dtype=dt, device=dev)
    lo = torch.as_tensor(lattice.lo, dtype=centers.dtype, device=dev)
    h = lattice.h
    with torch.no_grad():
        first = torch.floor((centers - scales.unsqueeze(-1) - lo) / h).long() + 1  # (n, 3) first node inside
        last = torch.ceil((centers + scales.unsqueeze(-1) - lo) / h).long() - 1  # (n, 3) last node inside
        top = torch.tensor([x1 - 1, Y - 1, Z - 1], device=dev)
        bottom = torch.tensor([x0, 0, 0], device=dev)
        first, last = torch.maximum(first, bottom), torch.minimum(last, top)
        live = ((last - first) >= 0).all(dim=-1)
    idx = live.nonzero(as_tuple=True)[0]
    if idx.numel() == 0:
        return num, den
    first, last = first[idx], last[idx]
    m = (last - first + 1).amax(dim=0).tolist()  # padded block size per axis
    per = max(1, _CHUNK_SLOTS // (m[0] * m[1] * m[2]))
    ranges = [torch.arange(mm, device=dev) for mm in m]
    origin = bottom
    for a in range(0, idx.numel(), per):
        g = idx[a:a + per]
        fa, la = first[a:a + per], last[a:a + per]
        c, s, v = centers[g], scales[g], values[g]
        ws, As = [], []
        for ax in range(3):
            j = fa[:, ax:ax + 1] + ranges[ax]
            u, A = _hat_matrix(j, j <= la[:, ax:ax + 1], float(lo[ax]), h, c[:, ax], s, k)
            ws.append((1.0 - u.abs()).clamp_min(0.0).to(dt))  # per-axis 1 - |u|, so w = min over the axes
            As.append(A)
        T = _separable_trilinear(As[0], As[1], As[2], v)
        w = torch.minimum(torch.minimum(ws[0][:, :, None, None], ws[1][:, None, :, None]), ws[2][:, None, None, :])
        wT = w * T
        # Each grid's block is a box of the lattice: add it with a slice (much faster than a scatter on CPU).
        for b, (o, e) in enumerate(zip((fa - origin).tolist(), (la - fa + 1).tolist())):
            box = (slice(o[0], o[0] + e[0]), slice(o[1], o[1] + e[1]), slice(o[2], o[2] + e[2]))
            num[box] += wT[b, :e[0], :e[1], :e[2]]
            den[box] += w[b, :e[0], :e[1], :e[2]]
    # F = num / den where covered; num = den = 0 elsewhere, and 0 / tiny = 0 keeps F = 0 there.
    return num.div_(den.clamp_min(torch.finfo(dt).tiny)), den
