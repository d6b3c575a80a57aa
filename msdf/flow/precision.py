"""Mixed precision: where training autocasts its matmuls to bfloat16.

bfloat16 keeps float32's exponent range, so the flow-matching loss needs no scaling; only the model's forward pass
runs under autocast, and the losses after it are computed in float32 (the bf16 prediction is promoted). It pays only
where the hardware multiplies bfloat16 natively: CUDA GPUs that report bf16 support, and CPUs with AVX512-BF16 or AMX
tiles (oneDNN's bf16 kernels). On other CPUs torch would emulate it, slower than float32, so :func:`autocast` leaves
them in float32.
"""
from __future__ import annotations

import contextlib

import torch


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 natively (CUDA with bf16 support; a CPU with AVX512-BF16 or AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)
    return False


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """``torch.autocast(device.type, bfloat16)`` when ``enabled`` and :func:`native_bf16`, else a no-op context."""
    if enabled and native_bf16(device):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
