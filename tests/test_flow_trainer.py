"""Training loop: CFG dropout, OT batches, exact resume, corrupt checkpoints, NaN stop, overfitting, DDP, CLI."""
import dataclasses
import json
import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file
from scipy.optimize import linear_sum_assignment

from msdf.flow import trainer as trainer_mod
from msdf.flow.checkpoint import CheckpointError, latest_checkpoint
from msdf.flow.sampler import FlowSampler
from msdf.flow.condition import Condition
from msdf.flow.config import PRESETS, build_config, load_yaml
from msdf.flow.dataset import ArrayStore
from msdf.flow.solvers import solve
from msdf.flow.trainer import make_batch, train

K = 2
D = 4 + K ** 3


def _store(num=12, n=8, seed=0):
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(num, n, D)).astype(np.float32) * rng.uniform(0.5, 2.0, size=D).astype(np.float32)
    return ArrayStore(m, K, labels=["chair", "table", "lamp"] * (num // 3), captions=None)


def _config(**kw):
    base = {"model": {"width": 32, "depth": 2, "heads": 2, "mlp_ratio": 2.0, "row_hidden": 32}, "batch_size": 4,
            "steps": 4, "warmup_steps": 2, "val_every": 2, "ckpt_every": 2, "log_every": 1, "lr": 1e-3}
    base.update(kw)
    return build_config(overrides=base)


@pytest.mark.parametrize("weight", ["field_weight", "center_weight", "spacing_weight", "space_weight"])
def test_each_auxiliary_loss_reaches_the_optimiser(tmp_path, weight):
    """Same seed, same data: a positive weight of the field / centre / spacing / space loss changes the trained
    weights (Adam's first steps follow the gradient's sign, so only some entries move: compare every tensor
    exactly)."""
    from msdf.flow.field_loss import node_offsets

    k, rng = 3, np.random.default_rng(0)
    shapes = []
    for _ in range(8):  # grids on a plane z = c, values = the plane's SDF at their nodes
        centres = torch.from_numpy(rng.normal(size=(6, 3))).float()
        centres[:, 2] = float(rng.normal())
        values = (centres[:, None, :] + 0.2 * node_offsets(k))[..., 2] - centres[:1, 2]
        shapes.append(torch.cat([centres, torch.full((6, 1), 0.2), values], dim=1))
    store = ArrayStore(torch.stack(shapes).numpy(), k)
    weights = []
    for w in (0.0, 1.0):
        cfg = build_config(overrides={"model": {"width": 32, "depth": 1, "heads": 2, "row_hidden": 32},
                                      "cond": "none", "batch_size": 4, "steps": 3, weight: w, "space_resolution": 64,
                                      "val_every": 100, "ckpt_every": 100, "warmup_steps": 1})
        train(store, cfg, tmp_path / f"w{w}", quiet=True)
        folder, _ = latest_checkpoint(tmp_path / f"w{w}")
        weights.append(load_file(str(folder / "weights.safetensors")))
    assert any(not torch.equal(weights[0][name], weights[1][name]) for name in weights[0])


def test_cfg_dropout_rate_and_ot_within_condition():
    torch.manual_seed(0)
    cfg = _config(p_uncond=0.2, ot_coupling=True)
    b = 4000
    x1 = torch.randn(b, 2, 3)
    labels = torch.arange(b) % 4
    x0, x1_out, t, cond = make_batch(x1, Condition(null=torch.zeros(b, dtype=torch.bool), labels=labels), cfg)
    rate = cond.null.float().mean().item()
    assert abs(rate - 0.2) < 3 * (0.2 * 0.8 / b) ** 0.5 + 1e-3
    assert torch.equal(x1_out, x1) and t.shape == (b,)
    # OT only permutes noise within equal conditions: the noise is a permutation of N(0, I) draws
    assert x0.shape == x1.shape
    cfg0 = _config(p_uncond=0.0)
    _, _, _, c0 = make_batch(x1[:50], Condition(null=torch.zeros(50, dtype=torch.bool), labels=labels[:50]), cfg0)
    assert not c0.null.any()


def test_row_alignment_pairs_each_samples_rows():
    torch.manual_seed(0)
    x1 = torch.randn(6, 32, 5)
    cond = Condition(null=torch.zeros(6, dtype=torch.bool), labels=torch.zeros(6, dtype=torch.long))
    torch.manual_seed(1)
    plain, _, _, _ = make_batch(x1, cond, _config(p_uncond=0.0))
    torch.manual_seed(1)
    aligned, _, _, _ = make_batch(x1, cond, _config(p_uncond=0.0, row_alignment=True))
    assert torch.equal(aligned.sort(dim=1).values, plain.sort(dim=1).values)  # each sample's noise rows, reordered
    assert (x1 - aligned).pow(2).sum() < 0.8 * (x1 - plain).pow(2).sum()


def _weights(run):
    folder, state = latest_checkpoint(run)
    return load_file(str(folder / "weights.safetensors")), state


def test_resume_equals_uninterrupted(tmp_path):
    store = _store()
    full = train(store, _config(steps=3, ckpt_every=100, ot_coupling=True), tmp_path / "a", quiet=True)
    part = train(store, _config(steps=2, ckpt_every=100, ot_coupling=True), tmp_path / "b", quiet=True)
    assert part.step == 2
    resumed = train(store, _config(steps=3, ckpt_every=100, ot_coupling=True), tmp_path / "b", resume=True,
                    quiet=True)
    assert full.step == resumed.step == 3
    wa, sa = _weights(tmp_path / "a")
    wb, sb = _weights(tmp_path / "b")
    assert wa.keys() == wb.keys()
    for key in wa:
        torch.testing.assert_close(wa[key], wb[key], rtol=0, atol=0, msg=key)
    assert sa["progress"]["step"] == sb["progress"]["step"] == 3
    assert (tmp_path / "b" / "loss.png").stat().st_size > 0
    assert list((tmp_path / "b" / "tb").iterdir())


def test_existing_run_needs_resume_and_model_must_match(tmp_path):
    store = _store()
    train(store, _config(steps=1), tmp_path / "r", quiet=True)
    with pytest.raises(trainer_mod.TrainingError, match="--resume"):
        train(store, _config(steps=1), tmp_path / "r", quiet=True)
    bigger = _config(steps=2)
    bigger.model.width = 64
    with pytest.raises(trainer_mod.TrainingError, match="different model"):
        train(store, bigger, tmp_path / "r", resume=True, quiet=True)


def test_corrupt_checkpoint_gives_clear_error(tmp_path):
    run = tmp_path / "r"
    train(_store(), _config(steps=2), run, quiet=True)
    folder, _ = latest_checkpoint(run)
    weights = folder / "weights.safetensors"
    raw = bytearray(weights.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    weights.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="weights.safetensors: checksum mismatch"):
        FlowSampler.load(run)
    (run / "checkpoints" / "latest.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="latest.json: corrupt"):
        train(_store(), _config(steps=3), run, resume=True, quiet=True)
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        FlowSampler.load(tmp_path / "nothing")


def test_nonfinite_loss_stops_and_keeps_last_good(tmp_path, monkeypatch, capsys):
    real = trainer_mod.flow_matching_loss
    calls = {"n": 0}

    def flaky(pred, target, weight=None, row_weight=None):
        calls["n"] += 1
        loss = real(pred, target, weight, row_weight)
        return loss * float("nan") if calls["n"] == 4 else loss

    monkeypatch.setattr(trainer_mod, "flow_matching_loss", flaky)
    run = tmp_path / "r"
    result = train(_store(), _config(steps=10, ckpt_every=2, val_every=100), run)
    assert result.status == "nonfinite" and result.step == 3
    assert "non-finite loss" in capsys.readouterr().out
    folder, state = latest_checkpoint(run)
    assert state["progress"]["step"] == 2 and folder.name == "step-0000002"
    assert all(torch.isfinite(v).all() for v in load_file(str(folder / "weights.safetensors")).values())


def test_minutes_budget_stops_and_saves(tmp_path):
    result = train(_store(), _config(steps=10_000, minutes=1e-4), tmp_path / "r", quiet=True)
    assert result.status == "done" and result.step < 10_000
    assert latest_checkpoint(tmp_path / "r")[1]["progress"]["step"] == result.step


class _StepClock:
    """A stand-in for the trainer's ``time`` module whose clock advances a fixed amount per reading, so a ``--minutes``
    budget ends after a known number of steps however busy the machine is."""

    def __init__(self, tick: float):
        self.now, self.tick = 0.0, tick

    def monotonic(self) -> float:
        self.now += self.tick
        return self.now


def test_cosine_schedule_follows_the_minutes_budget(tmp_path, monkeypatch):
    """With a clock budget the cosine reaches its floor at the deadline, not at ``steps`` (which is never reached)."""
    cfg = _config(steps=10_000, schedule="cosine", min_lr_ratio=0.1, warmup_steps=1)
    assert trainer_mod.learning_rate(cfg, 5, budget_used=1.0) == pytest.approx(1e-4)
    assert trainer_mod.learning_rate(cfg, 5, budget_used=0.5) == pytest.approx(1e-3 * 0.55)
    assert trainer_mod.learning_rate(cfg, 5) > 0.99e-3  # steps-based progress only: still at the top
    assert trainer_mod.learning_rate(_config(steps=10_000, schedule="constant"), 5, budget_used=0.9) == 1e-3
    timed = _config(steps=100_000, schedule="cosine", min_lr_ratio=0.1, warmup_steps=1, minutes=0.05,
                    val_every=10_000, ckpt_every=10_000)
    monkeypatch.setattr(trainer_mod, "time", _StepClock(tick=0.02))  # 3 s budget: about 75 steps
    train(_store(), timed, tmp_path / "r", quiet=True)
    lrs = [h["lr"] for h in latest_checkpoint(tmp_path / "r")[1]["progress"]["history"] if "lr" in h]
    assert len(lrs) > 20 and lrs[0] > 0.9e-3 and lrs[-1] < 0.2e-3 and lrs == sorted(lrs, reverse=True)


def test_progress_bar_counts_the_minutes_budget_in_seconds(tmp_path, monkeypatch, capsys):
    """A --minutes run's bar runs over the budget's seconds (its ETA is the deadline), a step run's over steps."""
    timed = _config(steps=100_000, minutes=0.05, val_every=10_000, ckpt_every=10_000)
    monkeypatch.setattr(trainer_mod, "time", _StepClock(tick=0.02))  # 3 s budget
    train(_store(), timed, tmp_path / "timed", quiet=False)
    err = capsys.readouterr().err
    assert "train (budget)" in err and "3/3 [" in err and "100000" not in err
    train(_store(), _config(steps=4), tmp_path / "steps", quiet=False)
    assert "4/4 [" in capsys.readouterr().err


@pytest.mark.parametrize("prediction", ["velocity", "data"])
def test_overfit_two_shapes_and_sampler_contract(tmp_path, prediction):
    """A class-conditional model memorises 2 shapes; Euler sampling from noise returns each class's shape, whether
    the network outputs the velocity or the clean estimate (the sampler reads which from the run)."""
    rng = np.random.default_rng(3)
    shapes = rng.normal(size=(2, 4, D)).astype(np.float32)
    store = ArrayStore(np.tile(shapes, (4, 1, 1)), K, labels=["a", "b"] * 4)
    cfg = _config(steps=500, batch_size=8, lr=5e-3, warmup_steps=20, ckpt_every=1000, val_every=1000,
                  val_fraction=0.0, p_uncond=0.1, ema_decay=0.9, log_every=50,
                  model={"width": 64, "depth": 2, "heads": 4, "mlp_ratio": 2.0, "row_hidden": 64,
                         "prediction": prediction})
    train(store, cfg, tmp_path / "r", quiet=True)
    s = FlowSampler.load(tmp_path / "r", "cpu")
    assert s.model.prediction == prediction
    assert (s.n, s.k, s.dim, s.class_names) == (4, K, D, ["a", "b"])
    assert s.config["cond"] == "class" and s.run_dir == tmp_path / "r"
    cond = s.condition(classes=["a", "a", "b", "b"])
    x = torch.randn(4, s.n, s.dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        x = solve(lambda xt, t: s.velocity(xt, t, cond, guidance=1.0), x, "euler", 50).x
    out = s.denormalize(x).numpy()
    # rows are a set, so compare up to a row permutation (optimal matching of rows)
    err = np.array([[_set_distance(o, shape) for shape in shapes] for o in out])  # (4, 2)
    scale = np.abs(shapes - shapes.mean(axis=(0, 1))).mean()
    # ArrayStore order is a, b, a, b ... so shapes[0] is class "a"
    own, other = np.r_[err[:2, 0], err[2:, 1]], np.r_[err[:2, 1], err[2:, 0]]
    # noise (or the wrong class) is ~1.3 * scale away; memorised samples land near their own shape
    assert own.mean() < 0.3 * scale and (own < 0.5 * other).all(), (err, scale)
    assert s.condition(prompts=["two a shapes", ""]).null.tolist() == [False, True]
    with pytest.raises(ValueError, match="unknown class"):
        s.condition(classes=["sofa"])


def _set_distance(a, b):
    """Mean absolute difference of two (n, D) row sets under the best row matching."""
    cost = np.abs(a[:, None, :] - b[None, :, :]).mean(-1)
    r, c = linear_sum_assignment(cost)
    return cost[r, c].mean()


def _record_training(patch, sink: dict) -> None:
    """Make :func:`train` record each step's batch (x0, x1, t, cond) and the model it trains into ``sink``."""
    original = trainer_mod.make_batch

    def make_batch(x1, cond, config):
        out = original(x1, cond, config)
        sink.setdefault("batches", []).append(out)
        return out

    class RecordingEMA(trainer_mod.EMA):
        def __init__(self, model, decay):
            super().__init__(model, decay)
            sink["model"] = model

    patch(trainer_mod, "make_batch", make_batch)
    patch(trainer_mod, "EMA", RecordingEMA)


def _ddp_worker(rank, world, port, run, result_dir):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank), OMP_NUM_THREADS="1")
    torch.set_num_threads(1)
    sink: dict = {}
    _record_training(setattr, sink)
    res = train(_store(), _config(steps=3, ckpt_every=100, bf16=False), run, quiet=True)  # spawned: no conftest
    # plain tensors only, so the parent reads the file with weights_only=True
    batches = [(x0, x1, t, {k: v for k, v in vars(c).items() if v is not None}) for x0, x1, t, c in sink["batches"]]
    torch.save({"step": res.step, "status": res.status, "batches": batches,
                "weights": {k: v.detach().clone() for k, v in sink["model"].state_dict().items()}},
               Path(result_dir, f"rank{rank}.pt"))


def test_ddp_ranks_agree_and_equal_one_process_on_the_concatenated_batch(tmp_path, monkeypatch):
    """Both ranks end with identical weights, equal to one process trained on each step's two rank batches
    concatenated (same initial weights: DDP broadcasts rank 0's). A DDP that never averaged gradients fails both."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_ddp_worker, args=(2, port, str(tmp_path / "r"), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    for r in ranks:
        r["batches"] = [(x0, x1, t, Condition(**c)) for x0, x1, t, c in r["batches"]]
    assert [(r["step"], r["status"]) for r in ranks] == [(3, "done"), (3, "done")]
    folder, state = latest_checkpoint(tmp_path / "r")
    assert state["progress"]["samples_seen"] == 3 * 4 * 2
    assert (folder / "rng-rank0.pt").exists() and (folder / "rng-rank1.pt").exists()
    assert not torch.equal(ranks[0]["batches"][0][1], ranks[1]["batches"][0][1])  # the ranks saw different data
    for name, w in ranks[0]["weights"].items():
        assert torch.equal(w, ranks[1]["weights"][name]), name

    joined = [tuple(torch.cat([a[i], b[i]]) for i in range(3)) + (Condition.cat([a[3], b[3]]),)
              for a, b in zip(ranks[0]["batches"], ranks[1]["batches"])]
    replay = iter(joined)
    sink: dict = {}
    _record_training(monkeypatch.setattr, sink)
    monkeypatch.setattr(trainer_mod, "make_batch", lambda x1, cond, config: next(replay))
    single = train(_store(), _config(steps=3, ckpt_every=100, bf16=False), tmp_path / "single", quiet=True)
    assert single.step == 3
    for name, w in sink["model"].state_dict().items():
        torch.testing.assert_close(ranks[0]["weights"][name], w, rtol=1e-5, atol=1e-6, msg=name)


def test_locality_trains_opens_its_distance_bias_and_comes_back_from_the_run(tmp_path):
    """Distance-biased attention: training moves each block's zero-initialised distance map, and the sampler
    rebuilds the model with it from the run."""
    cfg = _config(steps=30, warmup_steps=1, ckpt_every=1000, val_every=1000, val_fraction=0.0, bf16=False,
                  model={"width": 32, "depth": 2, "heads": 2, "mlp_ratio": 2.0, "row_hidden": 32, "locality": True})
    train(_store(), cfg, tmp_path / "r", quiet=True)
    s = FlowSampler.load(tmp_path / "r", "cpu")
    assert s.model.locality
    assert all(blk.attn.locality.weight.abs().sum() > 0 for blk in s.model.blocks)
    x = torch.randn(2, s.n, s.dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = solve(lambda xt, t: s.velocity(xt, t, s.condition(classes=["chair", "lamp"]), guidance=2.0), x,
                    "euler", 4).x
    assert torch.isfinite(out).all()


def test_data_prediction_needs_the_plain_path():
    """The network's clean estimate converts to a velocity only on the plain CondOT path (one clock for all
    columns); a staggered path or an unknown target is refused by name."""
    assert _config(model={"prediction": "data"}).model.prediction == "data"
    for bad in ({"model": {"prediction": "data"}, "geometry_end": 0.8}, {"model": {"prediction": "data"},
                                                                          "values_end": 0.8},
                {"model": {"prediction": "noise"}}):
        with pytest.raises(ValueError, match="model.prediction"):
            _config(**bad)


def test_printed_preset_config_round_trips(tmp_path, capsys):
    from msdf.cli import main

    for name in PRESETS:
        assert main(["train", "--preset", name, "--print-config"]) == 0
        path = tmp_path / f"{name}.yaml"
        path.write_text(capsys.readouterr().out)
        assert build_config(yaml_path=path) == build_config(name)
    with pytest.raises(ValueError, match="unknown training option 'lrr'"):
        build_config(overrides={"lrr": 1})
    with pytest.raises(ValueError, match="unknown preset"):
        build_config("gpu-huge")


def test_cpu_medium_is_cpu_small_with_a_larger_model():
    small, medium = build_config("cpu-small"), build_config("cpu-medium")
    assert (medium.model.depth, medium.model.width, medium.model.row_hidden) == (6, 192, 192)
    assert medium.model.width % medium.model.heads == 0
    assert medium.bf16 and not small.bf16  # cpu-medium's steps fit the demo's budget in bf16 (msdf.flow.precision)
    assert medium.train_rows == 128 and small.train_rows == 0  # row subsets: twice the steps (msdf.flow.row_subset)
    assert dataclasses.replace(medium, model=small.model, bf16=False, train_rows=0) == small  # the rest: cpu-small's


def test_cli_train_on_a_real_store(tmp_path):
    from msdf.cli import main
    from msdf.data.writer import StoreWriter

    store = _store(num=9, n=8)
    root = tmp_path / "store"
    with StoreWriter(root, n=8, k=K) as w:
        for i in range(len(store)):
            w.add({"id": f"s{i}", "source": f"s{i}.obj", "label": store.labels[i], "caption": f"a {store.labels[i]}"},
                  store[i]["msdf"])
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text("model: {width: 32, depth: 1, heads: 2, row_hidden: 32}\nbatch_size: 3\nwarmup_steps: 1\n")
    run = tmp_path / "run"
    assert main(["train", "--data", str(root), "--config", str(cfg), "--steps", "2", "--out", str(run),
                 "--quiet"]) == 0
    assert main(["train", "--data", str(root), "--steps", "3", "--out", str(run), "--resume", "--quiet"]) == 0
    assert latest_checkpoint(run)[1]["progress"]["step"] == 3
    assert main(["train", "--data", str(tmp_path / "missing"), "--out", str(run)]) == 2


def test_resolve_device_gives_cuda_an_index(monkeypatch):
    """A bare ``cuda`` must reach torch.cuda.set_device with an index (torch rejects ``torch.device('cuda')``)."""
    from msdf.flow.trainer import TrainingError, resolve_device

    chosen = []

    def set_device(dev):
        if isinstance(dev, torch.device) and dev.index is None:
            raise ValueError("Expected a torch.device with a specified index")
        chosen.append(dev)

    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "set_device", set_device)
    assert resolve_device("cuda") == torch.device("cuda", 0) and chosen == [torch.device("cuda", 0)]
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert resolve_device("cuda") == torch.device("cuda", 3)
    assert resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(TrainingError, match="CUDA is not available"):
        resolve_device("cuda")
