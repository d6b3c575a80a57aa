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
