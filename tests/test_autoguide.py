"""Autoguidance: an earlier checkpoint of the same run as the weak model, and the velocity it adds."""
import pytest
import torch
from toy_flows import train_random_run

from msdf.flow.checkpoint import CheckpointError, checkpoint_at
from msdf.flow.sampler import FlowSampler


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny class-conditional run that kept its checkpoints of steps 2, 4 and 6."""
    return train_random_run(tmp_path_factory.mktemp("ag") / "run", steps=6, ckpt_every=2, keep_checkpoints=3,
                            lr=1e-2)


def test_checkpoint_at_names_what_the_run_kept(run):
    folder, state = checkpoint_at(run, 4)
    assert folder.name == "step-0000004" and state["progress"]["step"] == 4
    with pytest.raises(CheckpointError, match=r"step-0000001.*kept: \[2, 4, 6\]"):
        checkpoint_at(run, 1)


def test_autoguided_velocity_pushes_away_from_the_weak_model(run):
    strong, weak = FlowSampler.load(run), FlowSampler.load(run, step=2)
    assert (strong.step, weak.step) == (6, 2)
    guided = FlowSampler.load(run).with_autoguide(2, 3.0)
    cond = strong.condition(classes=["a", "b"])
    torch.manual_seed(0)
    x, t = torch.randn(2, 6, 12), torch.tensor([0.2, 0.7])
    with torch.no_grad():
        u_cfg = strong.velocity(x, t, cond, 2.0)
        u_c, u_weak = strong.model(x, t, cond), weak.model(x, t, cond)
        got = guided.velocity(x, t, cond, 2.0)
        plain = FlowSampler.load(run).with_autoguide(2, 1.0).velocity(x, t, cond, 2.0)
    assert (u_c - u_weak).abs().max() > 1e-3  # the two checkpoints differ
    torch.testing.assert_close(got, u_cfg + 2.0 * (u_c - u_weak), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(plain, u_cfg, atol=1e-5, rtol=1e-5)
    with torch.no_grad():  # without CFG: u_weak + a (u - u_weak), Karras et al.'s form
        torch.testing.assert_close(guided.velocity(x, t, cond, 1.0), u_weak + 3.0 * (u_c - u_weak),
                                   atol=1e-5, rtol=1e-5)


def test_autoguide_needs_an_earlier_kept_checkpoint(run):
    with pytest.raises(ValueError, match="must come before"):
        FlowSampler.load(run, step=4).with_autoguide(4, 2.0)
    with pytest.raises(CheckpointError, match="step-0000003"):
        FlowSampler.load(run).with_autoguide(3, 2.0)
    with pytest.raises(ValueError, match=">= 1"):
        FlowSampler.load(run).with_autoguide(2, 0.5)
