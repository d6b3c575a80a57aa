"""Formatting helpers for the generated benchmark page: numbers, markdown tables and where a figure came from."""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence


def num(x: Any, digits: int = 3) -> str:
    """``x`` with ``digits`` significant digits (``-`` for a missing or NaN value)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, bool) or isinstance(x, str):
        return str(x)
    if isinstance(x, int):
        return f"{x:,}"
    return f"{x:.{digits}g}"


def fixed(x: Any, decimals: int = 2) -> str:
    """``x`` with ``decimals`` digits after the point (``-`` for a missing value)."""
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{decimals}f}"


def pct(x: Any, decimals: int = 1) -> str:
    """A fraction as a percentage."""
    return "-" if x is None else f"{100 * x:.{decimals}f}%"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A markdown table; cells are turned into text with :func:`num` unless they are strings already."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        lines.append("| " + " | ".join(c if isinstance(c, str) else num(c) for c in row) + " |")
    return "\n".join(lines)


def median(values: Iterable[float]) -> float:
    """Median of the finite values (NaN if none)."""
    vals = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return statistics.median(vals) if vals else float("nan")


def provenance(data: dict[str, Any], path: str) -> str:
    """One line saying which file a section's figures come from, when and where it was measured and at which git
    revision (files written before ``bench/results_io.py`` stamped a revision say so)."""
    prov = data.get("provenance") or {}
    date = prov.get("date") or data.get("date") or "date not recorded"
    recorded = data.get("machine")
    machine = prov.get("machine") or recorded or data.get("host") or "machine not recorded"
    if isinstance(machine, dict):
        machine = machine.get("platform", "machine not recorded")
    cpus = prov.get("cpus") or data.get("cpus") or (recorded.get("cpus") if isinstance(recorded, dict) else None)
    where = f"{machine}, {cpus} CPU{'s' if cpus != 1 else ''}" if cpus else str(machine)
    if prov.get("cpu_native_bf16") is not None:
        where += ", native bf16" if prov["cpu_native_bf16"] else ", no native bf16"
    rev = prov.get("git_revision") or data.get("git_revision")
    revision = (f"revision `{rev[:10]}`{' (with local changes)' if prov.get('git_dirty') else ''}" if rev
                else "git revision not recorded")
    return f"*Source: `{path}` — {date}, {where}, {revision}.*"


@dataclass(frozen=True)
class Section:
    """One part of the generated page: ``body`` turns the loaded ``sources`` (names under ``bench/results/``
    without ``.json``, in order) into markdown; ``script`` is the committed bench script that writes them."""

    anchor: str
    title: str
    script: str
    sources: tuple[str, ...]
    body: Callable[..., str]
    missing: str = ""  # what to say when a source file does not exist (default: name it and the script)
