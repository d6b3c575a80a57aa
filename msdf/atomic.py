"""Crash-safe file writes: write to a temporary file beside the target, then rename over it.

:func:`atomic_write` is the context manager every writer uses; :func:`write_json` is the one JSON writer.
"""
from __future__ import annotations

import contextlib
import glob
import json
import os
import socket
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s directory; on success fsync and ``os.replace`` it onto ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched, so a reader never
    sees a half-written file, even if the process is killed (the rename is atomic on POSIX).
    The temporary name is ``.<name>.<host>-<pid>-<random>.tmp<suffix>``: it ends in ``path``'s own suffix (or
    ``suffix``) so writers that pick a format by extension work, and it is hidden and marked ``.tmp``. A process
    killed outright (SIGKILL, power loss) cannot remove it, so every later write of the same ``path`` first deletes
    the leftovers of processes of this host that are no longer running (:func:`sweep_stale`).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.{_host()}-{os.getpid()}-",
        suffix=".tmp" + (target.suffix if suffix is None else suffix), dir=target.parent
    )
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_name, 0o666 & ~umask)  # mkstemp makes 0600; the published file gets the usual permissions
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path: str | os.PathLike, data: Any, *, indent: int | None = 2, sort_keys: bool = False,
               default: Callable[[Any], Any] | None = None) -> Path:
    """Atomically write ``data`` as JSON (``indent``, ``sort_keys``, ``default`` as in :func:`json.dumps`) plus a
    final newline to ``path``; returns ``path``.

    >>> import tempfile
    >>> p = write_json(Path(tempfile.mkdtemp()) / "a.json", {"b": 1}, indent=None)
    >>> p.read_text()
    '{"b": 1}\\n'
    """
    path = Path(path)
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(data, indent=indent, sort_keys=sort_keys, default=default) + "\n",
                       encoding="utf-8")
    return path


def _host() -> str:
    """This machine's name without dots or dashes (so the temporary names parse back)."""
    return "".join(c for c in socket.gethostname() if c.isalnum()) or "host"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def sweep_stale(target: Path) -> list[Path]:
    """Delete temporary files of earlier writes of ``target`` whose process (on this host) has died; returns them.

    Temporaries of live processes and of other hosts (a shared file system) are left alone.
    """
    prefix = f".{target.name}.{_host()}-"
    removed = []
    for tmp in target.parent.glob(f".{glob.escape(target.name)}.*.tmp*"):
        pid = tmp.name[len(prefix):].split("-", 1)[0] if tmp.name.startswith(prefix) else ""
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed
