"""Size limits: estimate what a request will allocate before allocating it, and refuse what cannot fit.

Every size a user can type (a grid resolution, a grid count, an image size, an archive to decompress) goes
through one of the ``check_*`` functions here. Each estimates the peak memory of the work it guards and raises
:class:`LimitError` naming the request, the estimate and the limit, instead of letting the allocation die with a
``MemoryError`` (or swap the machine) halfway through.

Limits (bytes), each overridable by an environment variable (a number with an optional K/M/G/T suffix):

* ``MSDF_MAX_MEMORY``: the memory one command may plan to use; default 80% of the physical memory. The ``msdf``
  and ``viscogrid`` commands also take ``--max-memory SIZE``, which sets it for that run.
* ``MSDF_MAX_ARCHIVE``: the uncompressed size of a ``.zip`` / ``.npz`` input; default 2G.
* ``MSDF_MAX_ARCHIVE_RATIO``: the compression ratio of any archive member over 1 MiB; default 200 (zip bombs
  reach thousands, real meshes and arrays stay below 20).
"""
from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

MEMORY_ENV = "MSDF_MAX_MEMORY"
ARCHIVE_ENV = "MSDF_MAX_ARCHIVE"
RATIO_ENV = "MSDF_MAX_ARCHIVE_RATIO"
DEFAULT_ARCHIVE_BYTES = 2 << 30
DEFAULT_ARCHIVE_RATIO = 200.0
RATIO_MIN_MEMBER_BYTES = 1 << 20

# Peak bytes per unit of work, measured with tracemalloc/RSS on the CPU code paths and rounded up.
DECODE_BYTES_PER_NODE = 24  # float32 field + bool masks + int32 labels + marching-cubes scratch
NEAREST_BYTES_PER_NODE = 21  # mc-nearest: the feature transform (3 int32 indices) and the sign lookup, measured
VISCO_BYTES_PER_NODE = 64  # float32 grid, Adam moments, gradient, int64 band lookup
RENDER_BYTES_PER_RAY = 320  # rays, hits, normals, shading of one supersampled pixel
ENCODE_BYTES_PER_GRID = 96 * 164  # 164 float64 surface samples (x, normal, KD-tree) per grid
ENCODE_BYTES_PER_VALUE = 64  # float32 values, oracle samples, Adam state per grid node

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


class LimitError(ValueError):
    """A request whose estimated size exceeds a limit; the message names the estimate, the limit and the override."""


def parse_size(text: str) -> int:
    """``"512M"``, ``"16G"``, ``"1.5T"``, ``"1000"`` -> bytes (ValueError on anything else)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)i?b?\s*", str(text).lower())
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"not a size: {text!r} (use e.g. 512M, 16G)")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def format_size(n: float) -> str:
    """Bytes as a short human string (``1.5 GiB``)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _from_env(name: str, default: float, parse=parse_size) -> float:
    text = os.environ.get(name)
    if not text:
        return default
    try:
        return parse(text)
    except ValueError as exc:
        raise ValueError(f"environment variable {name}: {exc}") from None


def physical_memory() -> int:
    """Total physical memory in bytes (16 GiB where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 16 << 30


def memory_limit() -> int:
    """The memory budget of one command: ``MSDF_MAX_MEMORY`` or 80% of the physical memory."""
    return int(_from_env(MEMORY_ENV, 0.8 * physical_memory()))


def check_memory(what: str, estimate: float) -> None:
    """Raise :class:`LimitError` if ``estimate`` bytes for ``what`` exceed :func:`memory_limit`."""
    limit = memory_limit()
    if estimate > limit:
        raise LimitError(f"{what} needs about {format_size(estimate)} of memory, over the limit of "
                         f"{format_size(limit)} (raise it with --max-memory or {MEMORY_ENV})")


def check_resolution(resolution: int, method: str = "mc", option: str = "--resolution") -> None:
    """Validate a decode / reconstruction grid resolution: >= 8, and its R^3 lattice must fit in memory."""
    if resolution < 8:
        raise ValueError(f"{option} must be >= 8, got {resolution}")
    per_node = VISCO_BYTES_PER_NODE if method == "visco" else DECODE_BYTES_PER_NODE
    if method == "mc-nearest":
        per_node += NEAREST_BYTES_PER_NODE
    check_memory(f"{option} {resolution} ({method}: {resolution}^3 grid nodes)", float(resolution) ** 3 * per_node)


def check_encoding(n_grids: int, k: int) -> None:
    """Validate an encoding size: ``n_grids >= 1``, ``k >= 2``, and its sample pool and values must fit in memory."""
    if n_grids < 1 or k < 2:
        raise ValueError(f"need --grids >= 1 and --k >= 2 (got {n_grids}, {k})")
    estimate = float(n_grids) * (ENCODE_BYTES_PER_GRID + float(k) ** 3 * ENCODE_BYTES_PER_VALUE)
    check_memory(f"--grids {n_grids} --k {k} ({n_grids} grids of {k}^3 values)", estimate)


def check_image(width: int, height: int, supersample: int = 2) -> None:
    """Validate a render size: positive, and its supersampled rays must fit in memory."""
    if width < 1 or height < 1:
        raise ValueError(f"--size must be positive, got {width} {height}")
    rays = float(width) * height * supersample * supersample
    check_memory(f"--size {width} {height} ({supersample}x{supersample} supersampled)", rays * RENDER_BYTES_PER_RAY)


def check_archive(path: str | os.PathLike) -> None:
    """Refuse a zip archive (``.zip``, ``.npz``) whose declared uncompressed size or compression ratio is too large.

    The sizes come from the archive's directory, which also bounds what :mod:`zipfile` will inflate, so this is
    checked before anything is decompressed. A file that is not a zip archive is left to its reader.
    """
    p = Path(path)
    try:
        with zipfile.ZipFile(p) as z:
            members = z.infolist()
    except (zipfile.BadZipFile, OSError):
        return
    total = sum(m.file_size for m in members)
    limit = _from_env(ARCHIVE_ENV, DEFAULT_ARCHIVE_BYTES)
    if total > limit:
        raise LimitError(f"{p}: archive expands to {format_size(total)}, over the limit of {format_size(limit)} "
                         f"(raise it with {ARCHIVE_ENV})")
    max_ratio = _from_env(RATIO_ENV, DEFAULT_ARCHIVE_RATIO, parse=float)
    for m in members:
        if m.file_size > RATIO_MIN_MEMBER_BYTES and m.file_size > max_ratio * max(m.compress_size, 1):
            raise LimitError(f"{p}: archive member {m.filename!r} expands {m.file_size / max(m.compress_size, 1):.0f}"
                             f"-fold ({format_size(m.compress_size)} -> {format_size(m.file_size)}), over the limit "
                             f"of {max_ratio:.0f} (a zip bomb? raise it with {RATIO_ENV})")
    check_memory(f"{p} (uncompressed archive)", total)
