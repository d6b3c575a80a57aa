"""Execution backends for per-shape tasks: a local pebble process pool, or Ray.

Both take a picklable ``fn(*args) -> value`` and an iterable of ``(key, args)`` and yield ``(key, Outcome)`` in
completion order, keeping only a bounded window of tasks in flight (so 600k inputs are not all submitted at once).
A task that raises, runs past ``timeout`` seconds or whose worker dies (segfault, ``os._exit``, OOM kill) yields an
:class:`Outcome` with a readable ``error``; the other tasks go on.
"""
from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import contextlib
import multiprocessing
import os
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

#: Environment variables that make math libraries single-threaded inside each worker.
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


class PoolError(RuntimeError):
    """The pool itself failed (workers cannot start): the run stops instead of failing every shape."""


@dataclass
class Outcome:
    """What one task produced: ``value`` on success, else ``error`` (a sentence for a person)."""

    value: Any = None
    error: str | None = None


def describe_error(exc: BaseException) -> str:
    """A readable one-line reason for a task failure (mesh errors already name the file and the reason)."""
    from msdf.meshio import MeshLoadError

    if isinstance(exc, MeshLoadError):
        return str(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (killed: out of memory?)" if -exitcode == signal.SIGKILL else ""
        return f"worker process died from {name}{hint}"
    return f"worker process exited unexpectedly with status {exitcode}"


def default_workers() -> int:
    """All cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


_ENV_LOCK = threading.Lock()
_ENV_USERS = 0
_ENV_SAVED: dict[str, str | None] = {}


@contextlib.contextmanager
def single_threaded_env() -> Iterator[None]:
    """Set :data:`THREAD_VARS` to 1 while pools run (workers started meanwhile inherit it), then restore them.

    Re-entrant and thread-safe: the variables are restored when the last user leaves.
    """
    global _ENV_USERS, _ENV_SAVED
    with _ENV_LOCK:
        if _ENV_USERS == 0:
            _ENV_SAVED = {v: os.environ.get(v) for v in THREAD_VARS}
            os.environ.update({v: "1" for v in THREAD_VARS})
        _ENV_USERS += 1
    try:
        yield
    finally:
        with _ENV_LOCK:
            _ENV_USERS -= 1
            if _ENV_USERS == 0:
                for v, old in _ENV_SAVED.items():
                    if old is None:
                        os.environ.pop(v, None)
                    else:
                        os.environ[v] = old


def init_worker(preload: tuple[str, ...]) -> None:
    """Worker start-up: one math thread, and import ``preload`` modules now so their import time is not counted
    against the first task's time limit. Ctrl-C is left to the parent, which stops the pool (an interrupted shape
    is then neither converted nor failed, so the next run does it)."""
    import importlib
    import sys

    if multiprocessing.parent_process() is not None:  # a pool worker, not a Ray worker
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.update({v: "1" for v in THREAD_VARS})  # for libraries imported from here on
    for name in preload:
        importlib.import_module(name)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def worker_context(preload: tuple[str, ...]) -> multiprocessing.context.BaseContext:
    """How pool workers start: from a fork server that imported ``preload`` once (Linux, macOS), so a worker that
    replaces one killed by a crash or a time limit starts in milliseconds instead of re-importing torch; ``spawn``
    where there is no fork server. Never a plain ``fork`` of the parent (unsafe with threads)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(list(preload))  # takes effect when this process first starts its fork server
        return ctx
    return multiprocessing.get_context("spawn")


def start_fork_server(preload: tuple[str, ...]) -> None:
    """Start the fork server of :func:`worker_context` now, in the background: it imports ``preload`` (torch, Open3D:
    seconds) while the caller goes on (reading the dataset, opening the store) instead of when the pool starts.
    No-op where there is no fork server or it already runs."""
    ctx = worker_context(preload)
    if ctx.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        with single_threaded_env():  # the server's environment is what every worker inherits
            forkserver.ensure_running()


def run_local(fn: Callable, items: Iterable[tuple[Any, tuple]], workers: int, timeout: float | None,
              preload: tuple[str, ...] = ()) -> Iterator[tuple[Any, Outcome]]:
    """Run ``fn(*args)`` for each item in a pebble ``ProcessPool`` of ``workers`` processes (:func:`worker_context`).

    ``timeout`` (seconds, None = no limit) counts from when a worker starts the task; on expiry pebble kills that
    worker and starts a fresh one.
    """
    import pebble

    window = max(1, 2 * workers)
    with single_threaded_env():  # workers started at any time during the run inherit it
        pool = pebble.ProcessPool(max_workers=workers, initializer=init_worker, initargs=(preload,),
                                  context=worker_context(preload))
        try:
            pending: dict[concurrent.futures.Future, Any] = {}
            source = iter(items)

            broken = (f"the worker processes failed to start; the reason is printed above (for example an import "
                      f"error in {', '.join(preload) or 'the task module'})")

            def submit_more() -> None:
                for key, args in source:
                    try:
                        pending[pool.schedule(fn, args=args, timeout=timeout)] = key
                    except RuntimeError as exc:  # pebble: "Unexpected error within the Pool"
                        raise PoolError(broken) from exc
                    if len(pending) >= window:
                        return

            submit_more()
            while pending:
                done, _ = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    key = pending.pop(future)
                    try:
                        outcome = Outcome(value=future.result())
                    except concurrent.futures.TimeoutError:
                        outcome = Outcome(error=_timeout_message(timeout, "worker stopped"))
                    except pebble.ProcessExpired as exc:
                        outcome = Outcome(error=_exit_reason(exc.exitcode))
                    except concurrent.futures.process.BrokenProcessPool as exc:  # workers cannot even start
                        raise PoolError(broken) from exc
                    except Exception as exc:  # the task's own error, re-raised from the worker
                        outcome = Outcome(error=describe_error(exc))
                    yield key, outcome
                submit_more()
        finally:
            pool.stop()
            pool.join()


class TaskTimeout(Exception):
    """Raised inside a Ray task by its own alarm when it runs past the time limit."""


def _timeout_message(timeout: float, how: str) -> str:
    return f"timed out after {timeout:g} s ({how}; raise --timeout for very large meshes)"


def _ray_call(fn: Callable, args: tuple, preload: tuple[str, ...], timeout: float | None) -> Any:
    """Ray task body: worker set-up, then ``fn(*args)`` under a ``SIGALRM`` of ``timeout`` seconds (the alarm
    interrupts Python code; the driver's hard deadline covers code stuck in C)."""
    init_worker(preload)
    if timeout is None:
        return fn(*args)

    def alarm(signum, frame):
        raise TaskTimeout(_timeout_message(timeout, "task stopped"))

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_ray(fn: Callable, items: Iterable[tuple[Any, tuple]], workers: int | None, timeout: float | None,
            address: str | None = None, preload: tuple[str, ...] = ()) -> Iterator[tuple[Any, Outcome]]:
    """Run ``fn(*args)`` for each item as Ray tasks (``num_cpus=1``, no automatic retries).

    ``address=None`` starts a local Ray instance with ``workers`` CPUs; otherwise connects to that cluster (for
    example ``auto`` or ``ray://head:10001``). At most one task per cluster CPU is in flight. ``timeout`` is enforced
    inside the task from when it starts (an alarm); a task still unfinished ``2 * timeout + 60`` s after submission
    (stuck in native code, worker never started) is force-cancelled, which kills its worker.
    """
    import ray
    from ray.exceptions import RayTaskError, TaskCancelledError, WorkerCrashedError

    started_here = not ray.is_initialized()
    if started_here:
        with single_threaded_env():  # a local Ray's workers inherit it; on a cluster Ray sets OMP threads = 1
            ray.init(address=address, num_cpus=workers if address is None else None, include_dashboard=False,
                     log_to_driver=False, logging_level="ERROR")
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(_ray_call)
        window = max(1, int(ray.cluster_resources().get("CPU", workers or 1)))
        fn_ref = ray.put(fn)
        hard_limit = None if timeout is None else 2 * timeout + 60
        pending: dict[Any, tuple[Any, float]] = {}
        source = iter(items)

        def submit_more() -> None:
            for key, args in source:
                pending[remote.remote(fn_ref, args, preload, timeout)] = (key, time.monotonic())
                if len(pending) >= window:
                    return

        submit_more()
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            now = time.monotonic()
            late = ([] if hard_limit is None else
                    [r for r in pending if r not in ready and now - pending[r][1] > hard_limit])
            for ref in late:
                ray.cancel(ref, force=True)
                key, _ = pending.pop(ref)
                yield key, Outcome(error=_timeout_message(hard_limit, "no answer since submission; task cancelled"))
            for ref in ready:
                key, _ = pending.pop(ref)
                try:
                    outcome = Outcome(value=ray.get(ref))
                except RayTaskError as exc:
                    cause = exc.cause if exc.cause is not None else exc
                    outcome = Outcome(error=str(cause) if isinstance(cause, TaskTimeout) else describe_error(cause))
                except (WorkerCrashedError, TaskCancelledError) as exc:
                    outcome = Outcome(error=f"Ray worker died while converting: {type(exc).__name__}")
                except ray.exceptions.RayError as exc:
                    outcome = Outcome(error=describe_error(exc))
                yield key, outcome
            submit_more()
    finally:
        if started_here:
            ray.shutdown()
