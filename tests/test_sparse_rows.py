"""Sparse-row loss weights (msdf.flow.sparse_rows): chains of grids weigh more than sheets, and each row keeps its
own weight through a row subset into the flow-matching loss."""
import pytest
import torch
from toy_flows import train_random_run

from msdf.flow.path import flow_matching_loss
from msdf.flow.sampler import FlowSampler
from msdf.flow.sparse_rows import sparse_row_weights


def _table(values: int = 8) -> torch.Tensor:
    """A raw (1, 100 + 20, 4 + values) matrix: a 10 x 10 sheet of centres (the top) and a 20-grid chain below it
    (a leg), spacing 0.1, every half-width 0.05."""
    g = torch.arange(10) * 0.1
    top = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    top = torch.stack([top[:, 0], torch.ones(100), top[:, 1]], -1)
    leg = torch.stack([torch.full((20,), 0.45), 0.9 - 0.1 * torch.arange(20), torch.full((20,), 0.45)], -1)
    raw = torch.zeros(1, 120, 4 + values)
    raw[0, :, :3] = torch.cat([top, leg])
    raw[0, :, 3] = 0.05
    return raw


def test_a_chain_of_grids_weighs_more_than_a_sheet():
    w = sparse_row_weights(_table(), neighbours=16, power=1.0)[0]
    assert w.mean().item() == pytest.approx(1.0, abs=1e-5)
    top, leg = w[:100], w[100:]
    # the 16th neighbour: about 0.1 sqrt(16 / pi) = 0.23 away on the sheet, up to 0.1 * 16 away along the chain
    assert leg[5:15].min() > 2 * top.median() and leg.mean() > 2 * top.mean()
    assert torch.allclose(sparse_row_weights(_table(), 16, 0.0), torch.ones(1, 120))
    half = sparse_row_weights(_table(), 16, 0.5)[0]
    assert 1.0 < half[100:].mean() < w[100:].mean()  # gamma sets how strongly
    floored = sparse_row_weights(_table(), 16, 1.0, floor=1.0)[0]
    assert floored.min().item() == pytest.approx(1.0) and torch.equal(floored[100:], w[100:].clamp_min(1.0))
    assert (floored[:100] >= w[:100]).all() and (floored[:100] > w[:100]).any()  # the sheet rows are raised to 1
    with pytest.raises(ValueError, match="sparse_neighbours"):
        sparse_row_weights(_table(), 120, 1.0)


def test_the_loss_weights_each_row_by_its_own_weight():
    pred, target = torch.zeros(1, 2, 3), torch.ones(1, 2, 3)
    assert flow_matching_loss(pred, target, row_weight=torch.tensor([[3.0, 1.0]])).item() == pytest.approx(2.0)


def test_each_row_carries_its_weight_through_a_row_subset(tmp_path, monkeypatch):
    import msdf.flow.trainer as trainer

    batches, weights = [], []
    real_batch, real_loss = trainer.make_batch, trainer.flow_matching_loss
    # stand-in weights a row can be recognised by: its own first SDF value
    monkeypatch.setattr(trainer, "sparse_row_weights", lambda raw, k, g, f: raw[..., 4].clone())

    def batch_spy(x1, *args, **kwargs):
        batches.append(x1.clone())
        return real_batch(x1, *args, **kwargs)

    def loss_spy(pred, target, weight=None, row_weight=None):
        weights.append(row_weight)
        return real_loss(pred, target, weight, row_weight)

    monkeypatch.setattr(trainer, "make_batch", batch_spy)
    monkeypatch.setattr(trainer, "flow_matching_loss", loss_spy)
    run = train_random_run(tmp_path / "run", train_rows=4, sparse_weight=1.0, sparse_neighbours=2)
    sampler = FlowSampler.load(run)
    weights = [w for w in weights if w is not None]  # the final validation loss is unweighted
    assert len(batches) == 3 and len(weights) == 3
    for x1, w in zip(batches, weights):
        assert x1.shape == (4, 4, 12) and w.shape == (4, 4)
        torch.testing.assert_close(w, sampler.denormalize(x1)[..., 4], rtol=1e-4, atol=1e-4)
