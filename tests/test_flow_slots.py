"""Slot template (msdf.flow.slots): k-means template, Hungarian row order, slot embedding, training with slots."""
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from msdf.flow.checkpoint import latest_checkpoint
from msdf.flow.sampler import FlowSampler
from msdf.flow.config import build_config
from msdf.flow.dataset import ArrayStore
from msdf.flow.model import FlowTransformer
from msdf.flow.normalizer import Normalizer
from msdf.flow.slots import fit_template, reorder_rows, slot_order
from msdf.flow.trainer import train

K = 2
D = 4 + K ** 3


def test_template_finds_the_clusters():
    rng = np.random.default_rng(0)
    true = np.array([[-1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float64)
    pts = true[None] + 0.01 * rng.normal(size=(50, 4, 3))  # 50 shapes of 4 rows, one row near each cluster
    tmpl = fit_template(torch.from_numpy(pts), 4, seed=1).double().numpy()
    d = np.linalg.norm(tmpl[:, None] - true[None], axis=-1)
    assert np.sort(d.min(axis=1)).max() < 0.01  # every template point sits on a different cluster
    assert len(set(d.argmin(axis=1))) == 4


def test_slot_order_undoes_a_shuffle_and_keeps_the_rows():
    rng = np.random.default_rng(1)
    template = rng.normal(size=(16, 3))
    shuffle = rng.permutation(16)
    centres = template[shuffle] + 1e-3 * rng.normal(size=(16, 3))
    perm = slot_order(centres, template)
    np.testing.assert_array_equal(shuffle[perm], np.arange(16))  # row perm[i] is the one near template_i
    m = torch.from_numpy(np.concatenate([centres, rng.normal(size=(16, D - 3))], 1)).float()[None]
    out = reorder_rows(m, torch.from_numpy(template).float())
    torch.testing.assert_close(out[0], m[0, torch.from_numpy(perm)])
    # a set: the same rows, another order
    assert sorted(map(tuple, out[0].tolist())) == sorted(map(tuple, m[0].tolist()))


def test_slot_embedding_ties_row_i_to_template_i():
    torch.manual_seed(0)
    m = FlowTransformer(dim=D, width=32, depth=2, heads=4, cond="none", slots=6)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))
        m.slot_embed.template.copy_(torch.randn(6, 3))
    x = torch.randn(1, 6, D)
    perm = torch.tensor([1, 0, 2, 3, 4, 5])
    with torch.no_grad():
        out, out_p = m(x, 0.5), m(x[:, perm], 0.5)
    # swapping two rows moves them to other slots: no longer just a permutation of the output
    assert (out_p - out[:, perm]).abs().max() > 1e-3
    with torch.no_grad():
        m.slot_embed.template.copy_(m.slot_embed.template[perm])  # permute the slots with the rows: equivariant
        torch.testing.assert_close(m(x[:, perm], 0.5), out[:, perm], rtol=1e-5, atol=1e-5)


def test_training_with_slots_saves_the_template_and_orders_rows(tmp_path):
    rng = np.random.default_rng(2)
    anchors = rng.normal(size=(8, 3))
    shapes = []
    for _ in range(12):
        rows = np.concatenate([anchors + 0.01 * rng.normal(size=(8, 3)), rng.uniform(0.1, 0.2, (8, 1)),
                               rng.normal(size=(8, K ** 3))], 1)
        shapes.append(rows[rng.permutation(8)])
    store = ArrayStore(np.stack(shapes).astype(np.float32), K)
    cfg = build_config(overrides={"model": {"width": 32, "depth": 1, "heads": 2, "row_hidden": 32, "slots": True},
                                  "cond": "none", "batch_size": 4, "steps": 2, "val_every": 100, "ckpt_every": 100})
    train(store, cfg, tmp_path / "run", quiet=True)
    folder, _ = latest_checkpoint(tmp_path / "run")
    weights = load_file(str(folder / "weights.safetensors"))
    tmpl = weights["model.slot_embed.template"].double().numpy()
    torch.testing.assert_close(weights["ema.slot_embed.template"], weights["model.slot_embed.template"])
    d = np.linalg.norm(tmpl[:, None] - anchors[None], axis=-1)
    assert d.min(axis=1).max() < 0.05 and len(set(d.argmin(axis=1))) == 8
    sampler = FlowSampler.load(tmp_path / "run")
    torch.testing.assert_close(sampler.model.slot_embed.template, weights["ema.slot_embed.template"])
    # resuming reuses the saved template (the data order of a resumed run equals the original one)
    cfg3 = build_config(overrides={**{k: v for k, v in cfg.to_dict().items() if k != "model"},
                                   "model": cfg.to_dict()["model"], "steps": 3})
    train(store, cfg3, tmp_path / "run", resume=True, quiet=True)
    folder, _ = latest_checkpoint(tmp_path / "run")
    torch.testing.assert_close(load_file(str(folder / "weights.safetensors"))["model.slot_embed.template"],
                               weights["model.slot_embed.template"])


def test_per_slot_normalizer_standardises_each_slot_and_round_trips():
    rng = np.random.default_rng(3)
    # slot i of every shape sits near anchor i; the spread within a slot (0.5) is below the spread of all rows (~3)
    anchors = rng.normal(size=(6, D)) * 3
    x = torch.from_numpy(anchors[None] + 0.5 * rng.normal(size=(40, 6, D))).float()
    x[:, 2, 5] = 7.0  # a constant column of one slot: floored std, stays finite
    norm = Normalizer.per_slot(x)
    assert norm.mean.shape == norm.std.shape == (6, D)
    z = norm.normalize(x)
    keep = torch.ones(6, D, dtype=torch.bool)
    keep[2, 5] = False
    torch.testing.assert_close(z.mean(0)[keep], torch.zeros(int(keep.sum())), atol=1e-4, rtol=0)
    torch.testing.assert_close(z.std(0)[keep], torch.ones(int(keep.sum())), atol=1e-3, rtol=0)
    assert torch.isfinite(z).all() and norm.std[2, 5] > 0.05  # floor: 5% of the column's overall std (> 1)
    assert norm.std[keep].max() < 0.7  # per slot, not the overall spread
    torch.testing.assert_close(norm.denormalize(z), x, atol=1e-5, rtol=0)
    back = Normalizer.from_stats(norm.to_dict())
    torch.testing.assert_close(back.std, norm.std)


def test_slot_normalization_needs_slots():
    with pytest.raises(ValueError, match="normalization"):
        build_config(overrides={"normalization": "slot"})
    cfg = build_config(overrides={"normalization": "slot", "model": {"slots": True}})
    assert cfg.normalization == "slot"
