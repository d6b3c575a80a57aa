"""Benchmark ``msdf preprocess``: throughput (shapes/min) with 1 and 2 pool workers vs a plain serial loop.

Baseline: the loop a user would write without this tool, ``for f in files: convert_batch((f,), settings)`` in one
process (same per-shape work, no pool, no store). Each configuration runs ``--repeats`` times on the same meshes into
a fresh store; the table shows medians. Pool timings include starting the workers (spawned processes that import
torch/open3d once each), as a user would see. Peak memory per worker is the largest ``worker_peak_rss_mb`` in the
manifest. With ``--device cuda`` (when CUDA is available) the pool's workers encode on the GPU.

    python bench/bench_preprocess.py                    # /work/shared/meshes/watertight, workers 1 and 2
    python bench/bench_preprocess.py --limit 8 --repeats 1 --grids 64 --k 5 --refine-steps 10   # quick look

Writes ``bench/results/preprocess.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from msdf.atomic import atomic_write  # noqa: E402
from msdf.data.layout import read_jsonl  # noqa: E402
from msdf.data.preprocess import preprocess  # noqa: E402
from msdf.data.readers import read_dataset  # noqa: E402
from msdf.data.task import EncodeSettings, convert_batch  # noqa: E402


def serial_baseline(sources: list[str], settings: EncodeSettings) -> float:
    """Seconds for a plain in-process loop over the meshes."""
    start = time.perf_counter()
    for s in sources:
        convert_batch((s,), settings)
    return time.perf_counter() - start


def pool_run(data: Path, settings: EncodeSettings, workers: int, limit: int | None, batch_size: int) -> dict:
    """One ``preprocess`` run into a fresh temp store (on a list file when ``limit`` cuts the dataset)."""
    tmp = Path(tempfile.mkdtemp(prefix="bench_preprocess_"))
    try:
        source: Path = data
        if limit is not None:
            _, records = read_dataset(data)
            source = tmp / "list.txt"
            source.write_text("".join(r.source + "\n" for r in records[:limit]))
        start = time.perf_counter()
        summary = preprocess(source, tmp / "out", settings=settings, workers=workers, quiet=True, timeout=None,
                             batch_size=batch_size)
        wall = time.perf_counter() - start
        rss = [e["stats"].get("worker_peak_rss_mb", 0.0) for e in read_jsonl(tmp / "out" / "manifest.jsonl")]
        return {"wall": wall, "converted": summary["converted"], "failed": summary["failed"],
                "peak_rss_mb": max(rss, default=0.0)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "meshes" / "watertight")
    ap.add_argument("--limit", type=int, default=None, help="use only the first N meshes")
    ap.add_argument("--grids", type=int, default=256)
    ap.add_argument("--k", type=int, default=7)
    ap.add_argument("--refine-steps", type=int, default=50)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=1, help="shapes per task (batched refinement on --device)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "preprocess.json")
    args = ap.parse_args()

    settings = EncodeSettings(n_grids=args.grids, k=args.k, refine_steps=args.refine_steps, device=args.device)
    _, records = read_dataset(args.data)
    records = records[: args.limit] if args.limit else records
    count = len(records)
    rows = []
    serial = [serial_baseline([r.source for r in records], settings) for _ in range(args.repeats)]
    rows.append({"config": "baseline: serial loop", "workers": 1, "median_wall_s": statistics.median(serial),
                 "walls_s": serial, "peak_rss_mb": None})
    for w in args.workers:
        runs = [pool_run(args.data, settings, w, args.limit, args.batch_size) for _ in range(args.repeats)]
        if any(r["converted"] != count for r in runs):
            print(f"warning: workers={w}: not every shape converted: {runs}", file=sys.stderr)
        rows.append({"config": f"msdf preprocess --workers {w} --batch-size {args.batch_size}", "workers": w,
                     "median_wall_s": statistics.median(r["wall"] for r in runs), "walls_s": [r["wall"] for r in runs],
                     "peak_rss_mb": max(r["peak_rss_mb"] for r in runs)})
    for r in rows:
        r["shapes_per_min"] = 60.0 * count / r["median_wall_s"]
        r["shapes_per_s"] = count / r["median_wall_s"]
    by_workers = {r["workers"]: r for r in rows[1:]}
    scaling = (by_workers[2]["shapes_per_min"] / by_workers[1]["shapes_per_min"]
               if 1 in by_workers and 2 in by_workers else None)

    print(f"\npreprocess throughput: {count} meshes from {args.data}, n={args.grids} k={args.k} "
          f"refine_steps={args.refine_steps} device={args.device}, median of {args.repeats}")
    print(f"{'configuration':<44} {'wall s':>8} {'shapes/min':>11} {'peak RSS/worker MB':>19}")
    for r in rows:
        rss = "-" if r["peak_rss_mb"] is None else f"{r['peak_rss_mb']:.0f}"
        print(f"{r['config']:<44} {r['median_wall_s']:>8.1f} {r['shapes_per_min']:>11.1f} {rss:>19}")
    if scaling is not None:
        print(f"scaling 2 workers / 1 worker: {scaling:.2f}x (target >= 1.7x on 2 free cores)")

    result = {"benchmark": "preprocess", "data": str(args.data), "shapes": count, "settings": settings.to_dict(),
              "batch_size": args.batch_size,
              "repeats": args.repeats, "rows": rows, "scaling_2_over_1": scaling,
              "machine": {"python": platform.python_version(), "platform": platform.platform(),
                          "cpus": os.cpu_count()},
              "note": "wall times include worker start-up; medians of the repeats"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(args.out) as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
