"""torch.compile for training: compiled where a C++ compiler exists, eager with a warning where none does."""
import numpy as np
import pytest
import torch

from msdf.flow import compiled, trainer
from msdf.flow.config import build_config
from msdf.flow.dataset import ArrayStore

CPU = torch.device("cpu")


def test_compile_model_compiles_where_a_compiler_exists(monkeypatch):
    net = torch.nn.Linear(3, 2)
    monkeypatch.setattr(compiled, "cpu_compiler", lambda: "g++")
    assert isinstance(compiled.compile_model(net, CPU), torch._dynamo.eval_frame.OptimizedModule)


def test_compile_model_falls_back_to_eager_without_a_compiler(monkeypatch):
    net = torch.nn.Linear(3, 2)
    monkeypatch.setattr(compiled, "cpu_compiler", lambda: None)
    with pytest.warns(RuntimeWarning, match="C\\+\\+ compiler"):
        assert compiled.compile_model(net, CPU) is net


def test_training_compiles_only_when_asked(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(trainer, "compile_model", lambda net, device: calls.append(device) or net)
    m = np.random.default_rng(0).normal(size=(8, 6, 12)).astype(np.float32)
    for flag in (False, True):
        cfg = build_config(overrides={"model": {"width": 32, "depth": 1, "heads": 2, "row_hidden": 32},
                                      "cond": "none", "batch_size": 4, "steps": 1, "val_every": 100,
                                      "ckpt_every": 100, "warmup_steps": 1, "compile": flag})
        assert trainer.train(ArrayStore(m, 2), cfg, tmp_path / str(flag), quiet=True).status == "done"
    assert calls == [CPU]
