"""Device names: the one place where ``"auto"`` becomes ``cuda`` (when a GPU is available) or ``cpu``.

Every ``--device`` option and every ``device=`` argument of the msdf API goes through :func:`torch_device`.
``viscogrid`` (a leaf library) takes explicit devices only; its command line (:mod:`msdf.visco_cli`) resolves
``auto`` here.
"""
from __future__ import annotations

import torch


def torch_device(device: str | torch.device = "cpu") -> torch.device:
    """``"auto"`` -> ``cuda`` if available else ``cpu``; anything else -> ``torch.device(device)``.

    >>> torch_device("cpu")
    device(type='cpu')
    >>> torch_device("auto").type in ("cpu", "cuda")
    True
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)
