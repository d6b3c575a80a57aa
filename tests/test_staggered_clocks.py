"""Staggered clocks (``geometry_end`` / ``values_end`` < 1): the trainer regresses on the path's clocks, and restarts
re-noise with them (columns that have reached the data stay put)."""
import pytest
import torch
from toy_flows import train_random_run

from msdf.flow.path import CondOTPath
from msdf.flow.sampler import FlowSampler, Restart, source_noise
from msdf.generate import make_solver
from msdf.rows import GEOMETRY, VALUES

TRAINING = {"batch_size": 8, "steps": 300, "lr": 3e-3, "ema_decay": 0.9}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny class-conditional run whose geometry columns finish at t = 0.5."""
    return train_random_run(tmp_path_factory.mktemp("gf") / "run", geometry_end=0.5, **TRAINING)


def _velocities(sampler: FlowSampler, t: float) -> torch.Tensor:
    torch.manual_seed(1)
    x, cond = torch.randn(16, 6, 12), sampler.condition(classes=["a", "b"] * 8)
    with torch.no_grad():
        return sampler.model(x, torch.full((16,), t), cond)


def test_trained_model_stops_moving_the_geometry_after_its_end(run):
    """Late in the flow the target of the geometry columns is 0, of the values x1 - x0 (norm ~1.4 per element)."""
    sampler = FlowSampler.load(run)
    assert sampler.path == CondOTPath(0.5)
    late, early = _velocities(sampler, 0.8), _velocities(sampler, 0.2)
    assert late[..., GEOMETRY].abs().mean() < 0.4 * late[..., VALUES].abs().mean()
    assert early[..., GEOMETRY].abs().mean() > late[..., GEOMETRY].abs().mean() * 2


def test_trained_values_first_model_stops_moving_the_values(tmp_path):
    sampler = FlowSampler.load(train_random_run(tmp_path / "run", values_end=0.5, **TRAINING))
    assert sampler.path == CondOTPath(1.0, 0.5)
    late, early = _velocities(sampler, 0.8), _velocities(sampler, 0.2)
    assert late[..., VALUES].abs().mean() < 0.6 * late[..., GEOMETRY].abs().mean()
    assert early[..., VALUES].abs().mean() > late[..., VALUES].abs().mean() * 2


def test_restart_renoises_only_the_unfinished_columns(run, monkeypatch):
    sampler = FlowSampler.load(run)
    cond = sampler.condition(classes=["a", "b"])
    starts = []
    solve = sampler.solve

    def recording(cond_, x0, *args, **kwargs):
        starts.append(x0.clone())
        out = solve(cond_, x0, *args, **kwargs)
        starts.append(out[0].clone())
        return out

    monkeypatch.setattr(sampler, "solve", recording)
    sampler.sample(cond, [0, 1], make_solver("midpoint", 4), quiet=True, restart=Restart(1, 0.6, 2), temperature=0.5)
    _, first_x1, restart_from, _ = starts
    eps = 0.5 * source_noise([0, 1], (sampler.n, sampler.dim), draw=1)
    torch.testing.assert_close(restart_from[..., GEOMETRY], first_x1[..., GEOMETRY])
    torch.testing.assert_close(restart_from[..., VALUES], 0.6 * first_x1[..., VALUES] + 0.4 * eps[..., VALUES])
