"""Row subsets (msdf.flow.row_subset): which rows a sample keeps, the config's rules and a run trained on subsets."""
import numpy as np
import pytest
import torch
from toy_flows import train_random_run

from msdf.flow.config import build_config
from msdf.flow.model import FlowTransformer
from msdf.flow.row_subset import row_subset
from msdf.flow.sampler import FlowSampler
from msdf.generate import make_solver


def _labelled(b: int, n: int, d: int = 3) -> torch.Tensor:
    """(b, n, d) rows whose first column names the row (``100 b + i``), so a kept row can be traced back."""
    x = torch.randn(b, n, d)
    x[..., 0] = (100 * torch.arange(b)[:, None] + torch.arange(n)[None]).float()
    return x


def test_each_sample_keeps_m_distinct_rows_of_its_own():
    x = _labelled(4, 10)
    out = row_subset(x, 6, torch.Generator().manual_seed(0))
    assert out.shape == (4, 6, 3)
    for b in range(4):
        ids = out[b, :, 0].long()
        assert len(set(ids.tolist())) == 6 and bool(((ids // 100) == b).all())  # no repeats, no other sample's rows
        torch.testing.assert_close(out[b], x[b, ids % 100])  # whole rows, unchanged
    assert len({tuple(sorted(out[b, :, 0].long().remainder(100).tolist())) for b in range(4)}) > 1  # per sample


def test_every_row_is_kept_equally_often():
    x = _labelled(1, 8)
    gen = torch.Generator().manual_seed(1)
    counts = np.zeros(8)
    for _ in range(2000):
        counts[row_subset(x, 2, gen)[0, :, 0].long().numpy()] += 1
    np.testing.assert_allclose(counts / 2000, 2 / 8, atol=0.04)  # the first m rows would give 1, 1, 0, ...


def test_seeded_draws_repeat_and_bad_sizes_are_refused():
    x = _labelled(2, 5)
    torch.testing.assert_close(row_subset(x, 3, torch.Generator().manual_seed(7)),
                               row_subset(x, 3, torch.Generator().manual_seed(7)))
    assert row_subset(x, 5) is x
    for m in (0, 6):
        with pytest.raises(ValueError, match="row subset"):
            row_subset(x, m)


def test_config_refuses_slots_and_single_rows_and_takes_the_space_loss():
    assert build_config(overrides={"train_rows": 128}).train_rows == 128
    assert build_config(overrides={"train_rows": 128, "space_weight": 1.0}).space_weight == 1.0
    for bad in ({"train_rows": 1}, {"train_rows": 4, "model": {"slots": True}}):
        with pytest.raises(ValueError, match="train_rows"):
            build_config(overrides=bad)


def test_training_shows_the_model_m_rows_and_sampling_makes_all_n(tmp_path, monkeypatch):
    seen = []
    forward = FlowTransformer.forward

    def spy(self, x, *args, **kwargs):
        seen.append(x.shape[1])
        return forward(self, x, *args, **kwargs)

    monkeypatch.setattr(FlowTransformer, "forward", spy)
    train_random_run(tmp_path / "run", train_rows=4)
    assert seen[:3] == [4, 4, 4]  # the three optimiser steps; the store's shapes have 6 rows
    sampler = FlowSampler.load(tmp_path / "run")
    matrices, _ = sampler.sample(sampler.condition(classes=["a"]), [0], make_solver("midpoint", 2), quiet=True)
    assert matrices.shape == (1, 6, 12)
    seen.clear()
    train_random_run(tmp_path / "all", train_rows=7)  # a cap: shapes of 6 rows train on all 6
    assert seen[:3] == [6, 6, 6]


def test_the_command_line_sets_train_rows(capsys):
    from msdf.cli import main

    assert main(["train", "--preset", "cpu-small", "--train-rows", "96", "--print-config"]) == 0
    assert "train_rows: 96" in capsys.readouterr().out


def test_the_space_loss_judges_the_rows_of_the_subset(tmp_path, monkeypatch):
    import msdf.flow.trainer as trainer

    seen = []
    real = trainer.space_loss

    def spy(pred_raw, *args, **kwargs):
        seen.append(pred_raw.shape[1])
        return real(pred_raw, *args, **kwargs)

    monkeypatch.setattr(trainer, "space_loss", spy)
    train_random_run(tmp_path / "run", train_rows=4, space_weight=1.0)
    assert seen == [4, 4, 4]  # one call per optimiser step, on the 4 drawn rows of the 6
