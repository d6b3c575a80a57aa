"""``torch.compile`` for training, where it can build its kernels.

On the CPU, inductor writes C++ kernels and needs a C++ compiler (``$CXX`` or ``g++`` on PATH); without one the
compiled model would fail at its first call, minutes into a job. :func:`compile_model` checks first and falls back
to the eager model with a warning that says why. ``bench/bench_precision.py`` measures what compiling buys.
"""
from __future__ import annotations

import warnings

import torch


def cpu_compiler() -> str | None:
    """The C++ compiler inductor would use on this machine, or ``None`` when it finds none."""
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        return get_cpp_compiler()
    except Exception:  # inductor raises its own InvalidCxxCompiler (or fails to import) when there is none
        return None


def compile_model(net: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``torch.compile(net)``; on a CPU without a C++ compiler, ``net`` itself and a warning."""
    if device.type == "cpu" and cpu_compiler() is None:
        warnings.warn("compile: torch.compile on the CPU needs a C++ compiler ($CXX or g++) and none was found; "
                      "training runs the eager model", RuntimeWarning, stacklevel=2)
        return net
    return torch.compile(net)
