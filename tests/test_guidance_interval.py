"""Guidance in a limited interval: the guided velocity where t lies in [lo, hi), the conditional one elsewhere."""
import pytest
import torch
from toy_flows import train_random_run

from msdf.choices import GUIDANCE_INTERVAL_DEFAULT
from msdf.flow.sampler import FlowSampler


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny class-conditional run."""
    return train_random_run(tmp_path_factory.mktemp("gi") / "run", steps=4, lr=1e-2)


def test_guidance_applies_only_inside_the_interval(run):
    everywhere = FlowSampler.load(run).with_guidance_interval(0.0, 1.0)
    limited = FlowSampler.load(run).with_guidance_interval(0.3, 0.6)
    cond = everywhere.condition(classes=["a", "b", "a"])
    torch.manual_seed(0)
    x, t = torch.randn(3, 6, 12), torch.tensor([0.2, 0.4, 0.6])  # before, inside, at hi (outside)
    with torch.no_grad():
        u_cfg = everywhere.velocity(x, t, cond, 3.0)
        u_c = everywhere.model(x, t, cond)
        got = limited.velocity(x, t, cond, 3.0)
        late = limited.velocity(x, torch.full((3,), 0.9), cond, 3.0)
    assert (u_cfg - u_c).abs().max() > 1e-3  # guidance changes the velocity
    torch.testing.assert_close(got[1], u_cfg[1], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got[[0, 2]], u_c[[0, 2]], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(late, everywhere.model(x, torch.full((3,), 0.9), cond), atol=1e-5, rtol=1e-5)


def test_guidance_columns_guide_only_their_columns(run):
    """with_guidance_columns: the guided velocity on the 4 geometry columns (or on the values) and the conditional
    one on the others, at times inside the interval; outside it the conditional velocity everywhere."""
    everywhere = FlowSampler.load(run).with_guidance_interval(0.0, 1.0)
    cond = everywhere.condition(classes=["a", "b"])
    torch.manual_seed(1)
    x, t = torch.randn(2, 6, 12), torch.tensor([0.3, 0.5])
    with torch.no_grad():
        u_cfg, u_c = everywhere.velocity(x, t, cond, 3.0), everywhere.model(x, t, cond)
        geometry = FlowSampler.load(run).with_guidance_interval(0.0, 1.0).with_guidance_columns("geometry")
        values = FlowSampler.load(run).with_guidance_interval(0.0, 1.0).with_guidance_columns("values")
        got_g, got_v = geometry.velocity(x, t, cond, 3.0), values.velocity(x, t, cond, 3.0)
        late = FlowSampler.load(run).with_guidance_columns("geometry").velocity(x, torch.full((2,), 0.9), cond, 3.0)
    assert (u_cfg - u_c)[..., :4].abs().max() > 1e-3 and (u_cfg - u_c)[..., 4:].abs().max() > 1e-3
    torch.testing.assert_close(got_g[..., :4], u_cfg[..., :4], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got_g[..., 4:], u_c[..., 4:], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got_v[..., :4], u_c[..., :4], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got_v[..., 4:], u_cfg[..., 4:], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(late, everywhere.model(x, torch.full((2,), 0.9), cond), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="guidance columns must be one of all, geometry, values"):
        FlowSampler.load(run).with_guidance_columns("centres")


def test_guidance_interval_is_checked(run):
    with pytest.raises(ValueError, match="0 <= lo < hi <= 1"):
        FlowSampler.load(run).with_guidance_interval(0.7, 0.3)


def test_sampling_with_an_interval_is_guided_then_conditional(run):
    """Guidance on [0, 0.5) with midpoint steps of 0.25: the first half of the solve is the guided ODE, the second
    the conditional one, and the sample equals the two solved one after the other."""
    from msdf.flow.sampler import Restart
    from msdf.flow.solvers import solve

    sampler = FlowSampler.load(run).with_guidance_interval(0.0, 0.5)
    cond = sampler.condition(classes=["a", "b"])
    x0 = sampler.noise([3, 4])
    got, timings = sampler.sample(cond, [3, 4], lambda v, x: solve(v, x, "midpoint", 8), guidance=3.0, quiet=True,
                                  restart=Restart(0), temperature=1.0)
    plain = FlowSampler.load(run).with_guidance_interval(0.0, 1.0)
    with torch.no_grad():
        half = solve(lambda x, t: plain.velocity(x, t, cond, 3.0), x0, "midpoint", 4, t1=0.5).x
        x1 = solve(lambda x, t: plain.velocity(x, t, cond, 1.0), half, "midpoint", 4, t0=0.5).x
        guided_all = solve(lambda x, t: plain.velocity(x, t, cond, 3.0), x0, "midpoint", 8).x
    torch.testing.assert_close(got, plain.matrices(x1), atol=1e-5, rtol=1e-5)
    assert (got - plain.matrices(guided_all)).abs().max() > 1e-4
    assert timings["nfe"] == 8


def test_the_full_interval_guides_at_t_1(run):
    sampler = FlowSampler.load(run).with_guidance_interval(0.0, 1.0)
    cond = sampler.condition(classes=["a"])
    x = torch.randn(1, 6, 12)
    with torch.no_grad():
        u = sampler.velocity(x, 1.0, cond, 3.0)
        u_c = sampler.model(x, torch.ones(1), cond)
    assert (u - u_c).abs().max() > 1e-3


def test_default_interval(run):
    assert FlowSampler.load(run).guidance_interval == GUIDANCE_INTERVAL_DEFAULT != (0.0, 1.0)
