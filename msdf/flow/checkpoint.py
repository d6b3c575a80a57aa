"""Run directories and checkpoints: the file format of a training run (inference lives in :mod:`msdf.flow.sampler`).

Layout of a run directory ``RUN``::

    RUN/checkpoints/step-0001000/weights.safetensors  # "model.*" (trained) and "ema.*" (EMA, used for sampling)
    RUN/checkpoints/step-0001000/state.json         # format version, config, data meta, normaliser stats, progress
    RUN/checkpoints/step-0001000/optim.pt           # AdamW state (torch.save; read with weights_only=True)
    RUN/checkpoints/step-0001000/rng-rank0.pt       # torch RNG states of each process (exact resume)
    RUN/checkpoints/step-0001000/commit.json        # a copy of the commit record below (for the fallback)
    RUN/checkpoints/latest.json                     # the commit point: step, folder, sha256 of every file

Every file is written atomically and ``latest.json`` last, so a crash mid-save leaves the previous checkpoint in
force.  Loading verifies the checksums; when the latest checkpoint is corrupt it falls back (with a warning) to the
newest older one that verifies, and raises :class:`CheckpointError` naming the file only when none does.
``latest.json``'s folder must be a ``step-NNNNNNN`` folder of the run's ``checkpoints``.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from msdf.atomic import atomic_write, write_json
from msdf.flow.config import TrainConfig
from msdf.flow.model import FlowTransformer

FORMAT_VERSION = 1
LATEST = "latest.json"
COMMIT = "commit.json"
STEP_DIR = re.compile(r"step-\d{7}")


class CheckpointError(ValueError):
    """A missing, incomplete or corrupt checkpoint; the message names the file and the reason."""


def checkpoint_root(run_dir: str | Path) -> Path:
    return Path(run_dir) / "checkpoints"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def step_dir(run_dir: str | Path, step: int) -> Path:
    return checkpoint_root(run_dir) / f"step-{step:07d}"


def save_weights_and_state(folder: Path, model: torch.nn.Module, ema: torch.nn.Module, state: dict[str, Any],
                           optimizer: torch.optim.Optimizer | None) -> None:
    """Write ``weights.safetensors``, ``state.json`` and (if given) ``optim.pt`` into ``folder`` (rank 0 only)."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors.update({f"ema.{k}": v.detach().cpu().contiguous() for k, v in ema.state_dict().items()})
    with atomic_write(folder / "weights.safetensors") as tmp:
        save_file(tensors, str(tmp))
    write_json(folder / "state.json", {"format_version": FORMAT_VERSION, **state})
    if optimizer is not None:
        with atomic_write(folder / "optim.pt") as tmp:
            torch.save(optimizer.state_dict(), tmp)


def save_rng(folder: Path, rank: int, data_generator: torch.Generator) -> None:
    """Write this process's RNG states (global torch, CUDA, data-order generator) to ``rng-rank{rank}.pt``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = {"torch": torch.get_rng_state(), "data": data_generator.get_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    with atomic_write(folder / f"rng-rank{rank}.pt") as tmp:
        torch.save(rng, tmp)


def commit(run_dir: str | Path, step: int, keep: int = 2) -> Path:
    """Point ``latest.json`` at ``step``'s folder (with file checksums) and prune older checkpoints beyond ``keep``."""
    root = checkpoint_root(run_dir)
    folder = step_dir(run_dir, step)
    files = {p.name: _sha256(p) for p in sorted(folder.iterdir())
             if p.is_file() and not p.name.startswith(".") and p.name != COMMIT}
    record = {"format_version": FORMAT_VERSION, "step": step, "dir": folder.name, "sha256": files}
    write_json(folder / COMMIT, record)
    write_json(root / LATEST, record)
    olds = sorted(p for p in root.iterdir() if p.is_dir() and STEP_DIR.fullmatch(p.name) and p != folder)
    for p in olds[: max(0, len(olds) - (keep - 1))]:
        shutil.rmtree(p, ignore_errors=True)
    return folder


def latest_checkpoint(run_dir: str | Path) -> tuple[Path, dict[str, Any]]:
    """The committed checkpoint folder and its state dict, checksums verified; ``CheckpointError`` otherwise.

    If the checkpoint ``latest.json`` points at is corrupt (or the pointer itself is), the newest older committed
    checkpoint that verifies is used instead, with a warning on stderr naming what was wrong.
    """
    root = checkpoint_root(run_dir)
    pointer = root / LATEST
    if not pointer.is_file():
        raise CheckpointError(f"{pointer}: no checkpoint found (is {run_dir} a training run directory?)")
    try:
        return _verified(root, pointer)
    except CheckpointError as exc:
        for record in sorted(root.glob(f"step-*/{COMMIT}"), reverse=True):
            try:
                folder, state = _verified(root, record)
            except CheckpointError:
                continue
            print(f"warning: {exc}; using the previous checkpoint {folder}", file=sys.stderr)
            return folder, state
        raise


def checkpoint_at(run_dir: str | Path, step: int) -> tuple[Path, dict[str, Any]]:
    """The committed checkpoint of ``step`` (its folder and state, checksums verified); ``CheckpointError`` naming
    the folder when the run kept no such checkpoint (``keep_checkpoints`` prunes older ones) or it is corrupt."""
    root = checkpoint_root(run_dir)
    record = step_dir(run_dir, step) / COMMIT
    if not record.is_file():
        kept = sorted(int(p.parent.name[len("step-"):]) for p in root.glob(f"step-*/{COMMIT}"))
        raise CheckpointError(f"{record.parent}: no committed checkpoint of step {step} (kept: {kept or 'none'})")
    return _verified(root, record)


def _verified(root: Path, record_path: Path) -> tuple[Path, dict[str, Any]]:
    """Checkpoint folder and state of the commit record ``record_path``, every checksum verified."""
    try:
        latest = json.loads(record_path.read_text())
        name = latest["dir"]
        expected = dict(latest["sha256"])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{record_path}: corrupt checkpoint pointer ({exc})") from exc
    if not isinstance(name, str) or not STEP_DIR.fullmatch(name):
        raise CheckpointError(f"{record_path}: checkpoint folder {name!r} is not a step-NNNNNNN folder of {root}")
    folder = root / name
    for fname in expected:
        if not isinstance(fname, str) or Path(fname).name != fname or fname.startswith("."):
            raise CheckpointError(f"{record_path}: bad checkpoint file name {fname!r}")
    for fname, digest in expected.items():
        f = folder / fname
        if not f.is_file():
            raise CheckpointError(f"{f}: checkpoint file missing")
        if _sha256(f) != digest:
            raise CheckpointError(f"{f}: checksum mismatch, the checkpoint is corrupt")
    state_path = folder / "state.json"
    try:
        state = json.loads(state_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{state_path}: unreadable checkpoint state ({exc})") from exc
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{state_path}: unsupported checkpoint format")
    return folder, state


def load_weights(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(model state dict, EMA state dict) from ``folder/weights.safetensors``."""
    path = folder / "weights.safetensors"
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{path}: unreadable weights ({exc})") from exc
    model = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    ema = {k[len("ema."):]: v for k, v in tensors.items() if k.startswith("ema.")}
    if not ema:
        raise CheckpointError(f"{path}: no EMA weights in the checkpoint")
    return model, ema


def load_torch(path: Path) -> Any:
    """``torch.load(weights_only=True)`` with a clear error naming the file."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError/UnpicklingError/EOFError for corrupt files
        raise CheckpointError(f"{path}: unreadable checkpoint file ({exc})") from exc


def build_model(config: TrainConfig, meta: dict[str, Any]) -> FlowTransformer:
    """The :class:`FlowTransformer` described by ``config`` and the data ``meta`` (dim, classes, text size)."""
    m = config.model
    return FlowTransformer(
        dim=int(meta["dim"]), width=m.width, depth=m.depth, heads=m.heads, mlp_ratio=m.mlp_ratio,
        row_hidden=m.row_hidden, cond=config.cond, num_classes=len(meta.get("class_names") or []),
        text_dim=int(meta.get("text_dim") or 384), cond_tokens=m.cond_tokens,
        slots=int(meta["n"]) if m.slots else 0, self_condition=config.self_condition > 0,
        centre_freqs=m.centre_freqs, prediction=m.prediction,
        locality=m.locality,
    )
