"""Every ```python block of README.md and docs/*.md runs, on small inputs, in a scratch folder that holds what the
snippets name: ``tests/`` (the shipped meshes), ``RUN`` (a tiny class-conditional run with classes chair and table),
``shape.npz`` (a small M-SDF) and ``STORE`` (a two-shape store made by ``msdf preprocess``)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from toy_flows import preprocess_two_meshes, train_tiny_run

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _snippets() -> list[tuple[str, str]]:
    out = []
    for page in PAGES:
        for i, code in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)):
            out.append((f"{page.relative_to(ROOT)}#{i}", code))
    return out


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    import msdf

    root = tmp_path_factory.mktemp("snippets")
    (root / "tests").symlink_to(ROOT / "tests")
    train_tiny_run(root / "RUN")
    msdf.encode(ROOT / "tests/data/watertight/cactus.off", n_grids=64, k=3, refine_steps=0).save(root / "shape.npz")
    preprocess_two_meshes(root, root / "STORE")
    return root


def test_every_page_with_python_has_snippets_found():
    assert len(_snippets()) >= 8


@pytest.mark.parametrize("name,code", _snippets(), ids=[n for n, _ in _snippets()])
def test_snippet_runs(name, code, scratch, monkeypatch):
    monkeypatch.chdir(scratch)
    exec(compile(code, name, "exec"), {"__name__": "__doc_snippet__"})
