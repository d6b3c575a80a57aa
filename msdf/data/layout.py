"""The on-disk layout of a preprocessed M-SDF store (one ``OUT_DIR``).

::

    OUT_DIR/
      store.json                      {"format_version", "n", "k", "dim", "dtype"}: one (n, k) per store
      shards/part[-IofN]-SSSSSS.npy   float32 (rows, n, 4 + k^3), memory-mappable, written atomically
      manifest[-IofN].jsonl           one line per converted shape (id, source, label, caption, split, shard, row, ...)
      failures[-IofN].jsonl           one line per input that could not be converted (source, error, ...)
      summary[-IofN].json             counts and throughput of the last run of that writer
      .lock[-IofN]                    held (flock) by the running writer

Every writer (a whole run, or one ``--shard I/N`` of it) owns the files carrying its tag (``""`` or ``-IofN``), so
several array-job tasks can write into the same ``OUT_DIR`` at once. Readers merge all manifests.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

FORMAT_VERSION = 1
SHARD_DIR = "shards"
STORE_FILE = "store.json"


def writer_tag(shard: tuple[int, int] | None) -> str:
    """File-name tag of a writer: ``""`` for a whole run, ``"-0003of0010"`` for ``--shard 3/10``."""
    if shard is None or shard[1] == 1:
        return ""
    index, count = shard
    return f"-{index:04d}of{count:04d}"


def manifest_path(root: Path, tag: str) -> Path:
    return root / f"manifest{tag}.jsonl"


def failures_path(root: Path, tag: str) -> Path:
    return root / f"failures{tag}.jsonl"


def summary_path(root: Path, tag: str) -> Path:
    return root / f"summary{tag}.json"


def lock_path(root: Path, tag: str) -> Path:
    return root / f".lock{tag}"


def shard_prefix(tag: str) -> str:
    """Shard file names of a writer start with this (its sequence number and ``.npy`` follow)."""
    return f"part{tag}-"


def read_jsonl(path: Path) -> Iterator[dict]:
    """The complete lines of a JSON-lines file, streamed; a torn last line (no newline: a killed writer) is ignored.

    Raises ValueError naming the file and line for a corrupt line that is not the torn tail.
    """
    if not path.is_file():
        return
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.endswith(b"\n"):  # the torn tail
                return
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: line {number} is not valid JSON ({exc})") from exc


def append_jsonl(path: Path, rows: list[dict]) -> None:
    """Append ``rows`` as JSON lines in one write and fsync, so they are on disk before this returns."""
    if not rows:
        return
    payload = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows).encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
