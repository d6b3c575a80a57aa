"""The per-shape task of ``msdf preprocess``: mesh files -> M-SDF matrices + normalization + quality stats.

It runs inside a worker process (pebble pool or Ray), so it takes and returns plain picklable values and imports the
heavy libraries lazily. :func:`convert_batch` converts several shapes in one task so that the refinement stage runs
batched on a GPU (:func:`msdf.encoder.encode_mesh_batch`); with one shape per batch (the default) it is exactly
:func:`msdf.encoder.encode` per shape.
"""
from __future__ import annotations

import resource
import time
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class EncodeSettings:
    """Encoder settings shared by every shape of a run.

    ``refine_steps=None`` / ``half_width_factor=None`` / ``thick_half_width_factor=None`` keep the encoder's
    defaults; ``thick_per_shape`` widens whole shapes instead of thick parts (:func:`msdf.encoder.initialize`). ``stat_points`` surface samples measure the quality stats.
    """

    n_grids: int = 1024
    k: int = 7
    refine_steps: int | None = None
    half_width_factor: float | None = None
    thick_half_width_factor: float | None = None
    thick_per_shape: bool = False
    device: str = "cpu"
    seed: int = 0
    watertight_proxy: bool = False
    stat_points: int = 4096

    def to_dict(self) -> dict:
        return asdict(self)


def surface_stats(model, mesh, count: int, seed: int) -> dict:
    """Quality of an encoding on ``count`` area-uniform surface samples ``x`` of the mesh it was made from.

    ``coverage`` = fraction of samples inside at least one grid (blend weight ``W(x) > 0``; 1.0 is the goal);
    ``surface_error_mean`` / ``surface_error_max`` = mean / max of ``|F(x)|`` over covered samples, in unit-frame
    units (the true SDF is 0 on the surface; the unit frame's longest side spans 1.8).
    """
    import torch

    from msdf.field import blend_sdf
    from msdf.sampling import sample_surface

    points, _ = sample_surface(mesh, count, seed)
    unit = model.normalization.to_unit(np.asarray(points, dtype=np.float64)).astype(np.float32)
    centers = model.centers.detach()
    x = torch.as_tensor(unit, device=centers.device)[None]
    with torch.no_grad():
        f, w = blend_sdf(x, centers[None], model.scales.detach()[None], model.values.detach()[None])
    covered = (w[0] > 0).cpu().numpy()
    err = np.abs(f[0].cpu().numpy())[covered]
    return {
        "coverage": float(covered.mean()),
        "surface_error_mean": float(err.mean()) if err.size else None,
        "surface_error_max": float(err.max()) if err.size else None,
    }


def _json_safe(value):
    """``value`` with numpy scalars made plain and NaN/Inf replaced by None (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _load(source: str, settings: EncodeSettings):
    """(mesh to encode, mesh stats): the file's mesh, or its watertight proxy with ``settings.watertight_proxy``."""
    from msdf.meshio import load_mesh

    mesh = load_mesh(source)
    stats = {"vertices": int(len(mesh.vertices)), "faces": int(len(mesh.faces)), "watertight": bool(mesh.is_watertight)}
    if settings.watertight_proxy:
        from msdf.visco import watertight_proxy

        mesh = watertight_proxy(mesh)
    return mesh, stats


def _encode(meshes: list, settings: EncodeSettings) -> list:
    from msdf.encoder import encode_mesh_batch

    kwargs = {name: value for name in ("refine_steps", "half_width_factor", "thick_half_width_factor")
              if (value := getattr(settings, name)) is not None}
    return encode_mesh_batch(meshes, n_grids=settings.n_grids, k=settings.k, device=settings.device,
                             seed=settings.seed, quiet=True, thick_per_shape=settings.thick_per_shape, **kwargs)


def _result(source: str, model, mesh, stats: dict, settings: EncodeSettings, seconds: float) -> dict:
    start = time.perf_counter()
    matrix = model.to_matrix().detach().cpu().numpy().astype(np.float32)
    if not np.isfinite(matrix).all():
        raise FloatingPointError(f"{source}: the encoder produced NaN/Inf values")
    stats = dict(stats, encoder=_json_safe(getattr(model, "info", {})))
    stats.update(surface_stats(model, mesh, settings.stat_points, settings.seed))
    stats["worker_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
    return {"matrix": matrix, "normalization": model.normalization.to_dict(), "stats": stats,
            "seconds": seconds + time.perf_counter() - start}


def convert_batch(sources: tuple[str, ...], settings: EncodeSettings) -> list[dict]:
    """Convert several mesh files; one result per source, in order.

    A result is ``dict(matrix=(n, 4 + k^3) float32, normalization={"center", "scale"}, stats={...}, seconds=float)``
    or ``dict(error=reason)`` for that shape alone (unusable file, encoder error). ``stats`` holds the mesh size,
    whether it was watertight, the encoder's ``info``, :func:`surface_stats` and the worker's peak resident memory
    so far (``worker_peak_rss_mb``, Linux ``ru_maxrss``). Loading runs per shape; the shapes that load are encoded
    in one :func:`msdf.encoder.encode_mesh_batch` call (refinement batched on ``settings.device``); if that call
    fails they are encoded one by one so that an error stays with its shape.
    """
    from msdf.data.backends import describe_error

    results: list[dict | None] = [None] * len(sources)
    loaded = []  # (index, mesh, stats, load seconds)
    for i, source in enumerate(sources):
        start = time.perf_counter()
        try:
            mesh, stats = _load(source, settings)
        except Exception as exc:
            results[i] = {"error": describe_error(exc)}
        else:
            loaded.append((i, mesh, stats, time.perf_counter() - start))
    if loaded:
        start = time.perf_counter()
        try:
            models = _encode([m for _, m, _, _ in loaded], settings)
            share = (time.perf_counter() - start) / len(loaded)
            encoded = [(item, model, share) for item, model in zip(loaded, models)]
        except Exception as exc:
            encoded = []
            if len(loaded) == 1:
                results[loaded[0][0]] = {"error": describe_error(exc)}
            for item in loaded if len(loaded) > 1 else ():
                one = time.perf_counter()
                try:
                    encoded.append((item, _encode([item[1]], settings)[0], time.perf_counter() - one))
                except Exception as exc:
                    results[item[0]] = {"error": describe_error(exc)}
        for (i, mesh, stats, load_seconds), model, seconds in encoded:
            try:
                results[i] = _result(sources[i], model, mesh, stats, settings, load_seconds + seconds)
            except Exception as exc:
                results[i] = {"error": describe_error(exc)}
    return results
