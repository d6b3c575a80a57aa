"""Offline sentence encoder and the caption-embedding cache."""
import os

import pytest
import torch

from msdf.flow import text as text_mod
from msdf.flow.text import CaptionCache, TextEncoder, caption_key


@pytest.fixture(scope="module")
def encoder():
    return TextEncoder()


def test_encoder_loads_offline_and_separates_meanings(encoder):
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    emb = encoder.encode(["a wooden chair with four legs", "a chair with armrests", "a tall glass bottle"])
    assert emb.shape == (3, 384) and emb.dtype == torch.float32
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(3))
    sim = emb @ emb.T
    assert sim[0, 1] > sim[0, 2] + 0.1


def test_cache_encodes_each_caption_once(tmp_path, encoder, monkeypatch):
    loads = []

    def fake_ctor(name, device="cpu"):
        loads.append(name)
        return encoder

    monkeypatch.setattr(text_mod, "TextEncoder", fake_ctor)
    path = tmp_path / "emb.safetensors"
    caps = ["a lamp", "a round table", "a lamp"]
    first = CaptionCache(path).embed(caps)
    assert loads == ["all-MiniLM-L6-v2"] and path.exists()
    torch.testing.assert_close(first[0], first[2])
    again = CaptionCache(path).embed(["a round table", "a lamp"])
    assert loads == ["all-MiniLM-L6-v2"]  # served from the file, no encoder load
    torch.testing.assert_close(again, first[[1, 0]])
    assert caption_key("m1", "x") != caption_key("m2", "x")


def test_corrupt_cache_and_bad_model_errors(tmp_path):
    bad = tmp_path / "emb.safetensors"
    bad.write_bytes(b"\x00" * 40)
    with pytest.raises(ValueError, match="emb.safetensors: corrupt caption-embedding cache"):
        CaptionCache(bad)
    with pytest.raises(RuntimeError, match="cannot load sentence encoder"):
        TextEncoder(str(tmp_path / "no-such-model"))


def test_text_conditional_training_and_sampling(tmp_path, encoder, monkeypatch):
    import numpy as np

    from msdf.flow.sampler import FlowSampler
    from msdf.flow.config import build_config
    from msdf.flow.dataset import ArrayStore
    from msdf.flow.trainer import train

    monkeypatch.setattr(text_mod, "TextEncoder", lambda name, device="cpu": encoder)
    rng = np.random.default_rng(0)
    caps = ["a tall lamp", "a round table", "a chair with armrests", "a short lamp"] * 2
    store = ArrayStore(rng.normal(size=(8, 5, 12)).astype(np.float32), 2, captions=caps)
    cfg = build_config(overrides={"cond": "text", "steps": 2, "batch_size": 4, "warmup_steps": 1,
                                  "model": {"width": 32, "depth": 1, "heads": 2, "row_hidden": 32}})
    train(store, cfg, tmp_path / "run", quiet=True)
    assert (tmp_path / "run" / "caption-embeddings.all-MiniLM-L6-v2.safetensors").exists()  # no store root
    s = FlowSampler.load(tmp_path / "run")
    cond = s.condition(prompts=["a lamp", ""])
    assert cond.text.shape == (2, 384) and cond.null.tolist() == [False, True]
    assert s.velocity(torch.randn(2, 5, 12), 0.5, cond, guidance=2.0).shape == (2, 5, 12)
    with pytest.raises(ValueError, match="text-conditional"):
        s.condition(classes=["lamp"])

    def no_encoder(name, device="cpu"):
        raise AssertionError("the encoder must not load for a cached prompt")

    monkeypatch.setattr(text_mod, "TextEncoder", no_encoder)  # "a lamp" is now in RUN's cache
    torch.testing.assert_close(FlowSampler.load(tmp_path / "run").condition(prompts=["a lamp"]).text, cond.text[:1])
    monkeypatch.setattr(text_mod, "TextEncoder", lambda name, device="cpu": encoder)
    cache_file = tmp_path / "run" / "caption-embeddings.all-MiniLM-L6-v2.safetensors"
    before = cache_file.read_bytes()
    monkeypatch.setattr(text_mod.os, "access", lambda path, mode: False)  # a read-only run folder
    assert FlowSampler.load(tmp_path / "run").condition(prompts=["a new prompt"]).text.shape == (1, 384)
    assert cache_file.read_bytes() == before
    no_caps = ArrayStore(rng.normal(size=(4, 5, 12)).astype(np.float32), 2)
    with pytest.raises(Exception, match="no caption"):
        train(no_caps, cfg, tmp_path / "run2", quiet=True)
