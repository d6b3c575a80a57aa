"""Self-conditioning: the model input, the training estimate, the sampling closure and a trained run end to end."""
import pytest
import torch
from safetensors.torch import load_file
from toy_flows import train_random_run

from msdf.flow.checkpoint import latest_checkpoint
from msdf.flow.condition import Condition
from msdf.flow.model import FlowTransformer
from msdf.flow.path import CondOTPath
from msdf.flow.sampler import FlowSampler, Restart
from msdf.flow.self_condition import SelfConditionedVelocity, training_estimate
from msdf.flow.solvers import solve
from msdf.generate import make_solver

D = 12


def _model(self_condition: bool = True) -> FlowTransformer:
    """A small class-conditional model with every weight random (the zero-initialised layers would hide inputs)."""
    torch.manual_seed(0)
    m = FlowTransformer(D, width=32, depth=1, heads=2, mlp_ratio=2.0, row_hidden=16, cond="class", num_classes=2,
                        self_condition=self_condition).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0.0, 0.3)
    return m


def _cond() -> Condition:
    return Condition(null=torch.zeros(2, dtype=torch.bool), labels=torch.tensor([0, 1]))


def test_model_reads_the_estimate_row_by_row():
    m, cond = _model(), _cond()
    x, prev, t = torch.randn(2, 6, D), torch.randn(2, 6, D), torch.tensor([0.3, 0.7])
    with torch.no_grad():
        none, zeros, given = m(x, t, cond), m(x, t, cond, torch.zeros_like(x)), m(x, t, cond, prev)
        perm = torch.randperm(6)
        permuted = m(x[:, perm], t, cond, prev[:, perm])
    torch.testing.assert_close(none, zeros)  # no estimate = zeros
    assert (given - none).abs().max() > 1e-2
    torch.testing.assert_close(permuted, given[:, perm])  # row i of the estimate belongs to row i of x
    with pytest.raises(ValueError, match="self-conditioning"):
        _model(False)(x, t, cond, prev)


def test_a_new_model_starts_as_the_plain_model():
    torch.manual_seed(0)
    m = FlowTransformer(D, width=32, depth=1, heads=2, row_hidden=16, cond="none", self_condition=True)
    with torch.no_grad():  # open the output layers; the estimate's embedding keeps its zero initialisation
        for lin in (m.final.linear, m.final.ada[-1]):
            lin.weight.normal_(0.0, 0.3)
        x = torch.randn(1, 5, D)
        torch.testing.assert_close(m(x, 0.5, None, torch.randn(1, 5, D)), m(x, 0.5))
        assert m(x, 0.5).abs().max() > 1e-3


def test_sampling_feeds_each_guidance_branch_its_own_estimate():
    m, cond, w = _model(), _cond(), 2.0
    xa, xb, xc = torch.randn(3, 2, 6, D).unbind(0)
    t1, t2, t3 = torch.full((2,), 0.25), torch.full((2,), 0.5), torch.full((2,), 0.1)
    v = SelfConditionedVelocity(m, cond, w, CondOTPath())
    with torch.no_grad():
        first, second, third = v(xa, t1), v(xb, t2), v(xc, t3)
        u_c, u_n = m(xa, t1, cond), m(xa, t1, cond.nulled())
        est_c, est_n = xa + 0.75 * u_c, xa + 0.75 * u_n
        u_c2, u_n2 = m(xb, t2, cond, est_c), m(xb, t2, cond.nulled(), est_n)
        fresh = m.forward_with_cfg(xc, t3, cond, w)
    close = {"atol": 2e-4, "rtol": 1e-4}  # batched (2B) against separate calls
    torch.testing.assert_close(first, u_n + w * (u_c - u_n), **close)
    torch.testing.assert_close(second, u_n2 + w * (u_c2 - u_n2), **close)
    assert (second - m.forward_with_cfg(xb, t2, cond, w)).abs().max() > 1e-2  # the estimates did matter
    torch.testing.assert_close(third, fresh, **close)  # an earlier time starts a new trajectory: no estimate
    with pytest.raises(ValueError, match="self-conditioning"):
        SelfConditionedVelocity(_model(False), cond, w, CondOTPath())


def test_training_estimate_covers_the_requested_share():
    m = _model()
    b = 64
    xt, t = torch.randn(b, 6, D), torch.rand(b)
    cond = Condition(null=torch.zeros(b, dtype=torch.bool), labels=torch.arange(b) % 2)
    with torch.no_grad():
        full = xt + (1 - t)[:, None, None] * m(xt, t, cond)
    assert torch.equal(training_estimate(m, CondOTPath(), xt, t, cond, 0.0), torch.zeros_like(xt))
    torch.testing.assert_close(training_estimate(m, CondOTPath(), xt, t, cond, 1.0), full)
    half = training_estimate(m, CondOTPath(), xt, t, cond, 0.5, torch.Generator().manual_seed(0))
    estimated = half.abs().amax(dim=(1, 2)) > 0
    torch.testing.assert_close(half[estimated], full[estimated])
    assert 16 <= int(estimated.sum()) <= 48


def test_trained_self_conditioned_run_learns_from_and_samples_with_its_estimate(tmp_path):
    """The trainer feeds the estimate (the estimate's output layer leaves zero only if its input is non-zero) and
    a checkpoint samples through the self-conditioned closure, restarts included."""
    train_random_run(tmp_path / "run", self_condition=1.0)
    folder, _ = latest_checkpoint(tmp_path / "run")
    assert load_file(str(folder / "weights.safetensors"))["model.self_embed.mlp.2.weight"].abs().max() > 0
    sampler = FlowSampler.load(tmp_path / "run")
    assert sampler.guidance_interval == (0.0, 1.0)  # guided at every time: its branches carry estimates
    with pytest.raises(ValueError, match="self-conditioned"):
        sampler.with_guidance_interval(0.0, 0.8)
    with pytest.raises(ValueError, match="self-conditioned"):
        sampler.with_guidance_columns("geometry")
    cond = sampler.condition(classes=["a", "b"])
    assert isinstance(FlowSampler.load(tmp_path / "run").with_repulsion(0.0).velocity_fn(cond, 2.0),
                      SelfConditionedVelocity)
    matrices, timings = sampler.sample(cond, [0, 1], make_solver("midpoint", 4), quiet=True,
                                       restart=Restart(1, 0.5, 2))
    assert matrices.shape == (2, 6, 12) and torch.isfinite(matrices).all() and timings["nfe"] == 6
    alone, _ = sampler.sample(sampler.condition(classes=["b"]), [1], make_solver("midpoint", 4), quiet=True,
                              restart=Restart(1, 0.5, 2))
    torch.testing.assert_close(alone[0], matrices[1], atol=1e-5, rtol=1e-5)  # the seeding rule holds
    x1 = solve(sampler.velocity_fn(cond, 2.0), sampler.noise([0, 1]), "midpoint", 4).x
    assert torch.isfinite(x1).all()
