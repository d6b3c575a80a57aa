"""D-Flow shape completion on an analytic flow whose samples are sphere M-SDFs."""
import math

import pytest
import torch

from msdf.flow.dflow import chi_regularizer, complete, observation_loss
from msdf.flow.solvers import solve
from toy_flows import gaussian_flow, sphere_matrices

K = 3


def _sphere_points(count, r, seed=0):
    g = torch.Generator().manual_seed(seed)
    d = torch.randn(count, 3, generator=g)
    return d / d.norm(dim=1, keepdim=True) * r


def test_observation_loss_exact_on_sphere():
    m = sphere_matrices([0.5], n=64, k=K, half_width=0.3)
    on = observation_loss(m, _sphere_points(300, 0.5)[None], K)
    off = observation_loss(m, _sphere_points(300, 0.6)[None], K)
    assert on.item() < 0.045  # trilinear interpolation error of |x| - r on a coarse k = 3 grid only
    assert off.item() > on.item() + 0.07  # |F| ~ 0.1 one tenth away from the surface
    far = observation_loss(m, torch.tensor([[[3.0, 0.0, 0.0]]]), K)
    # F = 0 there; the coverage gap is the L-inf distance to the nearest cube: >= 3 - 0.5 - 0.3, the nearest cube centre
    # has x a bit below 0.5
    assert 2.2 <= far.item() <= 2.35


def test_chi_regularizer_minimum_at_typical_norm():
    d = 50
    radii = torch.tensor([3.0, math.sqrt(d - 1), 10.0])
    x = torch.zeros(3, d)
    x[:, 0] = radii
    r = chi_regularizer(x)
    assert r[1] < r[0] and r[1] < r[2]


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_dflow_lowers_observation_loss(optimizer):
    mu = sphere_matrices([0.5, 0.5], n=32, k=K, half_width=0.3)
    velocity = gaussian_flow(mu, 0.2)
    points = torch.stack([_sphere_points(128, 0.6, 1), _sphere_points(128, 0.35, 2)])
    x0 = torch.randn(mu.shape, generator=torch.Generator().manual_seed(0))
    res = complete(velocity, lambda v, x: solve(v, x, "midpoint", 4), lambda x: x, x0, points, K, steps=15,
                   optimizer=optimizer, quiet=True)
    assert res.x0.shape == x0.shape and not res.x0.requires_grad
    for before, after in zip(res.initial_loss, res.final_loss):
        assert after < 0.5 * before, (res.initial_loss, res.final_loss)
    # the returned sample is the solve of the returned noise
    assert torch.allclose(res.x1, solve(velocity, res.x0, "midpoint", 4).x, atol=1e-5)


def test_bad_points_shape():
    with pytest.raises(ValueError, match="points must be"):
        complete(lambda x, t: x, lambda v, x: solve(v, x, "euler", 1), lambda x: x, torch.zeros(2, 4, 31),
                 torch.zeros(3, 5, 3), K, quiet=True)
