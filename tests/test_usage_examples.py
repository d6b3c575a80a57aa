"""Every public entry point of the API carries a usage example in its docstring, and the example runs (doctest).

``run_dir`` (a tiny class-conditional run with classes chair/table) and ``store_dir`` (a two-shape store) are given
to the examples that need a trained run or a preprocessed store.
"""
from __future__ import annotations

import doctest
import importlib
import shutil
from pathlib import Path

import pytest

from toy_flows import sphere_matrices

ROOT = Path(__file__).resolve().parents[1]
API = ["msdf.encode", "msdf.decode", "msdf.MosaicSDF", "msdf.MSDFStore", "msdf.FlowSampler",
       "viscogrid.reconstruct"]
HELPER_MODULES = ["msdf.atomic", "msdf.device", "msdf.rows", "viscogrid.pointio"]


@pytest.fixture(scope="module")
def globs(tmp_path_factory) -> dict:
    from msdf.cli import main
    from msdf.flow.config import TrainConfig
    from msdf.flow.dataset import ArrayStore
    from msdf.flow.trainer import train

    root = tmp_path_factory.mktemp("examples")
    store = ArrayStore(sphere_matrices([0.4] * 6 + [0.8] * 6, n=32, k=3, half_width=0.3).numpy(), 3,
                       labels=["chair"] * 6 + ["table"] * 6)
    cfg = TrainConfig.from_dict({"model": {"width": 32, "depth": 1, "heads": 2, "mlp_ratio": 2.0, "row_hidden": 32},
                                 "steps": 5, "batch_size": 4, "warmup_steps": 2, "val_every": 1000,
                                 "ckpt_every": 1000, "log_every": 10, "val_fraction": 0.0})
    train(store, cfg, root / "run", quiet=True)
    meshes = root / "meshes"
    meshes.mkdir()
    for name in ("cactus.off", "lemon.obj"):
        shutil.copy(ROOT / "tests/data/watertight" / name, meshes / name)
    assert main(["preprocess", str(meshes), "-o", str(root / "store"), "--grids", "16", "--k", "3",
                 "--refine-steps", "0", "--workers", "1", "--quiet"]) == 0
    return {"run_dir": root / "run", "store_dir": root / "store"}


def _resolve(name: str):
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _run(tests: list[doctest.DocTest]) -> doctest.TestResults:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in tests:
        runner.run(test)
    return runner.summarize(verbose=False)


@pytest.mark.parametrize("name", API)
def test_api_usage_example_runs(name, globs):
    obj = _resolve(name)
    module = importlib.import_module(obj.__module__)
    tests = doctest.DocTestFinder(recurse=False).find(obj, name, module=module,
                                                      globs={**vars(module), **globs})
    assert sum(len(t.examples) for t in tests) >= 3, f"{name} has no usage example in its docstring"
    result = _run(tests)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} example lines failed (see stdout)"


@pytest.mark.parametrize("module", HELPER_MODULES)
def test_helper_examples_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
