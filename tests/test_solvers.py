"""Fixed-step and adaptive ODE solvers on linear ODEs with a known solution."""
import math

import pytest
import torch

from msdf.flow.solvers import ODESolution, solve, steps_for


def _lam(t):
    return 1.0 + torch.cos(3.0 * t)


def velocity(x, t):
    """dx/dt = (1 + cos 3t) x, a time-dependent linear ODE: x(1) = x0 exp(1 + sin(3)/3)."""
    assert t.shape == (x.shape[0],)
    return _lam(t).view(-1, *([1] * (x.dim() - 1))) * x


X0 = torch.tensor([[1.0, -0.5], [0.3, 2.0]], dtype=torch.float64)
EXACT = X0 * math.exp(1.0 + math.sin(3.0) / 3.0)


def _err(method, nfe):
    return (solve(velocity, X0, method, nfe).x - EXACT).abs().max().item()


@pytest.mark.parametrize("method,order,nfes", [("euler", 1, (16, 32, 64)), ("midpoint", 2, (64, 128, 256)),
                                               ("rk4", 4, (8, 16, 32))])
def test_order_of_accuracy(method, order, nfes):
    errs = [_err(method, n) for n in nfes]
    rates = [math.log2(errs[i] / errs[i + 1]) for i in range(len(errs) - 1)]
    for r in rates:
        assert abs(r - order) < 0.3, (method, errs, rates)


def test_nfe_counted_and_trajectory():
    sol = solve(velocity, X0, "rk4", 12, return_trajectory=True)
    assert isinstance(sol, ODESolution)
    assert sol.nfe == 12
    assert sol.trajectory.shape == (4, *X0.shape)
    assert torch.equal(sol.trajectory[0], X0) and torch.equal(sol.trajectory[-1], sol.x)
    assert torch.allclose(sol.times, torch.tensor([0, 1 / 3, 2 / 3, 1], dtype=torch.float64))


def test_dopri5_accurate_and_counts_nfe():
    sol = solve(velocity, X0, "dopri5", rtol=1e-9, atol=1e-9)
    assert (sol.x - EXACT).abs().max() < 1e-7
    assert sol.nfe > 6
    ts = torch.linspace(0, 1, 5, dtype=torch.float64)
    traj = solve(velocity, X0, "dopri5", return_trajectory=True, trajectory_times=ts).trajectory
    exact_t = X0 * torch.exp(ts + torch.sin(3 * ts) / 3).view(-1, 1, 1)
    assert torch.allclose(traj, exact_t, rtol=1e-4, atol=1e-4)


def test_bad_nfe_rejected():
    with pytest.raises(ValueError, match="multiple of 4"):
        steps_for("rk4", 6)
    with pytest.raises(ValueError, match="unknown"):
        steps_for("heun", 4)


def test_differentiable_in_x0():
    x0 = X0.clone().requires_grad_(True)
    solve(velocity, x0, "midpoint", 8).x.sum().backward()
    # d x(1) / d x0 is the scalar growth factor of the scheme: close to exp(1 + sin 3 / 3)
    assert torch.allclose(x0.grad, torch.full_like(X0, math.exp(1 + math.sin(3) / 3)), rtol=2e-2)
