"""Benchmark ``msdf preprocess``: throughput (shapes/min) with 1 and 2 pool workers vs a plain serial loop.

Baseline: the loop a user would write without this tool, ``for f in files: convert_batch((f,), settings)`` in one
process (same per-shape work, no pool, no store). Each configuration runs ``--repeats`` times on the same meshes into
a fresh store; the table shows medians. Every run is a fresh process (the CLI as users run it; the baseline loop
in ``python -c``), so each configuration pays the imports of torch/open3d once, as a user would see. Peak memory
per worker is the largest ``worker_peak_rss_mb`` in the manifest. With ``--device cuda`` the workers encode on the
GPU; ``--batch-size B`` refines B shapes together there. The pool's start-up (a fork server importing torch and
Open3D, ~6-8 s) is measured separately per worker count (the same command on the 2 smallest meshes with 8 grids of
3^3, no refinement) and the table also gives the steady throughput ``shapes / (wall - start-up)``, which is what a
dataset-scale run sees.

    python bench/bench_preprocess.py                    # ../shared/meshes/watertight, workers 1 and 2, CLI defaults
    python bench/bench_preprocess.py --grids 256 --refine-steps 50 --out bench/results/preprocess_n256.json
    python bench/bench_preprocess.py --limit 8 --repeats 1 --grids 64 --k 5 --refine-steps 10   # quick look
    python bench/bench_preprocess.py --data demo_output/data/synth --grids 256 --k 5 --refine-steps 25 --limit 120

Writes ``bench/results/preprocess.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.results_io import write_result  # noqa: E402
from msdf.data.layout import read_jsonl  # noqa: E402
from msdf.data.readers import read_dataset  # noqa: E402
from msdf.data.task import EncodeSettings  # noqa: E402
from msdf.refine import DEFAULT_REFINE_STEPS  # noqa: E402


SERIAL = """
import sys
from msdf.data.task import EncodeSettings, convert_batch
settings = EncodeSettings(**__import__("json").loads(sys.argv[1]))
for source in sys.argv[2:]:
    result = convert_batch((source,), settings)[0]
    assert "error" not in result, result
"""


def serial_baseline(sources: list[str], settings: EncodeSettings) -> float:
    """Seconds for a plain loop over the meshes in one fresh Python process (imports included, as for the pool)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", SERIAL, json.dumps(settings.to_dict()), *sources], check=True, cwd=REPO)
    return time.perf_counter() - start


def pool_run(sources: list[str], settings: EncodeSettings, workers: int, batch_size: int) -> dict:
    """One ``msdf preprocess`` CLI run (a fresh process, as a user runs it) on a list file, into a fresh store."""
    tmp = Path(tempfile.mkdtemp(prefix="bench_preprocess_"))
    try:
        listing = tmp / "list.txt"
        listing.write_text("".join(s + "\n" for s in sources))
        cmd = [sys.executable, "-m", "msdf", "preprocess", str(listing), "-o", str(tmp / "out"), "--quiet",
               "--workers", str(workers), "--batch-size", str(batch_size), "--grids", str(settings.n_grids),
               "--k", str(settings.k), "--device", settings.device, "--seed", str(settings.seed), "--timeout", "0"]
        if settings.refine_steps is not None:
            cmd += ["--refine-steps", str(settings.refine_steps)]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        wall = time.perf_counter() - start
        summary = json.loads((tmp / "out" / "summary.json").read_text()) if proc.returncode in (0, 1) else {}
        if proc.returncode != 0:
            print(f"warning: workers={workers}: exit status {proc.returncode}: {proc.stderr[-2000:]}", file=sys.stderr)
        rss = [e["stats"].get("worker_peak_rss_mb", 0.0) for e in read_jsonl(tmp / "out" / "manifest.jsonl")]
        return {"wall": wall, "converted": summary.get("converted", 0), "failed": summary.get("failed"),
                "peak_rss_mb": max(rss, default=0.0)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "meshes" / "watertight")
    ap.add_argument("--limit", type=int, default=None, help="use only the first N meshes")
    ap.add_argument("--grids", type=int, default=1024, help="grids per shape (default 1024, as msdf preprocess)")
    ap.add_argument("--k", type=int, default=7)
    ap.add_argument("--refine-steps", type=int, default=None,
                    help="refinement steps (default: the encoder's, as msdf preprocess)")
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
    load_before = os.getloadavg()[0]
    serial = [serial_baseline([r.source for r in records], settings) for _ in range(args.repeats)]
    rows.append({"config": "baseline: serial loop", "workers": 1, "median_wall_s": statistics.median(serial),
                 "walls_s": serial, "peak_rss_mb": None})
    tiny = EncodeSettings(n_grids=8, k=3, refine_steps=0, device=args.device)
    smallest = sorted((r.source for r in records), key=os.path.getsize)[:2]
    for w in args.workers:
        startup = statistics.median(pool_run(smallest, tiny, w, 1)["wall"] for _ in range(args.repeats))
        runs = [pool_run([r.source for r in records], settings, w, args.batch_size) for _ in range(args.repeats)]
        if any(r["converted"] != count for r in runs):
            print(f"warning: workers={w}: not every shape converted: {runs}", file=sys.stderr)
        rows.append({"config": f"msdf preprocess --workers {w} --batch-size {args.batch_size}", "workers": w,
                     "median_wall_s": statistics.median(r["wall"] for r in runs), "walls_s": [r["wall"] for r in runs],
                     "peak_rss_mb": max(r["peak_rss_mb"] for r in runs), "startup_s": startup})
    for r in rows:
        r["shapes_per_min"] = 60.0 * count / r["median_wall_s"]
        r["shapes_per_s"] = count / r["median_wall_s"]
        if "startup_s" in r:
            r["steady_shapes_per_min"] = 60.0 * count / max(r["median_wall_s"] - r["startup_s"], 1e-9)
    by_workers = {r["workers"]: r for r in rows[1:]}
    scaling = steady = None
    if 1 in by_workers and 2 in by_workers:
        scaling = by_workers[2]["shapes_per_min"] / by_workers[1]["shapes_per_min"]
        steady = by_workers[2]["steady_shapes_per_min"] / by_workers[1]["steady_shapes_per_min"]

    steps = args.refine_steps if args.refine_steps is not None else f"{DEFAULT_REFINE_STEPS} (default)"
    print(f"\npreprocess throughput: {count} meshes from {args.data}, n={args.grids} k={args.k} "
          f"refine_steps={steps} device={args.device}, median of {args.repeats}")
    print(f"{'configuration':<44} {'wall s':>8} {'shapes/min':>11} {'start-up s':>11} {'steady /min':>12} "
          f"{'peak RSS/worker MB':>19}")
    for r in rows:
        rss = "-" if r["peak_rss_mb"] is None else f"{r['peak_rss_mb']:.0f}"
        up = f"{r['startup_s']:.1f}" if "startup_s" in r else "-"
        st = f"{r['steady_shapes_per_min']:.1f}" if "steady_shapes_per_min" in r else "-"
        print(f"{r['config']:<44} {r['median_wall_s']:>8.1f} {r['shapes_per_min']:>11.1f} {up:>11} {st:>12} {rss:>19}")
    if scaling is not None:
        print(f"scaling 2 workers / 1 worker: {scaling:.2f}x end to end, {steady:.2f}x without the pool start-up "
              f"(target >= 1.7x on 2 free cores)")

    result = {"benchmark": "preprocess", "data": str(args.data), "shapes": count, "settings": settings.to_dict(),
              "batch_size": args.batch_size,
              "repeats": args.repeats, "rows": rows, "scaling_2_over_1": scaling,
              "steady_scaling_2_over_1": steady,
              "machine": {"python": platform.python_version(), "platform": platform.platform(),
                          "cpus": os.cpu_count()},
              "date": time.strftime("%Y-%m-%d"), "load_average_1min_before": load_before,
              "note": "each run is a fresh process: wall times include imports and worker start-up; 'start-up' is "
                      "the wall time of the same command on the 2 smallest meshes with 8 grids of 3^3 and no "
                      "refinement; 'steady' = shapes / (wall - start-up); medians"}
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
