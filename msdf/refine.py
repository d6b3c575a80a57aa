"""Stage 2 of Mosaic-SDF encoding: fit the grid values to the ground-truth SDF by gradient descent.

With centres ``p`` and half-widths ``s`` fixed, the blend ``F`` (:func:`msdf.field.blend_sdf`) is **linear** in the
values: ``F(x) = sum_i w_i(x) T_i(x) / W(x) = A(x) . vec(V)`` where the row ``A(x)`` (n k^3 entries) holds
``w_i(x) / W(x)`` times the 8 trilinear weights of each grid containing ``x`` (about 8 x 5 non-zeros). So the
training points' rows are assembled once into a sparse matrix (:func:`blend_matrix`, checked against ``blend_sdf`` in
the tests) and every Adam step is two sparse mat-vecs instead of a spatial-hash blend: thousands of full-batch steps
cost what a few dozen ``blend_sdf`` calls would. For training points ``x_j`` with oracle distances ``d_j``
(:func:`training_set`) and surface points ``y_m`` with unit normals ``n_m``::

    L(V) = mean_j |A_j V - d_j| / s  +  lambda_n * mean_m (1 - cos(G_m V, n_m))

``G_m`` (3 rows) is the central difference of ``A`` at ``y_m +- h e_a`` (``h`` = a tenth of the node spacing), i.e. the
gradient of the piecewise-trilinear field. Only covered points (``W > 0``) have rows. The values are parametrised as
``V = V0 + s * D`` (``D`` starts at 0) so one learning rate suits every shape. Full-batch Adam
(:func:`msdf.adam.adam_minimize`) is deterministic. The loss is measured before and after; a shape whose loss did not
drop keeps its initial values.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from scipy.spatial import cKDTree
from tqdm.auto import tqdm

from msdf.adam import adam_minimize
from msdf.oracle import SDFOracle

DEFAULT_REFINE_STEPS = 100


@dataclass(frozen=True)
class RefineConfig:
    """Refinement hyper-parameters.

    Attributes:
        steps: full-batch Adam steps.
        lr: Adam learning rate on ``D`` (value change in units of the half-width).
        normal_weight: lambda_n, weight of the normal-alignment term.
    """

    steps: int = DEFAULT_REFINE_STEPS
    lr: float = 5e-3
    normal_weight: float = 0.1


NEAR_SIGMAS = (0.1, 0.3, 1.0)  # noise std of the near-surface points, in units of the half-width
NORMAL_POINTS = 8192  # surface points carrying the normal term (each costs 6 extra rows of A)


def training_set(oracle: SDFOracle, surface: np.ndarray, normals: np.ndarray, half_width: float,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Near-surface training points for one shape: one point ``y + sigma * s * N(0, I)`` per surface sample ``y``
    (sigma cycling over ``NEAR_SIGMAS``), with exact oracle targets. Returns ``points (S, 3)``, ``sdf (S,)``.
    The surface samples themselves (target 0, with ``normals``) are used as they are."""
    rng = np.random.default_rng(seed + 7)
    sigma = np.resize(np.asarray(NEAR_SIGMAS), len(surface))[:, None] * half_width
    near = surface + sigma * rng.standard_normal(surface.shape)
    return near, oracle(near)


def blend_matrix(points: np.ndarray, centers: np.ndarray, half_width: float | np.ndarray, k: int) -> sp.csr_matrix:
    """Sparse (P, n k^3) matrix ``A`` with ``A @ V.reshape(-1) == blend_sdf(points, centers, s, V)`` where covered;
    ``half_width`` is one ``s`` for every grid or one ``s_i`` per grid (n,).

    Row p: for each grid i with ``||x_p - p_i||_inf < s_i``: ``u = (x_p - p_i) / s_i``, ``w = 1 - ||u||_inf``,
    ``g = (u + 1)(k - 1) / 2``, ``g0 = clip(floor(g), 0, k - 2)``, ``t = g - g0``; corner ``d in {0,1}^3`` gets
    ``w * prod_a (t_a if d_a else 1 - t_a) / W`` at column ``i k^3 + ((g0+d)_x k + (g0+d)_y) k + (g0+d)_z``.
    Uncovered rows are empty.
    """
    n = len(centers)
    widths = np.broadcast_to(np.asarray(half_width, dtype=np.float64), (n,))
    pairs = cKDTree(points).sparse_distance_matrix(cKDTree(centers), float(widths.max()), p=np.inf,
                                                   output_type="ndarray")
    pi, gi = pairs["i"].astype(np.int64), pairs["j"].astype(np.int64)
    u = (points[pi] - centers[gi]) / widths[gi, None]
    w = 1.0 - np.abs(u).max(axis=1)
    inside = w > 0
    pi, gi, u, w = pi[inside], gi[inside], u[inside], w[inside]
    W = np.bincount(pi, weights=w, minlength=len(points))
    g = (u + 1.0) * (0.5 * (k - 1))
    g0 = np.clip(np.floor(g), 0, k - 2).astype(np.int64)
    t = g - g0
    axis_w = np.stack([1.0 - t, t], axis=-1)  # (Q, 3, 2): weight of the lower / upper node along each axis
    corner_w = (axis_w[:, 0, :, None, None] * axis_w[:, 1, None, :, None] * axis_w[:, 2, None, None, :]).reshape(-1, 8)
    d = np.arange(2)
    corner_off = ((d[:, None, None] * k + d[None, :, None]) * k + d[None, None, :]).reshape(8)
    base = gi * k**3 + (g0[:, 0] * k + g0[:, 1]) * k + g0[:, 2]
    vals = (w / np.where(W[pi] > 0, W[pi], 1.0))[:, None] * corner_w
    return sp.csr_matrix((vals.reshape(-1), (np.repeat(pi, 8), (base[:, None] + corner_off).reshape(-1))),
                         shape=(len(points), n * k**3))


def gradient_matrices(points: np.ndarray, centers: np.ndarray, half_width: float | np.ndarray,
                      k: int) -> sp.csr_matrix:
    """Stacked (3P, n k^3) central-difference gradient operator: rows ``a*P + p`` give dF/dx_a at ``points[p]``
    (step: a tenth of the finest node spacing)."""
    h = 0.1 * 2.0 * float(np.min(half_width)) / (k - 1)
    blocks = []
    for a in range(3):
        e = np.zeros(3)
        e[a] = h
        blocks.append((blend_matrix(points + e, centers, half_width, k)
                       - blend_matrix(points - e, centers, half_width, k)) / (2 * h))
    return sp.vstack(blocks).tocsr()


@dataclass
class ShapeProblem:
    """One shape's refinement data (CPU, scipy): ``A`` (Q, N) with targets ``sdf`` (Q,) over the covered training
    points, gradient operator ``G`` (3M, N) with unit ``normals`` (M, 3) over covered surface points, half-width ``s``."""

    A: sp.csr_matrix
    sdf: np.ndarray
    G: sp.csr_matrix
    normals: np.ndarray
    s: float


def build_problem(oracle: SDFOracle, surface: np.ndarray, normals: np.ndarray, centers: np.ndarray,
                  half_width: float | np.ndarray, k: int, seed: int = 0) -> ShapeProblem:
    """Assemble :class:`ShapeProblem` from the surface samples (target 0) and near points (oracle targets);
    ``half_width``: one ``s`` or one per grid (n,), whose smallest sets the near points' spread."""
    s = float(np.min(half_width))
    near, near_sdf = training_set(oracle, surface, normals, s, seed)
    pts = np.concatenate([surface, near])
    sdf = np.concatenate([np.zeros(len(surface)), near_sdf])
    A = blend_matrix(pts, centers, half_width, k)
    covered = np.diff(A.indptr) > 0
    on = np.flatnonzero(covered[:len(surface)])
    on = on[np.random.default_rng(seed + 11).permutation(len(on))[:NORMAL_POINTS]]
    return ShapeProblem(A[covered], sdf[covered], gradient_matrices(surface[on], centers, half_width, k),
                        normals[on], s)


def _torch_csr(m: sp.csr_matrix, device: torch.device) -> torch.Tensor:
    m = m.tocsr()
    with warnings.catch_warnings():  # "sparse CSR support is in beta": matvec is all we use
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(torch.from_numpy(m.indptr.astype(np.int64)),
                                       torch.from_numpy(m.indices.astype(np.int64)),
                                       torch.from_numpy(m.data.astype(np.float32)), size=m.shape, device=device,
                                       check_invariants=False)


class SparseOperator:
    """A fixed sparse matrix ``M`` usable in autograd: ``op(v) = M v`` with backward ``M^T g``.

    Both ``M`` and ``M^T`` are stored as CSR (torch's own CSR backward is orders of magnitude slower)."""

    def __init__(self, m: sp.spmatrix, device: torch.device):
        self.shape = m.shape
        self._m = _torch_csr(m, device)
        self._mt = _torch_csr(m.T, device)

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        return _SparseMatVec.apply(v, self._m, self._mt)


class _SparseMatVec(torch.autograd.Function):
    @staticmethod
    def forward(ctx, v, m, mt):
        ctx.mt = mt
        return m @ v

    @staticmethod
    def backward(ctx, grad):
        return ctx.mt @ grad, None, None


def refine_values(values: torch.Tensor, problems: list[ShapeProblem], config: RefineConfig = RefineConfig(),
                  quiet: bool = True) -> tuple[torch.Tensor, list[tuple[float, float]]]:
    """Refine the values (B, n, k, k, k) of B shapes at once (block-diagonal system on ``values.device``).

    Returns the refined values (same shape/device) and per shape ``(loss_before, loss_after)``.
    """
    B = values.shape[0]
    dev = values.device
    N = values[0].numel()
    A = SparseOperator(sp.block_diag([p.A for p in problems], format="csr"), dev)
    G = SparseOperator(sp.block_diag([p.G for p in problems], format="csr"), dev)
    sdf = torch.tensor(np.concatenate([p.sdf for p in problems]), dtype=torch.float32, device=dev)
    nrm = torch.tensor(np.concatenate([p.normals for p in problems]), dtype=torch.float32, device=dev)
    # per-row shape id and 1/(count * s) weights, so each shape's loss is its own mean
    a_shape = torch.tensor(np.repeat(np.arange(B), [p.A.shape[0] for p in problems]), device=dev)
    g_shape = torch.tensor(np.repeat(np.arange(B), [len(p.normals) for p in problems]), device=dev)
    a_w = torch.tensor(np.concatenate([np.full(p.A.shape[0], 1.0 / (max(p.A.shape[0], 1) * p.s)) for p in problems]),
                       dtype=torch.float32, device=dev)
    g_w = torch.tensor(np.concatenate([np.full(len(p.normals), 1.0 / max(len(p.normals), 1)) for p in problems]),
                       dtype=torch.float32, device=dev)
    s = torch.tensor([p.s for p in problems], dtype=torch.float32, device=dev).repeat_interleave(N)
    v0 = values.detach().reshape(-1).float()

    def per_shape_loss(v: torch.Tensor) -> torch.Tensor:
        l1 = torch.zeros(B, device=dev).index_add(0, a_shape, a_w * (A(v) - sdf).abs())
        if config.normal_weight <= 0 or G.shape[0] == 0:
            return l1
        grad = _split_grad(G(v), problems)
        cos = torch.nn.functional.cosine_similarity(grad, nrm, dim=-1, eps=1e-8)
        return l1 + config.normal_weight * torch.zeros(B, device=dev).index_add(0, g_shape, g_w * (1 - cos))

    with torch.no_grad():
        before = per_shape_loss(v0)
    with tqdm(total=config.steps, desc="refine", disable=quiet, leave=False) as bar:
        delta = adam_minimize(lambda d: per_shape_loss(v0 + s * d).sum(), torch.zeros_like(v0), config.steps,
                              config.lr, callback=lambda _: bar.update())
    with torch.no_grad():
        refined = v0 + s * delta
        after = per_shape_loss(refined)
        worse = (after > before).repeat_interleave(N)
        refined = torch.where(worse, v0, refined)
        after = torch.minimum(after, before)
    return refined.view_as(values).to(values.dtype), [(float(b), float(a)) for b, a in zip(before, after)]


def _split_grad(g: torch.Tensor, problems: list[ShapeProblem]) -> torch.Tensor:
    """Block-diagonal ``G @ v`` (sum_b 3 M_b,) -> gradients (sum_b M_b, 3) in the order of the stacked normals."""
    parts, a = [], 0
    for p in problems:
        m = len(p.normals)
        parts.append(g[a:a + 3 * m].view(3, m).T)
        a += 3 * m
    return torch.cat(parts)
