"""The Euler-Maruyama SDE of msdf.flow.stochastic: its marginals are the flow's, eta = 0 is the Euler ODE, its noise
follows the seeding rule."""
import pytest
import torch

from msdf.flow.path import CondOTPath
from msdf.flow.sampler import source_noise
from msdf.flow.solvers import solve
from msdf.flow.stochastic import EulerMaruyama, StepNoise, sde_solve
from toy_flows import gaussian_flow


def test_eta_zero_is_the_euler_ode():
    velocity = gaussian_flow(torch.tensor([1.0, -2.0]), 0.5)
    x0 = torch.randn(5, 3, 2, generator=torch.Generator().manual_seed(0))
    sde = sde_solve(velocity, x0, CondOTPath(), 0.0, 16, StepNoise(range(5), (3, 2)))
    ode = solve(velocity, x0, "euler", 16)
    torch.testing.assert_close(sde.x, ode.x, atol=0, rtol=0)
    assert sde.nfe == 16


@pytest.mark.parametrize("eta", [0.5, 2.0])
def test_the_sde_keeps_the_marginals_of_the_flow(eta):
    """N(0, 1) -> N(mu, sigma^2) has the exact marginal velocity of toy_flows.gaussian_flow; the SDE with it must end
    in N(mu, sigma^2) (the ODE's end) although every sample took a noisy path. Without the score correction in the
    drift, or with its sign flipped, the spread at t = 1 is far from sigma."""
    mu, sigma, count = torch.tensor([2.0]), 0.3, 4000
    velocity = gaussian_flow(mu, sigma)
    x0 = torch.randn(count, 1, 1, generator=torch.Generator().manual_seed(1))
    x1 = sde_solve(velocity, x0, CondOTPath(), eta, 200, StepNoise(range(count), (1, 1))).x.flatten()
    assert abs(x1.mean().item() - 2.0) < 0.02
    assert abs(x1.std().item() - sigma) < 0.02
    ode = solve(velocity, x0, "euler", 200).x.flatten()
    assert (x1 - ode).abs().median() > 0.05  # the noise moved each sample off its ODE path


def test_noise_estimate_is_exact_on_staggered_clocks():
    """eps_hat = x - t u recovers x0 from the conditional velocity on every column still moving, whatever its end."""
    path = CondOTPath(geometry_end=0.6, values_end=0.9)
    g = torch.Generator().manual_seed(2)
    x0, x1 = torch.randn(3, 4, 12, generator=g), torch.randn(3, 4, 12, generator=g)
    t = torch.tensor([0.2, 0.5, 0.59])
    x, u = path.interpolate(x0, x1, t), path.target_velocity(x0, x1, t)
    torch.testing.assert_close(x - t.view(-1, 1, 1) * u, x0)
    t_late = torch.tensor([0.7])  # geometry columns have stopped: no drift correction, no noise there
    assert (path.rate(t_late, x0[:1])[..., :4] == 0).all() and (path.rate(t_late, x0[:1])[..., 4:] > 0).all()


def test_geometry_stops_moving_after_its_end():
    """On a geometry-first path the SDE adds no noise to columns whose clock has reached the data."""
    path = CondOTPath(geometry_end=0.5)
    x0 = torch.randn(2, 3, 12, generator=torch.Generator().manual_seed(3))
    still = sde_solve(lambda x, t: torch.zeros_like(x), x0, path, 1.0, 8, StepNoise([0, 1], (3, 12)), t0=0.5)
    torch.testing.assert_close(still.x[..., :4], x0[..., :4], atol=0, rtol=0)
    assert (still.x[..., 4:] - x0[..., 4:]).abs().max() > 0.01


def test_step_noise_is_per_sample():
    a = StepNoise([7, 8], (2, 3))
    b = StepNoise([8], (2, 3))
    first, second = a.next(), a.next()
    torch.testing.assert_close(first[1], b.next()[0], atol=0, rtol=0)
    assert (first - second).abs().max() > 0.1
    for draw in range(3):  # independent of the source noise and restart noise of the same seed
        assert (first[1] - source_noise([8], (2, 3), draw=draw)[0]).abs().max() > 0.1


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="eta >= 0 \\(--sde-noise\\)"):
        EulerMaruyama(-0.1)
    with pytest.raises(ValueError, match="nfe >= 1"):
        EulerMaruyama(0.5, 0)
