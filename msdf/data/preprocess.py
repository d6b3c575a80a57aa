"""Dataset-scale conversion of meshes to M-SDF: read a dataset, convert in parallel, commit to a store, resume.

``preprocess(input, out_dir, ...)`` is what ``msdf preprocess`` runs. Its steps:

1. start the workers' fork server (it imports torch and Open3D in the background meanwhile), read the dataset
   (:func:`msdf.data.readers.read_dataset`) and keep this shard's records: with ``shard=(I, N)`` a
   record belongs to shard ``I`` when ``sha1(id) mod N == I`` (stable across machines, listing order and dataset
   growth; the union of all N shards is the whole set and they are disjoint);
2. open the store for this writer (:class:`msdf.data.writer.StoreWriter`: locks, recovers after a kill) and skip
   records already converted by any writer, and records already failed unless ``retry_failed``;
3. order the rest largest file first (longest-processing-time-first scheduling: the big meshes start early instead
   of leaving one worker busy at the end while the others idle) and run :func:`msdf.data.task.convert_batch` on them
   (``batch_size`` shapes per task) with the local or Ray backend, committing shapes to shards and failures to the
   failures file as they arrive, with a tqdm bar (shapes/s, ETA);
4. write the summary (counts, throughput) atomically.
"""
from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Callable

from msdf.atomic import write_json
from msdf.data.backends import default_workers, run_local, run_ray, start_fork_server
from msdf.data.layout import summary_path, writer_tag
from msdf.data.readers import ShapeRecord, read_dataset
from msdf.data.store import StoreError
from msdf.data.task import EncodeSettings, convert_batch
from msdf.data.writer import StoreWriter
from msdf.rows import row_dim

#: Modules each local worker imports before its first task (so the time limit measures conversion only). The encoder
#: avoids ``torch.optim`` (:mod:`msdf.adam`), so workers never pay for importing ``torch._dynamo``.
PRELOAD = ("msdf.encoder", "msdf.meshio", "msdf.field", "msdf.sampling")


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)`` with ``0 <= I < N``."""
    try:
        index, count = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like I/N (for example 3/10), got {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"--shard {text}: need 0 <= I < N")
    return index, count


def shard_of(record_id: str, count: int) -> int:
    """The shard (0..count-1) a record id belongs to: ``int(sha1(id)) mod count``."""
    return int.from_bytes(hashlib.sha1(record_id.encode("utf-8")).digest()[:8], "big") % count


def select_shard(records: list[ShapeRecord], shard: tuple[int, int] | None) -> list[ShapeRecord]:
    """The records of shard ``(I, N)`` (all records when ``shard`` is None)."""
    if shard is None:
        return list(records)
    index, count = shard
    return [r for r in records if shard_of(r.id, count) == index]


def largest_first(records: list[ShapeRecord]) -> list[ShapeRecord]:
    """``records`` by decreasing source file size (unreadable files, which fail fast, count as 0 bytes); stable, so
    equal sizes keep the dataset order. Longest-processing-time-first: conversion time grows with mesh size."""
    def size(record: ShapeRecord) -> int:
        try:
            return os.path.getsize(record.source)
        except OSError:
            return 0

    return sorted(records, key=size, reverse=True)


def shard_rows_for(n: int, k: int, shard_mb: float) -> int:
    """Shapes per shard so that a shard file is about ``shard_mb`` MiB (at least one shape)."""
    return max(1, int(shard_mb * 2 ** 20 // (n * row_dim(k) * 4)))


def preprocess(input_path: str | os.PathLike, out_dir: str | os.PathLike, *, fmt: str = "auto",
               settings: EncodeSettings = EncodeSettings(), workers: int | None = None,
               shard: tuple[int, int] | None = None, backend: str = "local", address: str | None = None,
               timeout: float | None = 600.0, retry_failed: bool = False, shard_mb: float = 256.0,
               flush_seconds: float = 300.0, batch_size: int = 1, quiet: bool = False,
               task: Callable[[tuple[str, ...], EncodeSettings], list[dict]] = convert_batch) -> dict:
    """Convert every mesh of ``input_path`` into the store ``out_dir``; returns the summary dict.

    ``summary["converted"] + summary["failed"] == summary["total"]`` once the run ends; ``total`` counts this shard's
    records, ``converted`` includes shapes converted by earlier runs (``skipped_done``). ``batch_size`` shapes go to
    one task (refined together on the device; the time limit is ``timeout * batch_size``); a task that times out or
    whose worker dies fails all its shapes. ``task`` is the picklable per-batch function
    (:func:`msdf.data.task.convert_batch` signature).
    """
    from tqdm.auto import tqdm

    if backend not in ("local", "ray"):
        raise ValueError(f"unknown backend {backend!r}; choose local or ray")
    start = time.perf_counter()
    if backend == "local":
        start_fork_server(PRELOAD)  # workers' imports overlap with reading the dataset
    fmt, records = read_dataset(input_path, fmt)
    selected = select_shard(records, shard)
    workers = default_workers() if workers is None else max(1, int(workers))
    tag = writer_tag(shard)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with StoreWriter(out, settings.n_grids, settings.k, tag=tag,
                     shard_rows=shard_rows_for(settings.n_grids, settings.k, shard_mb),
                     flush_seconds=flush_seconds, retry_failed=retry_failed) as writer:
        done, failed_before = writer.done_ids(), writer.failed_ids()
        todo = [r for r in selected if r.id not in done and (retry_failed or r.id not in failed_before)]
        todo = largest_first(todo)
        by_id = {r.id: r for r in todo}
        batch_size = max(1, int(batch_size))
        batches = [todo[i:i + batch_size] for i in range(0, len(todo), batch_size)]
        items = ((tuple(r.id for r in b), (tuple(r.source for r in b), settings)) for b in batches)
        limit = None if timeout is None else timeout * batch_size
        if not batches:
            results = iter(())
        elif backend == "local":
            results = run_local(task, items, min(workers, len(batches)), limit, preload=PRELOAD)
        else:
            results = run_ray(task, items, workers, limit, address, preload=PRELOAD)
        new_ok = new_failed = 0
        encode_seconds = 0.0
        bar = tqdm(total=len(todo), unit="shape", desc="preprocess", disable=quiet, dynamic_ncols=True)
        try:
            for ids, outcome in results:
                if outcome.error is not None:  # the whole task failed: time limit, dead worker
                    note = (f" (in a batch of {len(ids)}; --retry-failed --batch-size 1 isolates it)"
                            if len(ids) > 1 else "")
                    values = [{"error": outcome.error + note}] * len(ids)
                else:
                    values = outcome.value
                for rid, value in zip(ids, values):
                    record = by_id[rid]
                    if "error" not in value:
                        entry = dict(record.to_dict(), normalization=value["normalization"], stats=value["stats"],
                                     seconds=round(float(value["seconds"]), 4), n=settings.n_grids, k=settings.k,
                                     seed=settings.seed)
                        try:
                            writer.add(entry, value["matrix"])
                        except StoreError as exc:
                            value = {"error": str(exc)}
                        else:
                            new_ok += 1
                            encode_seconds += float(value["seconds"])
                    if "error" in value:
                        writer.add_failure(dict(record.to_dict(), error=value["error"]))
                        new_failed += 1
                if writer.flush_due():
                    writer.flush()
                bar.update(len(ids))
                bar.set_postfix(ok=new_ok, failed=new_failed, refresh=False)
        finally:
            bar.close()
            if hasattr(results, "close"):
                results.close()  # stops the pool / Ray now, also when interrupted
        writer.flush()
        done_after = writer.done_ids()
        recovery = writer.recovery
    converted = sum(r.id in done_after for r in selected)
    wall = time.perf_counter() - start
    summary = {
        "input": str(input_path), "format": fmt, "out_dir": str(out), "shard": list(shard) if shard else None,
        "backend": backend, "workers": workers, "batch_size": batch_size, "settings": settings.to_dict(),
        "timeout": timeout,
        "total": len(selected), "dataset_total": len(records), "converted": converted,
        "failed": len(selected) - converted, "new_converted": new_ok, "new_failed": new_failed,
        "skipped_done": sum(r.id in done for r in selected),
        "skipped_failed": len(selected) - len(todo) - sum(r.id in done for r in selected),
        "recovery": recovery, "wall_seconds": round(wall, 3),
        "shapes_per_minute": round(60.0 * new_ok / wall, 3),
        "mean_seconds_per_shape": round(encode_seconds / new_ok, 4) if new_ok else None,
    }
    write_json(summary_path(out, tag), summary, sort_keys=True)
    return summary
