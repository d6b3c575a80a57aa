"""Analytic flows and M-SDF matrices with known answers, shared by the generation tests."""
import numpy as np
import torch


def gaussian_flow(mu, sigma):
    """CondOT marginal velocity from N(0, I) to N(mu, sigma^2 I) (mu (B, ...)); the exact map is x(1) = mu + sigma x0.

    x_t ~ N(t mu, s_t^2 I), s_t = sqrt((1-t)^2 + t^2 sigma^2), u(x, t) = mu + (s_t'/s_t)(x - t mu).
    """
    def velocity(x, t):
        t = t.view(-1, *([1] * (x.dim() - 1)))
        s2 = (1 - t) ** 2 + t**2 * sigma**2
        ds_over_s = (-(1 - t) + t * sigma**2) / s2
        return mu + ds_over_s * (x - t * mu)
    return velocity


def sphere_matrices(radii, n=32, k=3, half_width=0.25, seed=0):
    """Exact M-SDF matrices (len(radii), n, 4 + k^3) of origin-centred spheres: grids centred on each sphere."""
    g = np.random.default_rng(seed)
    off = np.stack(np.meshgrid(*[np.linspace(-1, 1, k)] * 3, indexing="ij"), -1).reshape(-1, 3)
    out = []
    for r in radii:
        d = g.normal(size=(n, 3))
        c = d / np.linalg.norm(d, axis=1, keepdims=True) * r
        s = np.full(n, half_width)
        v = np.linalg.norm(c[:, None] + s[:, None, None] * off[None], axis=2) - r
        out.append(np.concatenate([c, s[:, None], v], 1))
    return torch.from_numpy(np.stack(out).astype(np.float32))
