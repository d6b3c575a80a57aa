"""The M-SDF blend (msdf.field): exactness, invariances, gradients, and the spatial hash against brute force."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as tnf

import msdf.field as field
from msdf.field import Lattice, blend_sdf, blend_sdf_lattice, build_grid_hash


def random_grids(B=2, n=60, k=5, s_lo=0.1, s_hi=0.3, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    c = (torch.rand(B, n, 3, generator=g, dtype=dtype) * 1.6 - 0.8)
    s = torch.rand(B, n, generator=g, dtype=dtype) * (s_hi - s_lo) + s_lo
    v = torch.randn(B, n, k, k, k, generator=g, dtype=dtype)
    return c, s, v


def brute_force(x, c, s, v):
    """All-grids evaluation; trilinear interpolation by torch's grid_sample (an independent implementation)."""
    B, n, k = v.shape[0], v.shape[1], v.shape[-1]
    P = x.shape[1]
    u = (x[:, :, None, :] - c[:, None]) / s[:, None, :, None]  # (B, P, n, 3)
    w = (1 - u.abs().amax(-1)).clamp_min(0)
    vol = v.reshape(B * n, 1, k, k, k).permute(0, 1, 4, 3, 2)  # grid_sample wants (z, y, x) volume order
    T = tnf.grid_sample(vol, u.permute(0, 2, 1, 3).reshape(B * n, 1, 1, P, 3), align_corners=True)
    T = T.reshape(B, n, P).permute(0, 2, 1)
    W = w.sum(-1)
    return torch.where(W > 0, (w * T).sum(-1) / W.clamp_min(1e-30), torch.zeros_like(W)), W


def test_hash_matches_brute_force():
    c, s, v = random_grids(B=2, n=80)
    x = torch.rand(2, 4000, 3) * 2.4 - 1.2  # some points outside every cube and outside the hashed box
    F, W = blend_sdf(x, c, s, v)
    Fb, Wb = brute_force(x, c, s, v)
    assert (W > 0).float().mean() > 0.2 and (W == 0).any()
    torch.testing.assert_close(W, Wb, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(F, Fb, atol=1e-4, rtol=1e-4)


def test_hash_visits_only_nearby_grids():
    c, s, v = random_grids(B=1, n=400, s_lo=0.05, s_hi=0.05)
    h = build_grid_hash(c, s)
    assert h.max_count < 400 / 4  # candidate lists are a small fraction of n
    assert h.counts.sum() <= 27 * 400


def test_chunked_evaluation_matches(monkeypatch):
    c, s, v = random_grids(B=2, n=50)
    x = torch.rand(2, 3000, 3) * 2 - 1
    F, W = blend_sdf(x, c, s, v)
    monkeypatch.setattr(field, "_CHUNK_SLOTS", 2048)
    F2, W2 = blend_sdf(x, c, s, v)
    torch.testing.assert_close(F, F2)
    torch.testing.assert_close(W, W2)


def test_partition_of_unity():
    c, s, v = random_grids(B=1, n=50)
    v = torch.full_like(v, 0.37)
    F, W = blend_sdf(torch.rand(1, 5000, 3) * 2 - 1, c, s, v)
    assert (W > 0).sum() > 1000
    torch.testing.assert_close(F[W > 0], torch.full_like(F[W > 0], 0.37))
    assert torch.all(F[W == 0] == 0)


def test_trilinear_is_exact_on_affine_functions():
    c, s, v = random_grids(B=1, n=40, k=4, dtype=torch.float64)
    a, b = torch.tensor([0.3, -1.2, 0.7], dtype=torch.float64), 0.25
    t = torch.linspace(-1, 1, 4, dtype=torch.float64)
    off = torch.stack(torch.meshgrid(t, t, t, indexing="ij"), -1)  # (k, k, k, 3), a along x
    nodes = c[0, :, None, None, None, :] + s[0, :, None, None, None, None] * off
    v = (nodes @ a + b)[None]
    x = torch.rand(1, 5000, 3, dtype=torch.float64) * 2 - 1
    F, W = blend_sdf(x, c, s, v)
    cov = W[0] > 0
    torch.testing.assert_close(F[0, cov], x[0, cov] @ a + b, atol=1e-12, rtol=0)


def test_permuting_rows_changes_nothing():
    c, s, v = random_grids(B=1, n=70)
    x = torch.rand(1, 3000, 3) * 2 - 1
    perm = torch.randperm(70, generator=torch.Generator().manual_seed(1))
    F, W = blend_sdf(x, c, s, v)
    F2, W2 = blend_sdf(x, c[:, perm], s[:, perm], v[:, perm])
    torch.testing.assert_close(F, F2, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(W, W2, atol=1e-6, rtol=1e-6)


def test_gradients_match_finite_differences():
    c, s, v = random_grids(B=1, n=6, k=3, s_lo=0.5, s_hi=0.7, dtype=torch.float64)
    c = c * 0.2  # overlapping grids, so most points see several
    x = (torch.rand(1, 8, 3, dtype=torch.float64) * 0.6 - 0.3)
    assert (blend_sdf(x, c, s, v)[1] > 0).all()
    inputs = tuple(t.clone().requires_grad_(True) for t in (x, c, s, v))
    assert torch.autograd.gradcheck(blend_sdf, inputs, eps=1e-6, atol=1e-5)  # both outputs F and W


def test_batch_items_are_independent():
    c, s, v = random_grids(B=3, n=40)
    x = torch.rand(3, 1000, 3) * 2 - 1
    F, W = blend_sdf(x, c, s, v)
    for b in range(3):
        Fb, Wb = blend_sdf(x[b:b + 1], c[b:b + 1], s[b:b + 1], v[b:b + 1])
        torch.testing.assert_close(F[b:b + 1], Fb)
        torch.testing.assert_close(W[b:b + 1], Wb)


def test_shape_errors_are_clear():
    c, s, v = random_grids(B=1, n=5)
    with pytest.raises(ValueError, match="points must be"):
        blend_sdf(torch.zeros(10, 3), c, s, v)
    with pytest.raises(ValueError, match="scales must be"):
        blend_sdf(torch.zeros(1, 10, 3), c, s[:, :3], v)


def test_lattice_splat_agrees_with_point_evaluation():
    c, s, v = random_grids(B=1, n=60, k=7)
    lat = Lattice.around(c[0], s[0], 40)
    F, W = blend_sdf_lattice(c[0], s[0], v[0], lat)
    nodes = torch.tensor(lat.nodes(), dtype=torch.float32)[None]
    Fp, Wp = blend_sdf(nodes, c, s, v)
    F, W = F.reshape(-1), W.reshape(-1)
    both = (W > 1e-4) & (Wp[0] > 1e-4)
    assert both.sum() > 1000
    torch.testing.assert_close(F[both], Fp[0, both], atol=2e-4, rtol=1e-4)
    torch.testing.assert_close(W, Wp[0], atol=1e-5, rtol=1e-4)
    # an x slab is the same numbers as the full lattice, also when written into a view of a larger volume
    full = F.reshape(lat.dims)
    Fx, Wx = blend_sdf_lattice(c[0], s[0], v[0], lat, (7, 19))
    torch.testing.assert_close(Fx, full[7:19])
    big = torch.full(lat.dims, 5.0)
    Fo, _ = blend_sdf_lattice(c[0], s[0], v[0], lat, (7, 19), out=big[7:19])
    assert Fo.data_ptr() == big[7:19].data_ptr()
    torch.testing.assert_close(big[7:19], full[7:19])
    assert torch.all(big[:7] == 5.0)


def test_lattice_border_is_uncovered():
    c, s, v = random_grids(B=1, n=30)
    lat = Lattice.around(c[0], s[0], 32)
    _, W = blend_sdf_lattice(c[0], s[0], v[0], lat)
    W = W.numpy()
    for face in (W[0], W[-1], W[:, 0], W[:, -1], W[:, :, 0], W[:, :, -1]):
        assert np.all(face == 0)
