"""Every ```python block of README.md and docs/*.md runs, on small inputs, in a scratch folder that holds what the
snippets name: ``tests/`` (the shipped meshes), ``RUN`` (a tiny class-conditional run with classes chair and table),
``shape.npz`` (a small M-SDF) and ``STORE`` (a two-shape store made by ``msdf preprocess``)."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from msdf.cli import main
from toy_flows import sphere_matrices

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
    from msdf.flow.config import TrainConfig
    from msdf.flow.dataset import ArrayStore
    from msdf.flow.trainer import train

    root = tmp_path_factory.mktemp("snippets")
    (root / "tests").symlink_to(ROOT / "tests")
    store = ArrayStore(sphere_matrices([0.4] * 6 + [0.8] * 6, n=32, k=3, half_width=0.3).numpy(), 3,
                       labels=["chair"] * 6 + ["table"] * 6)
    cfg = TrainConfig.from_dict({"model": {"width": 32, "depth": 1, "heads": 2, "mlp_ratio": 2.0, "row_hidden": 32},
                                 "steps": 10, "batch_size": 4, "warmup_steps": 2, "val_every": 1000,
                                 "ckpt_every": 1000, "log_every": 10, "val_fraction": 0.0})
    train(store, cfg, root / "RUN", quiet=True)
    msdf.encode(ROOT / "tests/data/watertight/cactus.off", n_grids=64, k=3, refine_steps=0).save(root / "shape.npz")
    meshes = root / "meshes"
    meshes.mkdir()
    for name in ("cactus.off", "lemon.obj"):
        shutil.copy(ROOT / "tests/data/watertight" / name, meshes / name)
    assert main(["preprocess", str(meshes), "-o", str(root / "STORE"), "--grids", "16", "--k", "3",
                 "--refine-steps", "0", "--workers", "1", "--quiet"]) == 0
    return root


def test_every_page_with_python_has_snippets_found():
    assert len(_snippets()) >= 8


@pytest.mark.parametrize("name,code", _snippets(), ids=[n for n, _ in _snippets()])
def test_snippet_runs(name, code, scratch, monkeypatch):
    monkeypatch.chdir(scratch)
    exec(compile(code, name, "exec"), {"__name__": "__doc_snippet__"})
