"""Every public entry point of the API carries a usage example in its docstring, and the example runs (doctest).

``run_dir`` (a tiny class-conditional run with classes chair/table) and ``store_dir`` (a two-shape store) are given
to the examples that need a trained run or a preprocessed store.
"""
from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

from toy_flows import preprocess_two_meshes, train_tiny_run

ROOT = Path(__file__).resolve().parents[1]
API = ["msdf.encode", "msdf.decode", "msdf.MosaicSDF", "msdf.MSDFStore", "msdf.FlowSampler",
       "viscogrid.reconstruct"]
HELPER_MODULES = ["msdf.atomic", "msdf.device", "msdf.rows", "viscogrid.pointio"]


@pytest.fixture(scope="module")
def globs(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("examples")
    return {"run_dir": train_tiny_run(root / "run", steps=5), "store_dir": preprocess_two_meshes(root, root / "store")}


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
