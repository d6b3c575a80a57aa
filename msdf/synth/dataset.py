"""The captioned synthetic dataset: a registry of object classes and the writer behind ``msdf synth-dataset``.

Layout written by :func:`write_dataset`::

    DIR/<label>/<label>_0007.obj   one watertight Y-up mesh per shape, metres, standing on y = 0, centred in x/z
    DIR/captions.csv               columns file,label,caption (file relative to DIR)
    DIR/attributes.jsonl           one JSON object per shape: file, label, caption, seed, faces, attributes

Shape ``i`` of class ``c`` is drawn from ``numpy.random.default_rng([seed, crc32(c), i])``, so a shape depends only on
(seed, class, index): not on the other classes asked for, the number of workers or the order of completion.
"""
from __future__ import annotations

import csv
import json
import os
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import trimesh
from tqdm import tqdm

from msdf.atomic import atomic_write
from msdf.synth import furniture, vessels
from msdf.synth.furniture import Shape
from msdf.synth.solids import to_trimesh

CLASSES: dict[str, Callable[[np.random.Generator], Shape]] = {
    "chair": furniture.chair,
    "table": furniture.table,
    "stool": furniture.stool,
    "sofa": furniture.sofa,
    "shelf": furniture.shelf,
    "lamp": vessels.lamp,
    "mug": vessels.mug,
    "vase": vessels.vase,
    "bottle": vessels.bottle,
}


@dataclass
class SynthShape:
    """One generated shape: the Y-up mesh in metres, its caption and the sampled attributes."""

    label: str
    index: int
    mesh: trimesh.Trimesh
    caption: str
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def file(self) -> str:
        """Path relative to the dataset root, ``<label>/<label>_<index:04d>.obj``."""
        return f"{self.label}/{self.label}_{self.index:04d}.obj"


def parse_classes(classes: str | Sequence[str] | None) -> list[str]:
    """Class names from a comma-separated string or a list (None = all); unknown names raise ``ValueError``."""
    if classes is None:
        return list(CLASSES)
    names = [c.strip() for c in (classes.split(",") if isinstance(classes, str) else classes) if c.strip()]
    unknown = [c for c in names if c not in CLASSES]
    if unknown or not names:
        raise ValueError(f"unknown class(es) {unknown or names}; available: {', '.join(CLASSES)}")
    return list(dict.fromkeys(names))


def generate(label: str, index: int, seed: int = 0) -> SynthShape:
    """Generate shape ``index`` of class ``label`` for dataset seed ``seed`` (deterministic)."""
    if label not in CLASSES:
        raise ValueError(f"unknown class {label!r}; available: {', '.join(CLASSES)}")
    rng = np.random.default_rng([int(seed), zlib.crc32(label.encode()), int(index)])
    solid, caption, attrs = CLASSES[label](rng)
    clean = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in attrs.items()}
    return SynthShape(label, index, to_trimesh(solid), caption, clean)


def _write_one(out_dir: str, label: str, index: int, seed: int) -> dict[str, Any]:
    """Generate one shape and write its OBJ atomically; returns its metadata row (runs in a worker process)."""
    shape = generate(label, index, seed)
    target = Path(out_dir) / shape.file
    with atomic_write(target) as tmp:
        shape.mesh.export(tmp, file_type="obj", include_normals=False, include_texture=False)
    return dict(file=shape.file, label=label, caption=shape.caption, seed=seed, index=index,
                faces=int(len(shape.mesh.faces)), attributes=shape.attributes)


def write_dataset(out_dir: str | os.PathLike, per_class: int = 40, seed: int = 0,
                  classes: str | Sequence[str] | None = None, workers: int = 1,
                  quiet: bool = False) -> list[dict[str, Any]]:
    """Write ``per_class`` shapes of each class to ``out_dir`` plus ``captions.csv`` and ``attributes.jsonl``.

    ``workers`` > 1 generates in that many processes; the result does not depend on it. Returns the metadata
    rows sorted by file.
    """
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    names = parse_classes(classes)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(str(out), c, i, seed) for c in names for i in range(per_class)]
    bar = tqdm(total=len(jobs), desc="synth-dataset", unit="shape", disable=quiet)
    rows: list[dict[str, Any]] = []
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for row in pool.map(_write_one, *zip(*jobs), chunksize=4):
                rows.append(row)
                bar.update()
    else:
        for job in jobs:
            rows.append(_write_one(*job))
            bar.update()
    bar.close()
    rows.sort(key=lambda r: r["file"])
    _write_tables(out, rows)
    return rows


def _write_tables(out: Path, rows: Iterable[dict[str, Any]]) -> None:
    """``captions.csv`` (file,label,caption) and ``attributes.jsonl``, both written atomically."""
    rows = list(rows)
    with atomic_write(out / "captions.csv") as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["file", "label", "caption"])
            writer.writerows([r["file"], r["label"], r["caption"]] for r in rows)
    with atomic_write(out / "attributes.jsonl") as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in rows)
