"""Where benchmark scripts put their results: ``bench/results/<name>.json``, written atomically."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from msdf.atomic import atomic_write

RESULTS = Path(__file__).resolve().parent / "results"


def write_result(name_or_path: str | Path, result: Any) -> Path:
    """Write ``result`` as indented JSON to ``bench/results/<name>.json`` (or to a path ending in ``.json``),
    print and return the path."""
    out = Path(name_or_path) if str(name_or_path).endswith(".json") else RESULTS / f"{name_or_path}.json"
    with atomic_write(out) as tmp:
        tmp.write_text(json.dumps(result, indent=2, default=str))
    print(f"wrote {out}")
    return out
