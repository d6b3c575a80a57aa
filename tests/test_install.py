"""The package works installed, outside the repository: a wheel built from the sources, installed into a fresh
virtual environment, runs the demo's dataset stage (synthetic sets + the shipped real meshes) from a temporary folder.

The environment reuses this interpreter's site-packages (torch & co.) through a ``.pth`` line, which adds the folder
to ``sys.path`` without running its own ``.pth`` files, so an editable install of the repository there cannot shadow
the wheel (the test checks where ``msdf`` was imported from).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _build_wheel(tmp: Path) -> Path:
    src = tmp / "src"
    src.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for pkg in ("msdf", "viscogrid"):
        shutil.copytree(ROOT / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp / "dist")], check=True, capture_output=True, cwd=src)
    (wheel,) = (tmp / "dist").glob("mosaic_sdf-*.whl")
    return wheel


def test_wheel_runs_the_demo_dataset_stage_outside_the_repo(tmp_path):
    wheel = _build_wheel(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "base.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = ("import msdf; print(msdf.__file__)\n"
            "from msdf.demo.pipeline import Demo, DemoConfig\n"
            "info = Demo(DemoConfig.make('out', quick=True, per_class=1, workers=1)).dataset()\n"
            "print(info['real'])\n")
    out = subprocess.run([str(python), "-c", code], cwd=work, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert Path(lines[0]).is_relative_to(venv), f"msdf imported from {lines[0]}, not from the installed wheel"
    assert lines[-1] == "['bread.obj', 'cactus.off']"
    assert (work / "out" / "data" / "synth" / "captions.csv").is_file()
    assert sorted(p.name for p in (work / "out" / "data" / "real").iterdir()) == ["bread.obj", "cactus.off"]
