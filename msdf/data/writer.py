"""Crash-safe writing of an M-SDF store: shards, manifest and failures of one writer (see :mod:`msdf.data.layout`).

Commit protocol (a SIGKILL at any instant leaves the store consistent):

1. Converted shapes are buffered in memory. When the buffer holds ``shard_rows`` shapes, or its oldest shape waited
   ``flush_seconds``, or the run ends, the buffer is written as one ``.npy`` shard through a hidden temp file that
   is fsynced and renamed into place (the directory is fsynced too).
2. Only then are the shard's manifest lines appended (one ``write`` + fsync). A shape is *converted* exactly when
   its manifest line exists; readers never look at shards no line references.
3. On start the writer takes an exclusive ``flock`` on its lock file and recovers its own files: it removes its
   hidden temp files, drops a torn last manifest line and lines whose shard is missing, deletes its shards that no
   manifest line references (killed between steps 1 and 2: those shapes are simply converted again), and drops
   failure lines of shapes that have since been converted.

Failures are appended (fsynced) as they happen. By default they are not retried on the next run (a broken file stays
broken); ``retry_failed=True`` clears this writer's failure lines and tries those inputs again.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np

from msdf.atomic import atomic_write
from msdf.data.layout import (FORMAT_VERSION, SHARD_DIR, STORE_FILE, append_jsonl, failures_path, lock_path,
                              manifest_path, read_jsonl, shard_prefix)
from msdf.data.store import StoreError, read_store_config
from msdf.rows import row_dim


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pid_alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _torn(path: Path) -> bool:
    """True when ``path`` exists, is not empty and does not end in a newline (a killed append)."""
    if not path.is_file() or path.stat().st_size == 0:
        return False
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) != b"\n"


def _rewrite_jsonl(path: Path, rows: list[dict]) -> None:
    with atomic_write(path) as tmp:
        tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows), encoding="utf-8")


def _shard_rows(path: Path) -> int | None:
    """Number of rows of a shard file, or None when it cannot be read as an .npy array."""
    try:
        return int(np.load(path, mmap_mode="r", allow_pickle=False).shape[0])
    except (OSError, ValueError):
        return None


def ensure_store_config(root: Path, n: int, k: int) -> dict:
    """Create ``store.json`` for (n, k) or check that the existing one matches; raise StoreError when it does not.

    Creation is race-free between writers: the description is written to a private temp file (named with the pid,
    so a later writer can sweep the leftovers of a killed one) and hard-linked into place (``os.link`` fails when
    the file already exists), then read back and compared.
    """
    config = {"format_version": FORMAT_VERSION, "n": int(n), "k": int(k), "dim": row_dim(int(k)), "dtype": "float32"}
    path = root / STORE_FILE
    if not path.exists():
        fd, tmp_name = tempfile.mkstemp(prefix=f".{STORE_FILE}.{os.getpid()}.", suffix=".tmp", dir=root)
        tmp = Path(tmp_name)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(config, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(root)
    existing = read_store_config(root)
    if existing is None or (int(existing["n"]), int(existing["k"])) != (int(n), int(k)):
        got = "nothing" if existing is None else f"n={existing['n']}, k={existing['k']}"
        raise StoreError(f"{path}: this store holds {got}; refusing to add shapes with n={n}, k={k} "
                         f"(one store holds one (n, k): use another output folder)")
    return existing


class StoreWriter:
    """The writer of one tag in ``root``: buffers converted shapes into shards and records failures.

    Args:
        root: the store folder (created if needed).
        n, k: grid count and grid resolution; the store refuses any other (n, k).
        tag: this writer's file tag (:func:`msdf.data.layout.writer_tag`).
        shard_rows: shapes per shard file.
        flush_seconds: write a (smaller) shard when the oldest buffered shape has waited this long, bounding the work
            a kill can lose.
        retry_failed: forget this writer's recorded failures so they are attempted again.
    """

    def __init__(self, root: str | os.PathLike, n: int, k: int, tag: str = "", shard_rows: int = 128,
                 flush_seconds: float = 300.0, retry_failed: bool = False):
        self.root = Path(root)
        self.n, self.k, self.dim, self.tag = int(n), int(k), 4 + int(k) ** 3, tag
        self.shard_rows = max(1, int(shard_rows))
        self.flush_seconds = float(flush_seconds)
        self.shard_dir = self.root / SHARD_DIR
        self.shard_dir.mkdir(parents=True, exist_ok=True)
        self.manifest = manifest_path(self.root, tag)
        self.failures = failures_path(self.root, tag)
        self._lock_fd = self._acquire_lock()
        try:
            ensure_store_config(self.root, self.n, self.k)
            self.recovery = self._recover(retry_failed)
        except BaseException:
            self.close()
            raise
        self._buffer: list[tuple[dict, np.ndarray]] = []
        self._buffer_since: float | None = None

    # -- locking and recovery -------------------------------------------------------------------------------------
    def _acquire_lock(self) -> int:
        path = lock_path(self.root, self.tag)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreError(f"{path}: another `msdf preprocess` is already writing "
                             f"{'this shard of ' if self.tag else ''}this store") from None
        return fd

    def _own_shards(self) -> dict[str, int]:
        """This writer's shard files: name -> sequence number."""
        pattern = re.compile(rf"^{re.escape(shard_prefix(self.tag))}(\d{{6}})\.npy$")
        return {p.name: int(m.group(1)) for p in self.shard_dir.iterdir() if (m := pattern.match(p.name))}

    def _recover(self, retry_failed: bool) -> dict:
        """Bring this writer's files to a consistent state (see the module docstring); returns what was cleaned."""
        temp_patterns = [
            (self.shard_dir, re.compile(rf"^\.{re.escape(shard_prefix(self.tag))}\d{{6}}\.npy\..*\.tmp")),
            (self.root, re.compile(rf"^\.(manifest|failures|summary){re.escape(self.tag)}\.jsonl?\..*\.tmp")),
        ]
        temps = 0
        for p in self.root.glob(f".{STORE_FILE}.*.tmp"):  # ensure_store_config's temp of a killed writer
            if not _pid_alive(p.name.split(".")[3]):  # .store.json.<pid>.<random>.tmp
                p.unlink(missing_ok=True)
                temps += 1
        for folder, pattern in temp_patterns:
            for p in folder.iterdir():
                if pattern.match(p.name):
                    p.unlink(missing_ok=True)
                    temps += 1

        shards = self._own_shards()
        rows_of = {name: _shard_rows(self.shard_dir / name) for name in shards}
        lines = list(read_jsonl(self.manifest))
        keep, seen = [], set()
        for entry in lines:
            rows = rows_of.get(entry.get("shard"))
            if rows is None or not 0 <= int(entry.get("row", -1)) < rows or entry["id"] in seen:
                continue
            seen.add(entry["id"])
            keep.append(entry)
        torn = _torn(self.manifest)
        if len(keep) != len(lines) or torn:
            _rewrite_jsonl(self.manifest, keep)
        used = {e["shard"] for e in keep}
        orphans = [name for name in shards if name not in used]
        for name in orphans:
            (self.shard_dir / name).unlink(missing_ok=True)
        if orphans:
            _fsync_dir(self.shard_dir)
        self._next_seq = max((shards[name] for name in used), default=-1) + 1

        done = self.done_ids()
        failures = list(read_jsonl(self.failures))
        keep_f = [] if retry_failed else [f for f in failures if f.get("id") not in done]
        if len(keep_f) != len(failures) or _torn(self.failures):
            _rewrite_jsonl(self.failures, keep_f)
        return {"temp_files": temps, "dropped_lines": len(lines) - len(keep), "orphan_shards": len(orphans),
                "torn_line": torn, "kept": len(keep), "retried_failures": len(failures) if retry_failed else 0}

    # -- queries --------------------------------------------------------------------------------------------------
    def done_ids(self) -> set[str]:
        """Ids converted by any writer of this store (every manifest, complete lines)."""
        return {e["id"] for m in sorted(self.root.glob("manifest*.jsonl")) for e in read_jsonl(m)}

    def failed_ids(self) -> set[str]:
        """Ids recorded as failed by any writer of this store."""
        return {e["id"] for f in sorted(self.root.glob("failures*.jsonl")) for e in read_jsonl(f) if "id" in e}

    # -- writing --------------------------------------------------------------------------------------------------
    def add(self, entry: dict, matrix: np.ndarray) -> None:
        """Buffer one converted shape (its manifest fields and its (n, D) matrix); flush when due."""
        matrix = np.asarray(matrix, dtype=np.float32)
        if matrix.shape != (self.n, self.dim):
            raise StoreError(f"{entry.get('source')}: matrix of shape {matrix.shape} does not fit this store "
                             f"({self.n}, {self.dim})")
        if self._buffer_since is None:
            self._buffer_since = time.monotonic()
        self._buffer.append((entry, matrix))
        if len(self._buffer) >= self.shard_rows or self.flush_due():
            self.flush()

    def flush_due(self) -> bool:
        """True when buffered shapes have waited ``flush_seconds``."""
        return self._buffer_since is not None and time.monotonic() - self._buffer_since >= self.flush_seconds

    def flush(self) -> None:
        """Commit the buffer: write the shard (atomic rename), then append its manifest lines (fsync)."""
        if not self._buffer:
            return
        name = f"{shard_prefix(self.tag)}{self._next_seq:06d}.npy"
        data = np.stack([m for _, m in self._buffer])
        with atomic_write(self.shard_dir / name) as tmp:
            np.save(tmp, data, allow_pickle=False)
        _fsync_dir(self.shard_dir)
        append_jsonl(self.manifest, [dict(e, shard=name, row=row) for row, (e, _) in enumerate(self._buffer)])
        self._next_seq += 1
        self._buffer.clear()
        self._buffer_since = None

    def add_failure(self, row: dict) -> None:
        """Record one failed input (``id``, ``source``, ``error``, ...) durably."""
        append_jsonl(self.failures, [row])

    def close(self) -> None:
        """Flush what is buffered and release the lock."""
        try:
            if getattr(self, "_buffer", None):
                self.flush()
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self) -> "StoreWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
