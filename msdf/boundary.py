"""The command-line error boundary: every expected failure becomes one line on stderr and an exit status.

:func:`run_command` runs a sub-command and turns any exception into ``<prog>: error: <what>: <reason>`` with
exit status 2 for a bad argument (:class:`UsageError`, a size over a limit) and 1 for everything else (bad input
files, unwritable outputs, failures of the work), and ``KeyboardInterrupt`` / SIGTERM into exit 130 / 143.
Output files are written atomically, so an interrupted command leaves the previous file (or none).
``--debug`` lets the exception through with its traceback. ``--max-memory`` sets :mod:`msdf.limits`' memory
limit for the run, and ``--device`` is checked here before any work starts.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Callable

from msdf.limits import MEMORY_ENV, LimitError, parse_size

MAX_MESSAGE = 600


class UsageError(ValueError):
    """A bad command-line argument (exit status 2)."""


class Terminated(SystemExit):
    """Raised in the main process on SIGTERM so ``finally`` blocks and temporary-file cleanup run."""


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """``--debug`` and ``--max-memory``, shared by every sub-command."""
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    parser.add_argument("--max-memory", type=parse_size, default=None, metavar="SIZE",
                        help=f"memory a run may plan to use, e.g. 64G (default: ${MEMORY_ENV} or 80%% of the RAM)")


def describe(exc: BaseException) -> str:
    """One line naming the file (where known) and the reason of ``exc``."""
    if isinstance(exc, MemoryError):
        text = "out of memory; lower the sizes (--resolution, --grids, --batch-size, ...)"
    elif isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        text = f"{where}{exc.strerror}" + (f" -> {exc.filename2}" if exc.filename2 else "")
    elif isinstance(exc, ValueError) and str(exc):  # our own errors: the message names the file and the reason
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    text = "; ".join(line.strip() for line in text.splitlines() if line.strip())
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 3] + "..."


def check_device(name: str) -> None:
    """Raise :class:`UsageError` unless ``name`` is ``auto`` or a torch device that exists on this machine."""
    if name == "auto":
        return
    import torch

    try:
        dev = torch.device(name)
    except RuntimeError:
        raise UsageError(f"--device {name!r}: not a device (use cpu, cuda, cuda:N or auto)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"--device {name}: no CUDA GPU is available on this machine (use cpu or auto)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UsageError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type != "cpu":
        raise UsageError(f"--device {name}: unsupported device type {dev.type!r} (use cpu, cuda, cuda:N or auto)")


def _sigterm_handler(main_pid: int) -> Callable:
    """A SIGTERM handler raising :class:`Terminated` in process ``main_pid`` (forked workers die the default way)."""
    def handler(signum, frame) -> None:
        if os.getpid() != main_pid:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise Terminated(128 + signum)

    return handler


def run_command(prog: str, command: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    """Run ``command(args)`` inside the boundary (module docstring); returns the exit status."""
    debug = getattr(args, "debug", False)
    saved_env = os.environ.get(MEMORY_ENV)
    in_main = _is_main_thread()
    previous = signal.signal(signal.SIGTERM, _sigterm_handler(os.getpid())) if in_main else None
    try:
        if getattr(args, "max_memory", None):
            os.environ[MEMORY_ENV] = str(args.max_memory)
        if getattr(args, "device", None) is not None:
            check_device(args.device)
        return int(command(args) or 0)
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Terminated as exc:
        print(f"{prog}: terminated", file=sys.stderr)
        return int(exc.code)
    except Exception as exc:  # the boundary: anything else is reported in one line
        if debug:
            raise
        print(f"{prog}: error: {describe(exc)}", file=sys.stderr)
        return 2 if isinstance(exc, (UsageError, LimitError)) else 1
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
        if saved_env is None:
            os.environ.pop(MEMORY_ENV, None)
        else:
            os.environ[MEMORY_ENV] = saved_env


def _is_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
