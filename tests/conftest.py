"""Suite-wide fixtures."""
import pytest
import torch


@pytest.fixture(autouse=True)
def float32_cpu(monkeypatch):
    """Every test sees a CPU without native bf16, so training runs in float32 on every machine and the exact
    comparisons of the suite (resume, DDP, loss ablations) do not depend on the CPU's instruction set.
    ``tests/test_precision.py`` patches the probes or :func:`msdf.flow.precision.native_bf16` itself."""
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        monkeypatch.setattr(torch.cpu, probe, lambda: False, raising=False)
