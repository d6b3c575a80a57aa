"""Stage 2 of Mosaic-SDF encoding: fit the grid values to the ground-truth SDF by gradient descent.

For a batch of B shapes with grids ``(p, s, V)`` and training points ``x_j`` with oracle distances ``d_j`` (on and near
the surface, :func:`training_set`), minimise with Adam::

    L = mean_j |F(x_j) - d_j| / s  +  lambda_n * mean_{j on surface} (1 - <grad F(x_j) / ||grad F(x_j)||, n_j>)

where ``F`` is :func:`msdf.field.blend_sdf` and ``s`` the shape's (shared) half-width, so the loss is scale-free.
Only points covered by at least one grid (``W > 0``) contribute. The values are parametrised as ``V = V0 + s * D``
(``D`` starts at 0) so one learning rate suits every shape size. Minibatches are drawn with a seeded generator, so
the result is deterministic for a seed on the CPU. The full-set loss is measured before and after; if refinement did
not lower it for a shape, that shape keeps its initial values.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from msdf.field import blend_sdf
from msdf.oracle import SDFOracle

DEFAULT_REFINE_STEPS = 200


@dataclass(frozen=True)
class RefineConfig:
    """Refinement hyper-parameters.

    Attributes:
        steps: Adam steps.
        lr: Adam learning rate on ``D`` (value change in units of the half-width).
        batch: training points per shape per step.
        normal_weight: lambda_n, weight of the normal-alignment term.
    """

    steps: int = DEFAULT_REFINE_STEPS
    lr: float = 0.02
    batch: int = 8192
    normal_weight: float = 0.1


SURFACE_POINTS = 16384
NEAR_POINTS = 32768
NEAR_SIGMAS = (0.25, 1.0)  # noise std of the near-surface points, in units of the half-width


def training_set(oracle: SDFOracle, surface: np.ndarray, normals: np.ndarray, half_width: float,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training points for one shape: ``SURFACE_POINTS`` surface samples (target 0, with normals) followed by
    ``NEAR_POINTS`` points ``x + sigma * s * N(0, I)`` around surface samples (sigma cycling over ``NEAR_SIGMAS``),
    with exact oracle targets.

    Returns ``points (P, 3)``, ``sdf (P,)``, ``normals (P, 3)`` (zero rows for the near points).
    """
    rng = np.random.default_rng(seed + 7)
    on = rng.choice(len(surface), size=SURFACE_POINTS, replace=len(surface) < SURFACE_POINTS)
    base = surface[rng.choice(len(surface), size=NEAR_POINTS, replace=len(surface) < NEAR_POINTS)]
    sigma = np.resize(np.asarray(NEAR_SIGMAS), NEAR_POINTS)[:, None] * half_width
    near = base + sigma * rng.standard_normal((NEAR_POINTS, 3))
    points = np.concatenate([surface[on], near])
    sdf = np.concatenate([np.zeros(SURFACE_POINTS), oracle(near)])
    nrm = np.concatenate([normals[on], np.zeros((NEAR_POINTS, 3))])
    return points, sdf, nrm


def _loss(centers, scales, values, points, sdf, normals, normal_weight: float) -> torch.Tensor:
    """Per-shape loss (B,) of the module docstring on the given points (B, P, 3)."""
    if normal_weight > 0:
        points = points.detach().requires_grad_(True)
    F, W = blend_sdf(points, centers, scales, values)
    covered = (W > 0).to(F.dtype)
    s = scales.detach().mean(dim=1, keepdim=True)
    l1 = ((F - sdf).abs() / s * covered).sum(1) / covered.sum(1).clamp_min(1)
    if normal_weight <= 0:
        return l1
    (grad,) = torch.autograd.grad(F.sum(), points, create_graph=True)
    on = (normals.abs().sum(-1) > 0).to(F.dtype) * covered
    cos = torch.nn.functional.cosine_similarity(grad, normals, dim=-1, eps=1e-8)
    return l1 + normal_weight * ((1 - cos) * on).sum(1) / on.sum(1).clamp_min(1)


def full_loss(centers, scales, values, points, sdf, normals, normal_weight: float, chunk: int = 65536) -> torch.Tensor:
    """The loss (B,) over all training points, evaluated in chunks (each chunk weighted by its share of the points)."""
    total = torch.zeros(points.shape[0], dtype=torch.float64, device=points.device)
    for a in range(0, points.shape[1], chunk):
        sl = slice(a, a + chunk)
        part = _loss(centers, scales, values, points[:, sl], sdf[:, sl], normals[:, sl], normal_weight)
        total += part.detach().double() * (points[:, sl].shape[1] / points.shape[1])
    return total


def refine_batch(centers: torch.Tensor, scales: torch.Tensor, values: torch.Tensor, points: torch.Tensor,
                 sdf: torch.Tensor, normals: torch.Tensor, config: RefineConfig = RefineConfig(), seed: int = 0,
                 quiet: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[tuple[float, float]]]:
    """Refine the values of B shapes at once.

    Args:
        centers (B, n, 3), scales (B, n), values (B, n, k, k, k): initial grids (unit frame).
        points (B, P, 3), sdf (B, P), normals (B, P, 3): training data from :func:`training_set`.

    Returns:
        centers, scales (unchanged), refined values (B, n, k, k, k), and per shape ``(loss_before, loss_after)``.
    """
    B, P, _ = points.shape
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    s = scales.detach().mean(dim=1).view(B, 1, 1, 1, 1)
    delta = torch.zeros_like(values, requires_grad=True)
    opt = torch.optim.Adam([delta], lr=config.lr)
    with torch.enable_grad():
        before = full_loss(centers, scales, values, points, sdf, normals, config.normal_weight)
        batch = min(config.batch, P)
        for _ in tqdm(range(config.steps), desc="refine", disable=quiet, leave=False):
            idx = torch.randint(0, P, (batch,), generator=gen).to(points.device)
            loss = _loss(centers, scales, values + s * delta, points[:, idx], sdf[:, idx], normals[:, idx],
                         config.normal_weight)
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            opt.step()
        refined = (values + s * delta).detach()
        after = full_loss(centers, scales, refined, points, sdf, normals, config.normal_weight)
    keep = (after > before).view(B, 1, 1, 1, 1)
    refined = torch.where(keep, values, refined)
    after = torch.minimum(after, before)
    return centers, scales, refined, [(float(b), float(a)) for b, a in zip(before, after)]
