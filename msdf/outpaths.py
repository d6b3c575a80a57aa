"""Output paths, checked before any work starts: files that can be written, folders that are ours to write into.

A command that writes one file checks it with :func:`check_output_file` up front, so a typo in ``-o`` costs
nothing. A command that fills a folder checks it with :func:`check_output_dir` and, once its inputs are known to be
good, claims it with :func:`claim_output_dir`, which leaves a marker (``.msdf-output.json``) naming the command.
A non-empty folder is refused unless it is ours (it carries that command's marker, or one of the command's own
files such as a store's ``store.json``) or the user passed ``--overwrite``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

from msdf.atomic import write_json
from msdf.boundary import UsageError

MARKER = ".msdf-output.json"


class OutputPathError(UsageError):
    """An output path that cannot or must not be written; the message names the path and the reason (exit 2)."""


def _nearest_existing(path: Path) -> Path:
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _check_creatable(path: Path) -> None:
    """Raise unless ``path`` (which may not exist yet) can be created: its nearest existing ancestor is a
    writable folder."""
    anc = _nearest_existing(path.parent)
    if not anc.is_dir():
        raise OutputPathError(f"{path}: cannot create, {anc} is not a folder")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise OutputPathError(f"{path}: cannot write into {anc} (permission denied)")


def check_output_file(path: str | os.PathLike, suffixes: Sequence[str] | None = None) -> Path:
    """Raise :class:`OutputPathError` unless ``path`` is a writable file path (ending in one of ``suffixes``)."""
    p = Path(path)
    if suffixes is not None and p.suffix.lower() not in suffixes:
        raise OutputPathError(f"{p}: output must end in one of {', '.join(suffixes)}")
    if p.is_dir():
        raise OutputPathError(f"{p}: is a folder; give a file name")
    if p.exists() and not os.access(p, os.W_OK):
        raise OutputPathError(f"{p}: exists and is not writable (permission denied)")
    _check_creatable(p)
    return p


def read_marker(folder: Path) -> str | None:
    """The command named by ``folder``'s marker, or None (no marker, or an unreadable one)."""
    try:
        return json.loads((folder / MARKER).read_text()).get("command")
    except (OSError, ValueError, AttributeError):
        return None


def check_output_dir(path: str | os.PathLike, command: str, *, overwrite: bool = False,
                     own_files: Sequence[str] = ()) -> Path:
    """Raise :class:`OutputPathError` unless ``path`` is a folder ``command`` may write into (module docstring).

    ``own_files``: names (glob patterns) whose presence also marks the folder as written by ``command`` (outputs of
    versions before the marker, such as a store's ``store.json``). Creates nothing.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputPathError(f"{p}: exists and is not a folder")
    if not p.exists():
        _check_creatable(p)
        return p
    if not os.access(p, os.W_OK | os.X_OK):
        raise OutputPathError(f"{p}: folder is not writable (permission denied)")
    ours = read_marker(p) == command or any(next(p.glob(pattern), None) is not None for pattern in own_files)
    if not overwrite and not ours and any(p.iterdir()):
        raise OutputPathError(f"{p}: folder is not empty and was not written by `msdf {command}`; "
                              f"choose an empty folder or pass --overwrite")
    return p


def claim_output_dir(path: str | os.PathLike, command: str) -> Path:
    """Create ``path`` (if needed) and mark it as written by ``command``."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    if read_marker(p) != command:
        write_json(p / MARKER, {"command": command}, indent=None)
    return p
