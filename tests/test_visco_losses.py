"""VisCo grid and loss terms against analytic SDFs, plus gradient checks."""
from __future__ import annotations

import math

import pytest
import torch

from viscogrid import grid as G
from viscogrid import losses as L

R = 48
RADIUS = 0.5


def sphere_grid(resolution: int = R, radius: float = RADIUS) -> torch.Tensor:
    return (G.node_coordinates(resolution).double().norm(dim=-1) - radius)


def stencil(values: torch.Tensor):
    r = values.shape[0]
    nodes = G.interior_nodes(r)
    flat = values.reshape(-1)
    return nodes, flat[nodes], flat[G.neighbours(nodes, r)]


def test_linear_field_is_exact():
    """Trilinear interpolation and its gradient reproduce a linear function exactly; so do central differences."""
    a = torch.tensor([0.3, -1.2, 0.7])
    values = (G.node_coordinates(9) @ a + 0.1).reshape(-1)
    pts = torch.rand(200, 3) * 1.8 - 0.9
    idx, w, dw = G.trilinear_stencil(pts, 9)
    assert torch.allclose(G.interpolate(values, idx, w), pts @ a + 0.1, atol=1e-5)
    assert torch.allclose(G.interpolate_gradient(values, idx, dw), a.expand(200, 3), atol=1e-4)
    assert torch.allclose(w.sum(1), torch.ones(200))
    nodes = G.interior_nodes(9)
    nb = values[G.neighbours(nodes, 9)]
    assert torch.allclose(G.central_gradient(nb, G.spacing(9)), a.expand(len(nodes), 3), atol=1e-4)
    assert G.laplacian(values[nodes], nb, G.spacing(9)).abs().max() < 1e-3


def test_upsample_keeps_nodes_and_linear_functions():
    coarse = G.node_coordinates(5)[..., 0] * 2 - G.node_coordinates(5)[..., 2]
    fine = G.upsample(coarse, 9)
    assert torch.allclose(fine, G.node_coordinates(9)[..., 0] * 2 - G.node_coordinates(9)[..., 2], atol=1e-6)


def test_viscosity_residual_of_sphere_sdf():
    """|grad f| = 1 for the exact SDF, so the residual is -eps * lap f = -2 eps / r (up to O(h^2))."""
    values = sphere_grid()
    nodes, c, nb = stencil(values)
    h = G.spacing(R)
    r = G.node_coordinates(R).double().reshape(-1, 3)[nodes].norm(dim=-1)
    far = r > 0.25  # away from the kink at the centre
    res0 = L.viscosity_residual(c, nb, h, eps=0.0)[far]
    assert res0.abs().max() < 0.01
    eps = 0.01
    res = L.viscosity_residual(c, nb, h, eps=eps)[far]
    assert torch.allclose(res, -2 * eps / r[far], atol=0.01 * eps / h + 0.01)
    # a field that is not a distance has a large residual
    _, c2, nb2 = stencil(2.0 * values)
    assert L.viscosity_loss(c2, nb2, h, eps)[...] > 100 * L.viscosity_loss(c, nb, h, eps)


@pytest.mark.parametrize("beta_cells", [0.5, 1.0])
def test_coarea_of_sphere_is_its_area(beta_cells):
    values = sphere_grid(64)
    _, c, nb = stencil(values)
    h = G.spacing(64)
    area = L.coarea(c, nb, h, beta=beta_cells * h).item()
    assert area == pytest.approx(4 * math.pi * RADIUS**2, rel=0.03)


def test_laplace_density_integrates_to_one():
    s = torch.linspace(-1, 1, 20001, dtype=torch.float64)
    integral = torch.trapezoid(L.laplace_density(s, 0.02), s)
    assert integral.item() == pytest.approx(1.0, abs=1e-3)


def test_loss_gradients():
    torch.manual_seed(0)
    r = 6
    values = (sphere_grid(r) + 0.05 * torch.randn(r, r, r, dtype=torch.float64)).reshape(-1)
    nodes = G.interior_nodes(r)
    nbi = G.neighbours(nodes, r)
    h = G.spacing(r)
    pts = torch.rand(20, 3, dtype=torch.float64) * 1.6 - 0.8
    idx, w, dw = G.trilinear_stencil(pts, r)
    w, dw = w.double(), dw.double()
    normals = torch.nn.functional.normalize(torch.randn(20, 3, dtype=torch.float64), dim=1)

    def total(v):
        return (
            L.viscosity_loss(v[nodes], v[nbi], h, 0.1)
            + L.coarea(v[nodes], v[nbi], h, 0.3)
            + L.point_loss(G.interpolate(v, idx, w))
            + L.normal_loss(G.interpolate_gradient(v, idx, dw), normals)
        )

    assert torch.autograd.gradcheck(total, (values.clone().requires_grad_(True),))
