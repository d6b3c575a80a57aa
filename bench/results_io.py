"""Where benchmark scripts put their results: ``bench/results/<name>.json``, written atomically, each with a
``provenance`` block (date, machine, git revision, command line) so every published figure can be traced to its run."""
from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from msdf.atomic import write_json

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"


def _git(*args: str) -> str | None:
    """Output of ``git args`` in the repository, or None when git or the repository is unavailable."""
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def provenance() -> dict[str, Any]:
    """Date (UTC), machine (and whether its CPU multiplies bfloat16 natively), software versions, git revision (and
    whether the tree had local changes outside ``bench/results/``: a queue of benchmarks rewrites results files that
    do not change what the next one runs) and the command line of the current run."""
    try:
        import torch

        from msdf.flow.precision import native_bf16

        torch_version: str | None = torch.__version__
        threads: int | None = torch.get_num_threads()
        bf16: bool | None = native_bf16(torch.device("cpu"))
    except ImportError:  # pragma: no cover - every bench script imports torch
        torch_version, threads, bf16 = None, None, None
    status = _git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)bench/results")
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "torch": torch_version, "torch_threads": threads, "cpu_native_bf16": bf16,
            "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
            "git_revision": _git("rev-parse", "HEAD"), "git_dirty": bool(status) if status is not None else None,
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])}


def result_path(name_or_path: str | Path) -> Path:
    """``bench/results/<name>.json`` for a bare name, the path itself for one ending in ``.json``."""
    return Path(name_or_path) if str(name_or_path).endswith(".json") else RESULTS / f"{name_or_path}.json"


def write_result(name_or_path: str | Path, result: dict[str, Any], quiet: bool = False) -> Path:
    """Write ``result`` plus a ``provenance`` block (:func:`provenance`) as indented JSON to
    ``bench/results/<name>.json`` (or to a path ending in ``.json``); print (unless ``quiet``) and return the path."""
    out = result_path(name_or_path)
    write_json(out, {**result, "provenance": provenance()}, default=str)
    if not quiet:
        print(f"wrote {out}")
    return out
