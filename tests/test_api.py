"""The top-level Python API: ``msdf.encode``/``msdf.decode``/``msdf.MosaicSDF`` stay the functions and type."""
from __future__ import annotations

import importlib

import msdf


def test_public_names_are_callables_even_after_submodule_imports() -> None:
    importlib.import_module("msdf.encoder")
    importlib.import_module("msdf.decoder")
    importlib.import_module("msdf.commands.encode")
    importlib.import_module("msdf.commands.decode")
    assert msdf.encode.__name__ == "encode" and callable(msdf.encode)
    assert msdf.decode.__name__ == "decode" and callable(msdf.decode)
    assert msdf.MosaicSDF.__name__ == "MosaicSDF"
    for name in ("to_matrix", "from_matrix", "save", "load", "sdf"):
        assert callable(getattr(msdf.MosaicSDF, name))
