"""``msdf preprocess`` end to end with the real encoder (small settings): bad inputs, resume after SIGKILL, shards,
determinism, worker crashes and time limits, the Ray backend, and reading the result with MSDFStore."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from msdf.cli import main as cli_main
from msdf.data.backends import run_local
from msdf.data.layout import read_jsonl
from msdf.data.preprocess import largest_first, preprocess, select_shard, shard_of
from msdf.data.readers import ShapeRecord, read_dataset
from msdf.data.store import MSDFStore
from msdf.data.task import EncodeSettings

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[1]
SMALL = ["--grids", "64", "--k", "5", "--refine-steps", "2", "--seed", "3"]
SETTINGS = EncodeSettings(n_grids=64, k=5, refine_steps=2, seed=3)  # the same as SMALL
GOOD = {"good/joint.off": "watertight/joint.off", "good/spool.off": "watertight/spool.off",
        "open/head.off": "open/head.off"}
# bad file -> words its reason must contain
BAD = {"bad/empty.off": "empty", "bad/garbage.obj": "no geometry", "bad/truncated.glb": "truncated",
       "bad/truncated.ply": "truncated", "bad/nan.off": "NaN", "bad/degenerate.off": "degenerate",
       "bad/points.ply": "point cloud", "bad/notes.xyzzy": "unsupported", "bad/dangling.off": "not found"}


def _make_mixed(root: Path) -> Path:
    import trimesh

    for dst, src in GOOD.items():
        (root / dst).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DATA / src, root / dst)
    bad = root / "bad"
    bad.mkdir()
    (bad / "empty.off").write_bytes(b"")
    (bad / "garbage.obj").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    joint = trimesh.load(DATA / "watertight" / "joint.off")
    for ext in ("glb", "ply"):
        blob = joint.export(file_type=ext)
        (bad / f"truncated.{ext}").write_bytes(blob[: len(blob) // 2])
    (bad / "nan.off").write_text("OFF\n3 1 0\n0 0 0\nnan 1 0\n0 0 1\n3 0 1 2\n")
    (bad / "degenerate.off").write_text("OFF\n3 2 0\n0 0 0\n1 1 1\n2 2 2\n3 0 1 2\n3 2 1 0\n")
    (bad / "points.ply").write_text("ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
                                    "property float z\nend_header\n0 0 0\n1 0 0\n0 1 0\n")
    (bad / "notes.xyzzy").write_text("not a mesh format")
    os.symlink(root / "no" / "such" / "file.off", bad / "dangling.off")
    return root


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory):
    """One CLI run over the mixed folder (good, open and bad files) with 2 workers."""
    root = _make_mixed(tmp_path_factory.mktemp("mixed"))
    out = tmp_path_factory.mktemp("store") / "out"
    status = cli_main(["preprocess", str(root), "-o", str(out), "--workers", "2", "--quiet", *SMALL])
    return root, out, status


def test_largest_files_are_scheduled_first(tmp_path):
    sizes = {"a": 10, "b": 300, "c": 10, "d": 50}
    records = []
    for name, size in sizes.items():
        (tmp_path / f"{name}.off").write_bytes(b"x" * size)
        records.append(ShapeRecord(id=name, source=str(tmp_path / f"{name}.off")))
    records.append(ShapeRecord(id="missing", source=str(tmp_path / "missing.off")))
    assert [r.id for r in largest_first(records)] == ["b", "d", "a", "c", "missing"]


def test_good_and_open_meshes_converted_once_bad_ones_recorded(mixed_run):
    _, out, status = mixed_run
    assert status == 1  # something failed
    ids = [e["id"] for e in read_jsonl(out / "manifest.jsonl")]
    assert sorted(ids) == sorted(GOOD)
    failures = {f["id"]: f["error"] for f in read_jsonl(out / "failures.jsonl")}
    assert set(failures) == set(BAD)
    for rid, words in BAD.items():
        assert words.lower() in failures[rid].lower(), (rid, failures[rid])
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["total"], summary["converted"], summary["failed"]) == (len(GOOD) + len(BAD), len(GOOD), len(BAD))
    assert not [p for p in out.rglob(".*") if ".tmp" in p.name]


def test_manifest_has_stats_and_store_reads_back_in_user_frame(mixed_run):
    import trimesh

    _, out, _ = mixed_run
    store = MSDFStore(out)
    assert (len(store), store.n, store.k) == (len(GOOD), 64, 5)
    lines = {e["id"]: e for e in read_jsonl(out / "manifest.jsonl")}
    for i in range(len(store)):
        entry = lines[store.ids[i]]
        assert entry["stats"]["coverage"] > 0.99 and entry["stats"]["surface_error_mean"] < 0.05
        assert entry["seconds"] > 0 and entry["label"] in ("good", "open")
        assert entry["stats"]["watertight"] == (entry["label"] == "good")
        mesh = trimesh.load(DATA / GOOD[entry["id"]], process=True)
        model = store.msdf(i)
        assert store[i]["msdf"].shape == (64, 4 + 5 ** 3)
        # vertices lie on the surface: the stored M-SDF evaluated in the mesh's own coordinates is ~0 there
        sdf = model.sdf(np.asarray(mesh.vertices[::7], dtype=np.float32), frame="user")
        size = float(np.ptp(mesh.vertices, axis=0).max())
        assert float(np.abs(np.asarray(sdf)).mean()) < 0.02 * size
    stats = store.stats()
    assert stats["mean"].shape == (4 + 5 ** 3,) and np.all(stats["std"] > 0)


def test_half_width_factor_reaches_the_store_and_its_summary(mixed_run, tmp_path):
    _, out, _ = mixed_run
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(DATA / GOOD["good/joint.off"], src / "joint.off")
    status = cli_main(["preprocess", str(src), "-o", str(tmp_path / "wide"), "--workers", "1", "--quiet", *SMALL,
                       "--half-width-factor", "1.8", "--thick-half-width-factor", "3"])
    assert status == 0
    wide, base = MSDFStore(tmp_path / "wide"), MSDFStore(out)
    i = base.ids.index("good/joint.off")
    widths, covering = wide[0]["msdf"][:, 3], float(base[i]["msdf"][0, 3]) * 1.8 / 1.2
    assert float(widths.min()) == pytest.approx(covering, rel=1e-5) and float(widths.max()) <= covering * 3 / 1.8 + 1e-6
    summary = json.loads((tmp_path / "wide" / "summary.json").read_text())
    assert (summary["settings"]["half_width_factor"], summary["settings"]["thick_half_width_factor"]) == (1.8, 3.0)
    for bad in (["--half-width-factor", "0.9"], ["--thick-half-width-factor", "1.1"], ["--thick-per-shape"]):
        assert cli_main(["preprocess", str(src), "-o", str(tmp_path / "bad"), *bad]) == 2
    status = cli_main(["preprocess", str(src), "-o", str(tmp_path / "whole"), "--workers", "1", "--quiet", *SMALL,
                       "--half-width-factor", "1.8", "--thick-half-width-factor", "3", "--thick-per-shape"])
    assert status == 0
    widths = MSDFStore(tmp_path / "whole")[0]["msdf"][:, 3]
    assert float(widths.min()) == float(widths.max())  # one half-width per shape, covering or widened
    assert json.loads((tmp_path / "whole" / "summary.json").read_text())["settings"]["thick_per_shape"] is True


def test_rerun_skips_everything_and_keeps_exit_status(mixed_run):
    root, out, _ = mixed_run
    summary = preprocess(root, out, settings=SETTINGS, workers=1, quiet=True)
    assert summary["new_converted"] == 0 and summary["skipped_done"] == len(GOOD)
    assert summary["skipped_failed"] == len(BAD) and summary["failed"] == len(BAD)
    assert len(list(read_jsonl(out / "manifest.jsonl"))) == len(GOOD)
    assert len(list(read_jsonl(out / "failures.jsonl"))) == len(BAD)


def test_concurrent_shards_union_equals_whole_and_matrices_are_deterministic(mixed_run, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    root, whole_out, _ = mixed_run
    _, records = read_dataset(root)
    parts = [select_shard(records, (i, 3)) for i in range(3)]
    assert sorted(r.id for p in parts for r in p) == sorted(r.id for r in records)
    assert all(shard_of(r.id, 3) == i for i, p in enumerate(parts) for r in p)
    src = tmp_path / "in"  # the good and open meshes only (fast), with the same ids as in the mixed folder
    for rid in GOOD:
        (src / rid).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / rid, src / rid)
    out = tmp_path / "out"
    with ThreadPoolExecutor(2) as ex:  # shards 0/2 and 1/2 write into the same folder at the same time
        list(ex.map(lambda i: preprocess(src, out, settings=SETTINGS, workers=1, shard=(i, 2), quiet=True), (0, 1)))
    assert sorted(p.name for p in out.glob("manifest*.jsonl")) == ["manifest-0000of0002.jsonl",
                                                                  "manifest-0001of0002.jsonl"]
    sharded, whole = MSDFStore(out), MSDFStore(whole_out)
    assert sorted(sharded.ids) == sorted(GOOD)
    by_id = {rid: i for i, rid in enumerate(whole.ids)}
    for i, rid in enumerate(sharded.ids):
        np.testing.assert_array_equal(sharded[i]["msdf"], whole[by_id[rid]]["msdf"])  # same input + seed


def test_batches_keep_errors_with_their_shape(mixed_run, tmp_path):
    root, whole_out, _ = mixed_run
    listing = tmp_path / "batch.txt"
    listing.write_text("".join(str(root / f) + "\n" for f in ("good/joint.off", "bad/nan.off", "good/spool.off")))
    summary = preprocess(listing, tmp_path / "out", settings=SETTINGS, workers=1, batch_size=3, quiet=True)
    assert (summary["converted"], summary["failed"]) == (2, 1)
    [failure] = read_jsonl(tmp_path / "out" / "failures.jsonl")
    assert failure["source"].endswith("nan.off") and "NaN" in failure["error"]
    batched, whole = MSDFStore(tmp_path / "out"), MSDFStore(whole_out)
    by_source = {whole.entry(i)["source"]: i for i in range(len(whole))}
    for item in batched:
        np.testing.assert_allclose(item["msdf"], whole[by_source[item["source"]]]["msdf"], atol=1e-4)


def test_sigkill_mid_run_then_resume_completes_without_duplicates(tmp_path):
    src = tmp_path / "in"
    names = ["joint.off", "spool.off", "rotor.off", "pinion.off", "helmet.off"]
    for name in names:
        (src / "parts").mkdir(parents=True, exist_ok=True)
        shutil.copy(DATA / "watertight" / name, src / "parts" / name)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "msdf", "preprocess", str(src), "-o", str(out), "--workers", "1", "--quiet",
           "--shard-mb", "0", *SMALL]  # --shard-mb 0: one shape per shard, so commits happen all the time
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list(read_jsonl(out / "manifest.jsonl"))) >= 1:
                break
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its worker processes, at an arbitrary instant
        proc.wait()
    killed_with = len(list(read_jsonl(out / "manifest.jsonl")))
    assert 0 < killed_with < len(names), "the run should be killed mid-way"
    rerun = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    last = rerun.stdout.strip().splitlines()[-1]
    assert f"{len(names)}/{len(names)} converted" in last and "0 failed" in last
    ids = [e["id"] for e in read_jsonl(out / "manifest.jsonl")]
    assert sorted(ids) == sorted(f"parts/{n}" for n in names)  # complete, no duplicates
    assert not [p for p in out.rglob(".*") if ".tmp" in p.name]  # temp leftovers swept
    referenced = {e["shard"] for e in read_jsonl(out / "manifest.jsonl")}
    assert {p.name for p in (out / "shards").iterdir()} == referenced  # no orphan shards
    store = MSDFStore(out)
    assert all(np.isfinite(item["msdf"]).all() for item in store)


# -- fault isolation in the pool (tiny functions, no encoder: fast and exact) -------------------------------------
def _pathological(kind: str) -> str:
    if kind == "crash":
        os._exit(7)
    if kind == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    if kind == "slow":
        time.sleep(60)
    if kind == "raise":
        raise RuntimeError("bad things")
    return kind.upper()


def test_pool_survives_crashes_segfaults_timeouts_and_errors():
    kinds = ["ok1", "crash", "ok2", "segfault", "slow", "raise", "ok3"]
    results = dict(run_local(_pathological, ((k, (k,)) for k in kinds), workers=2, timeout=3.0))
    assert {k: results[k].value for k in ("ok1", "ok2", "ok3")} == {"ok1": "OK1", "ok2": "OK2", "ok3": "OK3"}
    assert "exited unexpectedly with status 7" in results["crash"].error
    assert "SIGSEGV" in results["segfault"].error
    assert "timed out after 3 s" in results["slow"].error
    assert results["raise"].error == "RuntimeError: bad things"


def test_ray_backend_writes_the_same_store(mixed_run, tmp_path):
    pytest.importorskip("ray")
    root, whole_out, _ = mixed_run
    listing = tmp_path / "one.txt"  # one shape keeps the local Ray instance small
    listing.write_text(str(root / "good" / "joint.off") + "\n")
    summary = preprocess(listing, tmp_path / "out", settings=SETTINGS, workers=1, backend="ray", quiet=True)
    assert (summary["format"], summary["converted"], summary["failed"]) == ("list", 1, 0)
    ray_store, whole = MSDFStore(tmp_path / "out"), MSDFStore(whole_out)
    expected = whole[whole.ids.index("good/joint.off")]
    assert ray_store[0]["source"] == expected["source"]
    np.testing.assert_array_equal(ray_store[0]["msdf"], expected["msdf"])
