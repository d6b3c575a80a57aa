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


def test_cli_parser_is_light():
    """Building the ``msdf`` parser (every command's ``--help``, argument errors) must not import torch or Open3D:
    those cost seconds, and preprocessing's parent process never needs them."""
    import subprocess
    import sys

    code = ("import sys; from msdf.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'open3d', 'trimesh') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
