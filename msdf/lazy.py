"""Lazy package attributes: ``import msdf`` stays cheap, the heavy module loads on first use of a name."""
from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_attributes(package: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``package`` that imports ``names[attr]`` and returns its ``attr``.

    ``names`` maps an attribute to the module that defines it, e.g. ``{"MSDFStore": "msdf.data.store"}``.
    """

    def __getattr__(name: str) -> Any:
        if name in names:
            return getattr(importlib.import_module(names[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
