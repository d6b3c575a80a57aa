"""Crash-safe file writes: write to a temporary file beside the target, then rename over it."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s directory; on success fsync and ``os.replace`` it onto ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched, so a reader never
    sees a half-written file, even if the process is killed (the rename is atomic on POSIX).
    The temporary name is ``.<name>.<random>.tmp<suffix>``: it ends in ``path``'s own suffix (or ``suffix``) so
    writers that pick a format by extension work, and it is hidden and marked ``.tmp`` so leftovers of a killed
    process are easy to find and sweep.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp" + (target.suffix if suffix is None else suffix), dir=target.parent
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
