"""Dataset readers: turn a dataset root (or a text file of paths) into a list of :class:`ShapeRecord`.

One function per layout, plus :func:`detect_format` and :func:`read_dataset` that picks one:

- ``shapenet``  ShapeNetCore v2 ``<synset>/<model>/models/model_normalized.obj`` or v1 ``<synset>/<model>/model.obj``;
  label = class name of the synset (:data:`SHAPENET_SYNSETS`, the synset id when unknown); split from ShapeNet's
  ``all.csv`` (``id,synsetId,subSynsetId,modelId,split``) when it sits at the root.
- ``modelnet``  ModelNet10/40 ``<class>/{train,test}/<name>.off``; label = class folder, split kept.
- ``objaverse`` ``<uid>.glb`` files anywhere below the root (the downloader's ``glbs/000-xyz/<uid>.glb`` included);
  captions from a Cap3D-style CSV (``uid,caption`` rows, header optional) found at the root.
- ``folder``    every file below the root that is not a known side file (textures, materials, docs); label = parent
  folder name (none for files at the root); optional ``captions.csv`` at the root with columns ``file,label,caption``
  (``file`` relative to the root) overriding label / caption. Files of unsupported formats are kept on purpose: the
  preprocessor records them in failures.jsonl instead of silently skipping them.
- ``list``      a text file with one mesh path per line (``#`` comments and blank lines skipped, relative paths are
  relative to the list file); label = parent folder name.

Record ids are unique within a dataset and stable across runs (they key resume and ``--shard``).
"""
from __future__ import annotations

import csv
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from msdf.choices import DATASET_FORMATS

FORMATS = DATASET_FORMATS

#: ShapeNetCore synset id -> class name for the 55 ShapeNetCore v2 categories.
SHAPENET_SYNSETS: dict[str, str] = {
    "02691156": "airplane", "02747177": "trash_bin", "02773838": "bag", "02801938": "basket", "02808440": "bathtub",
    "02818832": "bed", "02828884": "bench", "02843684": "birdhouse", "02871439": "bookshelf", "02876657": "bottle",
    "02880940": "bowl", "02924116": "bus", "02933112": "cabinet", "02942699": "camera", "02946921": "can",
    "02954340": "cap", "02958343": "car", "02992529": "cellphone", "03001627": "chair", "03046257": "clock",
    "03085013": "keyboard", "03207941": "dishwasher", "03211117": "display", "03261776": "earphone",
    "03325088": "faucet", "03337140": "file_cabinet", "03467517": "guitar", "03513137": "helmet", "03593526": "jar",
    "03624134": "knife", "03636649": "lamp", "03642806": "laptop", "03691459": "loudspeaker", "03710193": "mailbox",
    "03759954": "microphone", "03761084": "microwave", "03790512": "motorbike", "03797390": "mug",
    "03928116": "piano", "03938244": "pillow", "03948459": "pistol", "03991062": "flowerpot", "04004475": "printer",
    "04074963": "remote", "04090263": "rifle", "04099429": "rocket", "04225987": "skateboard", "04256520": "sofa",
    "04330267": "stove", "04379243": "table", "04401088": "telephone", "04460130": "tower", "04468005": "train",
    "04530566": "watercraft", "04554684": "washer",
}

_SYNSET_RE = re.compile(r"^\d{8}$")
_UID_RE = re.compile(r"^[0-9a-f]{32}$")
#: Files the folder reader never treats as shapes: materials, textures, documentation, metadata.
SIDE_FILE_SUFFIXES = frozenset({
    ".mtl", ".png", ".jpg", ".jpeg", ".bmp", ".tga", ".tif", ".tiff", ".gif", ".webp", ".exr", ".hdr",
    ".csv", ".json", ".jsonl", ".txt", ".md", ".html", ".yaml", ".yml", ".bin",
})


@dataclass(frozen=True)
class ShapeRecord:
    """One input shape: ``id`` (unique, stable), ``source`` (mesh path), ``label`` / ``caption`` / ``split`` or None."""

    id: str
    source: str
    label: str | None = None
    caption: str | None = None
    split: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


class DatasetError(ValueError):
    """The input cannot be read as the requested dataset layout; the message names the path and the reason."""


def _rel_id(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _visible_files(root: Path) -> list[Path]:
    """All regular files below ``root`` that are not hidden and not inside hidden folders, sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        out.extend(Path(dirpath) / f for f in filenames if not f.startswith("."))
    return sorted(out)


def read_shapenet(root: str | os.PathLike) -> list[ShapeRecord]:
    """ShapeNetCore v1/v2 below ``root`` (folders named by 8-digit synset id). Ids are ``<synset>/<model>``."""
    root = Path(root).absolute()
    splits: dict[str, str] = {}
    split_csv = root / "all.csv"
    if split_csv.is_file():
        with open(split_csv, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if row.get("modelId") and row.get("split"):
                    splits[f"{row.get('synsetId', '')}/{row['modelId']}"] = row["split"]
    records = []
    for synset_dir in sorted(p for p in root.iterdir() if p.is_dir() and _SYNSET_RE.match(p.name)):
        label = SHAPENET_SYNSETS.get(synset_dir.name, synset_dir.name)
        for model_dir in sorted(p for p in synset_dir.iterdir() if p.is_dir()):
            for candidate in (model_dir / "models" / "model_normalized.obj", model_dir / "model.obj"):
                if candidate.is_file():
                    rid = f"{synset_dir.name}/{model_dir.name}"
                    records.append(ShapeRecord(rid, str(candidate), label, None, splits.get(rid)))
                    break
    if not records:
        raise DatasetError(f"{root}: no ShapeNet models found (expected <synset>/<model>/models/model_normalized.obj "
                           f"or <synset>/<model>/model.obj)")
    return records


def read_modelnet(root: str | os.PathLike) -> list[ShapeRecord]:
    """ModelNet10/40 below ``root``: ``<class>/{train,test}/*.off``. Ids are ``<class>/<split>/<name>``."""
    root = Path(root).absolute()
    records = []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for split in ("train", "test"):
            split_dir = class_dir / split
            if split_dir.is_dir():
                for f in sorted(split_dir.glob("*.off")):
                    records.append(ShapeRecord(f"{class_dir.name}/{split}/{f.stem}", str(f), class_dir.name, None,
                                               split))
    if not records:
        raise DatasetError(f"{root}: no ModelNet shapes found (expected <class>/train/*.off or <class>/test/*.off)")
    return records


def read_captions_csv(path: str | os.PathLike) -> dict[str, str]:
    """A Cap3D-style caption file: rows ``uid,caption`` (an optional header row ``uid,caption`` is skipped)."""
    captions = {}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.reader(fh):
            if len(row) < 2 or (row[0].strip().lower() in ("uid", "id") and row[1].strip().lower() == "caption"):
                continue
            captions[row[0].strip()] = row[1].strip()
    return captions


def read_objaverse(root: str | os.PathLike, captions: str | os.PathLike | None = None) -> list[ShapeRecord]:
    """Objaverse-style ``<uid>.glb`` files below ``root``; captions from ``captions`` or the root's CSV files."""
    root = Path(root).absolute()
    caption_files = [Path(captions)] if captions else sorted(root.glob("*.csv"))
    table: dict[str, str] = {}
    for f in caption_files:
        table.update(read_captions_csv(f))
    records, seen = [], {}
    for f in _visible_files(root):
        if f.suffix.lower() != ".glb":
            continue
        if f.stem in seen:
            raise DatasetError(f"{root}: uid {f.stem!r} appears twice ({seen[f.stem]} and {f})")
        seen[f.stem] = f
        records.append(ShapeRecord(f.stem, str(f), None, table.get(f.stem), None))
    if not records:
        raise DatasetError(f"{root}: no .glb files found for the objaverse layout")
    return records


def read_folder(root: str | os.PathLike) -> list[ShapeRecord]:
    """Every non-side file below ``root``; label = parent folder; ``captions.csv`` (file,label,caption) overrides."""
    root = Path(root).absolute()
    overrides: dict[str, dict[str, str]] = {}
    cap = root / "captions.csv"
    if cap.is_file():
        with open(cap, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or "file" not in reader.fieldnames:
                raise DatasetError(f"{cap}: needs a header row with columns file,label,caption "
                                   f"(got {reader.fieldnames})")
            for row in reader:
                overrides[Path(row["file"]).as_posix()] = row
    records = []
    for f in _visible_files(root):
        if f.suffix.lower() in SIDE_FILE_SUFFIXES:
            continue
        rid = _rel_id(f, root)
        label = f.parent.name if f.parent != root else None
        row = overrides.get(rid, {})
        records.append(ShapeRecord(rid, str(f), row.get("label") or label, row.get("caption") or None, None))
    if not records:
        raise DatasetError(f"{root}: no mesh files found")
    return records


def read_list(list_file: str | os.PathLike) -> list[ShapeRecord]:
    """A text file with one mesh path per line; ids are the resolved absolute paths."""
    list_file = Path(list_file)
    try:
        lines = list_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{list_file}: cannot read the list of mesh paths: {exc}") from exc
    records, seen = [], set()
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        p = Path(line).expanduser()
        p = (p if p.is_absolute() else list_file.parent / p).resolve()
        if str(p) in seen:
            continue
        seen.add(str(p))
        records.append(ShapeRecord(str(p), str(p), p.parent.name or None, None, None))
    if not records:
        raise DatasetError(f"{list_file}: the list contains no mesh paths")
    return records


def detect_format(path: str | os.PathLike) -> str:
    """Guess the layout of ``path``: a file -> ``list``; else shapenet, modelnet, objaverse, folder (first match)."""
    p = Path(path)
    if not p.exists():
        raise DatasetError(f"{p}: input not found")
    if p.is_file():
        return "list"
    subdirs = [d for d in p.iterdir() if d.is_dir() and not d.name.startswith(".")]
    if subdirs and any(_SYNSET_RE.match(d.name) for d in subdirs):
        return "shapenet"
    if subdirs and all((d / "train").is_dir() or (d / "test").is_dir() for d in subdirs):
        return "modelnet"
    files = [f for f in _visible_files(p) if f.suffix.lower() not in SIDE_FILE_SUFFIXES]
    if files and all(f.suffix.lower() == ".glb" and _UID_RE.match(f.stem) for f in files):
        return "objaverse"
    return "folder"


_READERS: dict[str, Callable[[Path], list[ShapeRecord]]] = {
    "shapenet": read_shapenet, "modelnet": read_modelnet, "objaverse": read_objaverse,
    "folder": read_folder, "list": read_list,
}


def read_dataset(path: str | os.PathLike, fmt: str = "auto") -> tuple[str, list[ShapeRecord]]:
    """Read ``path`` with the reader for ``fmt`` (``auto`` = :func:`detect_format`). Returns ``(format, records)``."""
    p = Path(path)
    if fmt == "auto":
        fmt = detect_format(p)
    if fmt not in _READERS:
        raise DatasetError(f"unknown dataset format {fmt!r}; choose one of auto, {', '.join(FORMATS)}")
    if fmt == "list" and not p.is_file():
        raise DatasetError(f"{p}: the list format needs a text file of mesh paths")
    if fmt != "list" and not p.is_dir():
        raise DatasetError(f"{p}: the {fmt} format needs a dataset folder")
    records = _READERS[fmt](p)
    ids = [r.id for r in records]
    if len(set(ids)) != len(ids):
        raise DatasetError(f"{p}: duplicate shape ids in the {fmt} layout")
    return fmt, records
