"""Mixed precision: bf16 autocast only where it is native, and training runs its forward pass under it."""
import numpy as np
import torch

from msdf.flow import precision
from msdf.flow.config import PRESETS, build_config
from msdf.flow.dataset import ArrayStore
from msdf.flow.model import FlowTransformer
from msdf.flow.trainer import train

CPU = torch.device("cpu")


def test_autocast_is_bf16_where_native_and_float32_elsewhere(monkeypatch):
    a, b = torch.randn(4, 8), torch.randn(8, 3)
    monkeypatch.setattr(precision, "native_bf16", lambda device: True)
    with precision.autocast(CPU, True):
        assert (a @ b).dtype == torch.bfloat16
    with precision.autocast(CPU, False):
        assert (a @ b).dtype == torch.float32
    monkeypatch.setattr(precision, "native_bf16", lambda device: False)
    with precision.autocast(CPU, True):  # emulated bf16 would be slower than float32: stay in float32
        assert (a @ b).dtype == torch.float32


def test_native_bf16_follows_the_cpu_probes(monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    assert not precision.native_bf16(CPU)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert precision.native_bf16(CPU)
    assert not precision.native_bf16(torch.device("meta"))


def _forward_dtypes(tmp_path, monkeypatch, bf16: bool) -> set:
    """Train 2 steps with ``bf16`` on a CPU that claims native bf16; the dtypes of the model's outputs (no
    validation split: validation runs the EMA model outside autocast)."""
    monkeypatch.setattr(precision, "native_bf16", lambda device: True)
    seen: set = set()
    original = FlowTransformer.forward

    def spy(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        seen.add(out.dtype)
        return out

    monkeypatch.setattr(FlowTransformer, "forward", spy)
    m = np.random.default_rng(0).normal(size=(8, 6, 4 + 8)).astype(np.float32)
    cfg = build_config(overrides={"model": {"width": 32, "depth": 1, "heads": 2, "row_hidden": 32}, "cond": "none",
                                  "batch_size": 4, "steps": 2, "val_every": 100, "ckpt_every": 100,
                                  "warmup_steps": 1, "val_fraction": 0.0, "bf16": bf16})
    result = train(ArrayStore(m, 2), cfg, tmp_path / f"bf16{bf16}", quiet=True)
    assert result.status == "done" and np.isfinite(result.loss)
    return seen


def test_training_forward_runs_in_bf16_only_when_asked(tmp_path, monkeypatch):
    assert _forward_dtypes(tmp_path, monkeypatch, True) == {torch.bfloat16}
    assert _forward_dtypes(tmp_path, monkeypatch, False) == {torch.float32}


def test_cpu_small_trains_in_float32():
    """cpu-small's measured rows (the ablation, the demo) were trained in float32; the preset keeps them so."""
    assert PRESETS["cpu-small"]["bf16"] is False
    assert build_config("cpu-small").bf16 is False
