"""Geometry-first training (``geometry_end < 1``): the trainer regresses on the path's clocks, and restarts re-noise
with them (geometry that has reached the data stays put)."""
import numpy as np
import pytest
import torch

from msdf.flow.config import build_config
from msdf.flow.dataset import ArrayStore
from msdf.flow.path import CondOTPath
from msdf.flow.sampler import FlowSampler, Restart, source_noise
from msdf.generate import make_solver
from msdf.flow.trainer import train
from msdf.rows import GEOMETRY, VALUES


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny class-conditional run whose geometry columns finish at t = 0.5."""
    rng = np.random.default_rng(0)
    store = ArrayStore(rng.normal(size=(8, 6, 4 + 8)).astype(np.float32), 2, labels=["a", "b"] * 4)
    cfg = build_config(overrides={"model": {"width": 32, "depth": 1, "heads": 2, "row_hidden": 32},
                                  "geometry_end": 0.5, "batch_size": 8, "steps": 300, "val_every": 1000,
                                  "ckpt_every": 1000, "warmup_steps": 1, "lr": 3e-3, "ema_decay": 0.9, "seed": 0})
    out = tmp_path_factory.mktemp("gf") / "run"
    train(store, cfg, out, quiet=True)
    return out


def test_trained_model_stops_moving_the_geometry_after_its_end(run):
    """Late in the flow the target of the geometry columns is 0, of the values x1 - x0 (norm ~1.4 per element)."""
    sampler = FlowSampler.load(run)
    assert sampler.path == CondOTPath(0.5)
    torch.manual_seed(1)
    x, cond = torch.randn(16, 6, 12), sampler.condition(classes=["a", "b"] * 8)
    with torch.no_grad():
        late = sampler.model(x, torch.full((16,), 0.8), cond)
        early = sampler.model(x, torch.full((16,), 0.2), cond)
    assert late[..., GEOMETRY].abs().mean() < 0.4 * late[..., VALUES].abs().mean()
    assert early[..., GEOMETRY].abs().mean() > late[..., GEOMETRY].abs().mean() * 2


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
