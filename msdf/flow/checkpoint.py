"""Run directories and checkpoints; ``load_sampler(run_dir, device) -> FlowSampler`` for generation.

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
from msdf.flow.condition import Condition
from msdf.flow.config import TrainConfig
from msdf.flow.model import FlowTransformer
from msdf.flow.normalizer import Normalizer

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
        slots=int(meta["n"]) if m.slots else 0,
    )


class FlowSampler:
    """A trained velocity field ready for ODE solvers (the contract of docs/CONTRACTS.md).

    Works in the *normalised* space: ``x0 ~ N(0, I)`` of shape (B, n, dim) at ``t = 0``, data at ``t = 1``;
    :meth:`denormalize` maps the result back to raw M-SDF matrices.  Weights are the EMA weights, frozen
    (``requires_grad=False``), so gradients flow only to ``x`` (D-Flow) when the caller enables them.
    """

    def __init__(self, model: FlowTransformer, normalizer: Normalizer, config: TrainConfig, meta: dict[str, Any],
                 run_dir: Path, device: torch.device):
        self.model = model.to(device).eval().requires_grad_(False)
        self.normalizer = normalizer
        self.train_config = config
        self.config = config.to_dict()
        self.meta = meta
        self.run_dir = Path(run_dir)
        self.device = device
        self.n, self.k, self.dim = int(meta["n"]), int(meta["k"]), int(meta["dim"])
        self.class_names: list[str] = list(meta.get("class_names") or [])
        self.cond_type = config.cond
        self._text = None

    def velocity(self, x: torch.Tensor, t: torch.Tensor | float, cond: Condition | None = None,
                 guidance: float = 1.0) -> torch.Tensor:
        """Guided velocity (B, n, dim) at ``x`` (B, n, dim), ``t`` (B,) or scalar; ``cond`` batch B or 1.

        ``cond=None`` means unconditional (the learned null condition).
        """
        if cond is None:
            cond = self.condition()
        return self.model.forward_with_cfg(x, t, cond.to(x.device), guidance)

    def condition(self, prompts: list[str] | None = None, classes: list[str] | None = None) -> Condition:
        """Build a :class:`Condition` from captions or class names (one row each; ``""`` or ``None`` -> null).

        With neither, a single null (unconditional) row.  Class models accept prompts that name exactly one class.
        """
        if prompts is not None and classes is not None:
            raise ValueError("give prompts or classes, not both")
        items = prompts if prompts is not None else classes
        if items is None:
            items = [None]
        null = torch.tensor([not s for s in items], dtype=torch.bool, device=self.device)
        if self.cond_type == "none":
            return Condition(null=torch.ones_like(null))
        if self.cond_type == "class":
            names = classes if classes is not None else [self._class_from_prompt(p) if p else None for p in items]
            labels = torch.tensor([self._class_index(c) if c else 0 for c in names], device=self.device)
            return Condition(null=null, labels=labels)
        if classes is not None:
            raise ValueError("this model is text-conditional: pass prompts=[...], not classes")
        emb = torch.zeros(len(items), int(self.meta["text_dim"]))
        real = [i for i, p in enumerate(items) if p]
        if real:
            emb[real] = self._caption_cache().embed([items[i] for i in real])
        return Condition(null=null, text=emb.to(self.device))

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised (B, n, dim) -> raw M-SDF matrices (B, n, dim)."""
        return self.normalizer.denormalize(x)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Raw M-SDF matrices -> the model's normalised space."""
        return self.normalizer.normalize(x)

    def _class_index(self, name: str) -> int:
        if name not in self.class_names:
            raise ValueError(f"unknown class {name!r}; this model knows: {', '.join(self.class_names)}")
        return self.class_names.index(name)

    def _class_from_prompt(self, prompt: str) -> str:
        words = set(re.findall(r"[a-z0-9_\-]+", prompt.lower()))
        hits = [c for c in self.class_names if c.lower() in words or f"{c.lower()}s" in words]
        if len(hits) != 1:
            raise ValueError(
                f"class-conditional model: prompt {prompt!r} must name exactly one of {', '.join(self.class_names)}"
            )
        return hits[0]

    def _caption_cache(self):
        """Prompt embeddings cached in RUN/caption-embeddings.<model>.safetensors: a prompt seen before (by this
        sampler, an earlier ``msdf generate`` or the bench scripts) needs no text encoder."""
        if self._text is None:
            from msdf.flow.text import CaptionCache, cache_path

            model = self.meta.get("text_model")
            self._text = CaptionCache(cache_path(self.run_dir, model), model)
        return self._text


def load_sampler(run_dir: str | Path, device: str | torch.device = "cpu") -> FlowSampler:
    """Load the latest checkpoint of a training run as a :class:`FlowSampler` (EMA weights) on ``device``."""
    device = torch.device("cuda" if str(device) == "auto" and torch.cuda.is_available() else
                          ("cpu" if str(device) == "auto" else device))
    folder, state = latest_checkpoint(run_dir)
    try:
        config = TrainConfig.from_dict(state["config"], source=str(folder / "state.json"))
        meta = state["meta"]
        normalizer = Normalizer.from_stats(state["normalizer"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{folder / 'state.json'}: incomplete checkpoint state ({exc})") from exc
    _, ema = load_weights(folder)
    model = build_model(config, meta)
    try:
        model.load_state_dict(ema)
    except RuntimeError as exc:
        raise CheckpointError(f"{folder / 'weights.safetensors'}: weights do not match the config ({exc})") from exc
    return FlowSampler(model, normalizer, config, meta, Path(run_dir), device)
