"""Regression tests of issue 16 (hardening), one group per item of the issue."""
import json
import os
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import trimesh

from msdf import limits
from msdf.atomic import atomic_write, sweep_stale
from msdf.cli import main
from msdf.export import viewer_html
from msdf.meshio import load_mesh
from msdf.outpaths import MARKER
from test_generate import run_dir  # noqa: F401  (the tiny trained run fixture)
from msdf.visco_cli import main as visco_main
from viscogrid.pointio import PointLoadError, load_points


def sphere_obj(path, scale=1.0, shift=0.0, subdivisions=2):
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions)
    mesh.vertices = mesh.vertices * scale + shift
    path.write_text(trimesh.exchange.obj.export_obj(mesh, digits=17))
    return mesh


def sphere_cloud(n=2000, seed=0):
    d = np.random.default_rng(seed).normal(size=(n, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return d


# -- 1. large coordinates ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("scale, shift", [(1e13, 0.0), (1.0, 1e12), (1e-9, 0.0)])
def test_load_mesh_keeps_every_face_at_any_scale_or_offset(tmp_path, scale, shift):
    ref = sphere_obj(tmp_path / "ref.obj")
    sphere_obj(tmp_path / "far.obj", scale, shift)
    mesh = load_mesh(tmp_path / "far.obj")
    assert len(mesh.faces) == len(ref.faces) and len(mesh.vertices) == len(ref.vertices)
    assert np.allclose(mesh.bounds, ref.bounds * scale + shift, rtol=1e-9, atol=1e-6 * scale)


@pytest.mark.parametrize("scale, shift", [(1.0, 1e9), (1e12, 0.0)])
def test_round_trip_far_from_the_origin_comes_back_in_place(tmp_path, scale, shift):
    src = tmp_path / "in.obj"
    ref = sphere_obj(src, scale, shift)
    assert main(["encode", str(src), "-o", str(tmp_path / "m.npz"), "--grids", "64", "--k", "5",
                 "--refine-steps", "0", "--quiet"]) == 0
    assert main(["decode", str(tmp_path / "m.npz"), "-o", str(tmp_path / "out.ply"), "--resolution", "32",
                 "--quiet"]) == 0
    out = trimesh.load(tmp_path / "out.ply", process=False)  # trimesh's own merge overflows at 1e12
    size = np.ptp(ref.bounds, axis=0).max()
    assert np.abs(out.bounds - ref.bounds).max() < 0.05 * size


def test_reconstruct_a_cloud_far_from_the_origin(tmp_path):
    pts = sphere_cloud() + 1e12
    np.savetxt(tmp_path / "far.xyz", np.hstack([pts, pts - 1e12]), fmt="%.17g")
    out = tmp_path / "far.ply"
    assert visco_main(["reconstruct", str(tmp_path / "far.xyz"), "-o", str(out), "--resolution", "16",
                       "--steps-scale", "0.3", "--quiet"]) == 0
    mesh = trimesh.load(out, process=False)
    assert len(mesh.faces) > 100
    assert np.abs(mesh.bounds - [[1e12 - 1] * 3, [1e12 + 1] * 3]).max() < 0.1


# -- 2. coarse VisCo resolutions -----------------------------------------------------------------------------------

@pytest.mark.parametrize("resolution", [8, 13, 20])
def test_viscogrid_reconstructs_at_coarse_resolutions(tmp_path, resolution):
    pts = sphere_cloud()
    np.savetxt(tmp_path / "s.xyz", np.hstack([pts, pts]))
    out = tmp_path / "s.ply"
    assert visco_main(["reconstruct", str(tmp_path / "s.xyz"), "-o", str(out), "--resolution", str(resolution),
                       "--steps-scale", "0.2", "--quiet"]) == 0
    assert np.abs(trimesh.load(out).bounds).max() < 1.2


def test_decode_visco_at_low_resolution(tmp_path):
    sphere_obj(tmp_path / "s.obj")
    assert main(["encode", str(tmp_path / "s.obj"), "-o", str(tmp_path / "s.npz"), "--grids", "64", "--k", "5",
                 "--refine-steps", "0", "--quiet"]) == 0
    assert main(["decode", str(tmp_path / "s.npz"), "-o", str(tmp_path / "s.ply"), "--method", "visco",
                 "--resolution", "12", "--quiet"]) == 0
    assert len(trimesh.load(tmp_path / "s.ply").faces) > 50


# -- 3. truncated PLY point clouds ---------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["ascii", "binary"])
def test_truncated_ply_point_cloud_is_refused(tmp_path, encoding):
    data = trimesh.exchange.ply.export_ply(trimesh.PointCloud(sphere_cloud(100)), encoding=encoding)
    head, body = data.split(b"end_header\n", 1)
    keep = b"".join(body.splitlines(keepends=True)[:2]) if encoding == "ascii" else body[:2 * 12]
    path = tmp_path / "short.ply"
    path.write_bytes(head + b"end_header\n" + keep)
    messages = set()
    for _ in range(3):  # the same error every time (no uninitialised memory)
        with pytest.raises(PointLoadError, match="short.ply") as err:
            load_points(path)
        messages.add(str(err.value))
    assert len(messages) == 1
    full = tmp_path / "full.ply"
    full.write_bytes(data)
    assert load_points(full)[0].shape == (100, 3)


def test_duplicate_only_points_are_refused(tmp_path):
    path = tmp_path / "dups.xyz"
    np.savetxt(path, np.repeat(sphere_cloud(3), 50, axis=0))
    with pytest.raises(PointLoadError, match="3 distinct"):
        load_points(path)


# -- 4. size limits ------------------------------------------------------------------------------------------------

def test_limits_refuse_with_the_estimate_and_the_limit(monkeypatch):
    with pytest.raises(limits.LimitError, match=r"PiB.*over the limit.*--max-memory"):
        limits.check_resolution(100000)
    with pytest.raises(limits.LimitError, match="--k 1000"):
        limits.check_encoding(1024, 1000)
    with pytest.raises(limits.LimitError, match="--size"):
        limits.check_image(100000, 100000)
    limits.check_resolution(256)
    monkeypatch.setenv(limits.MEMORY_ENV, "1M")
    with pytest.raises(limits.LimitError, match="1.0 MiB"):
        limits.check_resolution(256)
    assert limits.parse_size("1.5G") == 3 << 29 and limits.parse_size("512k") == 512 << 10
    with pytest.raises(ValueError):
        limits.parse_size("lots")


def test_max_memory_flag_sets_the_limit_for_one_run(tmp_path, capsys):
    sphere_obj(tmp_path / "s.obj")
    assert main(["encode", str(tmp_path / "s.obj"), "-o", str(tmp_path / "s.npz"), "--grids", "16", "--k", "3",
                 "--refine-steps", "0", "--quiet", "--max-memory", "1K"]) == 2
    assert "over the limit of 1.0 KiB" in capsys.readouterr().err
    assert not (tmp_path / "s.npz").exists() and limits.MEMORY_ENV not in os.environ


def test_zip_bomb_is_refused_before_decompression(tmp_path, capsys):
    bomb = tmp_path / "bomb.npz"
    np.savez_compressed(bomb, matrix=np.zeros((5_000_000,), np.float32))  # 20 MB of zeros in ~20 KB
    assert bomb.stat().st_size < 100_000
    assert main(["decode", str(bomb), "-o", str(tmp_path / "b.ply")]) == 2
    assert re.search(r"bomb.npz: archive member 'matrix.npy' expands \d+-fold", capsys.readouterr().err)
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.obj", b"v 0 0 0\n" * 400_000)
    os.environ[limits.ARCHIVE_ENV] = "1M"
    try:
        with pytest.raises(limits.LimitError, match="expands to 3.1 MiB, over the limit of 1.0 MiB"):
            load_mesh(big)
    finally:
        del os.environ[limits.ARCHIVE_ENV]


# -- 5. one-line errors ------------------------------------------------------------------------------------------

def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(Exception, match="missing.obj"):
        main(["encode", str(tmp_path / "missing.obj"), "-o", str(tmp_path / "x.npz"), "--debug"])


def test_sigterm_leaves_no_temporary_file_and_no_traceback(tmp_path):
    src = tmp_path / "s.obj"
    sphere_obj(src, subdivisions=3)
    proc = subprocess.Popen([sys.executable, "-m", "msdf", "encode", str(src), "-o", str(tmp_path / "s.npz"),
                             "--grids", "256", "--refine-steps", "100000"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    seen = ""
    while "refine" not in seen and proc.poll() is None:  # wait until the refinement's progress bar shows
        seen += proc.stderr.read(1)
    proc.terminate()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "Traceback" not in err and "terminated" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.obj"]


# -- 6. output folders ---------------------------------------------------------------------------------------------

def test_synth_dataset_refuses_a_foreign_folder(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert main(["synth-dataset", "-o", str(out), "--per-class", "1", "--classes", "mug", "--quiet"]) == 2
    assert "not empty" in capsys.readouterr().err and sorted(os.listdir(out)) == ["notes.txt"]
    assert main(["synth-dataset", "-o", str(out), "--per-class", "1", "--classes", "mug", "--quiet",
                 "--overwrite"]) == 0
    assert (out / "notes.txt").read_text() == "keep me" and (out / "captions.csv").is_file()
    fresh = tmp_path / "fresh"
    assert main(["synth-dataset", "-o", str(fresh), "--per-class", "1", "--classes", "mug", "--quiet"]) == 0
    assert main(["synth-dataset", "-o", str(fresh), "--per-class", "1", "--classes", "mug", "--quiet"]) == 0  # ours
    assert (fresh / MARKER).is_file()


def test_preprocess_and_train_refuse_a_foreign_folder(tmp_path, capsys):
    out = tmp_path / "foreign"
    out.mkdir()
    (out / "manifest.jsonl").write_text('{"user": "data"}\n')
    (tmp_path / "meshes").mkdir()
    sphere_obj(tmp_path / "meshes" / "a.obj")
    assert main(["preprocess", str(tmp_path / "meshes"), "-o", str(out), "--quiet"]) == 2
    assert main(["train", "--data", str(tmp_path / "meshes"), "--out", str(out), "--quiet"]) == 2
    assert (out / "manifest.jsonl").read_text() == '{"user": "data"}\n' and len(os.listdir(out)) == 1


# -- 7. viewer page ------------------------------------------------------------------------------------------------

def test_viewer_escapes_every_angle_bracket_in_the_data_block():
    title = "<!--<script>.obj"
    page = viewer_html([(trimesh.creation.box(), title)], title="t")
    block = re.search(r'<script type="application/json" id="msdf-data">(.*?)</script>', page, re.S).group(1)
    assert "<" not in block and json.loads(block)[0]["title"] == title
    assert page.count("<script") == 2  # the data block and the viewer script, nothing swallowed


# -- 8. checkpoints and temporary files ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_checkpoint_run(tmp_path_factory):
    from msdf.flow.config import TrainConfig
    from msdf.flow.dataset import ArrayStore
    from msdf.flow.trainer import train
    from toy_flows import sphere_matrices

    root = tmp_path_factory.mktemp("ckpt")
    store = ArrayStore(sphere_matrices([0.5] * 8, n=8, k=3, half_width=0.3).numpy(), 3)
    cfg = TrainConfig.from_dict({
        "model": {"width": 16, "depth": 1, "heads": 2, "mlp_ratio": 2.0, "row_hidden": 16}, "steps": 4,
        "batch_size": 4, "warmup_steps": 1, "val_every": 1000, "ckpt_every": 2, "log_every": 10, "cond": "none",
        "val_fraction": 0.0})
    train(store, cfg, root / "run", quiet=True)
    return root / "run"


def test_corrupt_latest_checkpoint_falls_back_to_the_previous_one(two_checkpoint_run, tmp_path, capsys):
    import shutil

    from msdf.flow.checkpoint import latest_checkpoint

    run = tmp_path / "run"
    shutil.copytree(two_checkpoint_run, run)
    folder, _ = latest_checkpoint(run)
    assert folder.name == "step-0000004"
    weights = folder / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"garbage!")
    folder, state = latest_checkpoint(run)
    assert folder.name == "step-0000002" and state["progress"]["step"] == 2
    assert "checksum mismatch" in capsys.readouterr().err


def test_latest_json_cannot_point_outside_the_run(two_checkpoint_run, tmp_path):
    import shutil

    from msdf.flow.checkpoint import CheckpointError, latest_checkpoint

    run = tmp_path / "run"
    shutil.copytree(two_checkpoint_run, run)
    pointer = run / "checkpoints" / "latest.json"
    record = json.loads(pointer.read_text())
    pointer.write_text(json.dumps({**record, "dir": "../../elsewhere"}))
    assert latest_checkpoint(run)[0].parent == run / "checkpoints"  # the step folders' own records are used
    for record_file in (run / "checkpoints").glob("step-*/commit.json"):
        record_file.unlink()
    with pytest.raises(CheckpointError, match="not a step-NNNNNNN folder"):
        latest_checkpoint(run)


def test_leftovers_of_dead_writers_are_swept(tmp_path):
    from msdf.atomic import _host

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    target = tmp_path / "m.npz"
    stale = tmp_path / f".m.npz.{_host()}-{dead.pid}-x1y2.tmp.npz"
    live = tmp_path / f".m.npz.{_host()}-{os.getppid()}-x1y2.tmp.npz"
    other_host = tmp_path / ".m.npz.elsewhere-1-x1y2.tmp.npz"
    for p in (stale, live, other_host):
        p.write_bytes(b"")
    with atomic_write(target) as tmp:
        tmp.write_bytes(b"data")
    assert not stale.exists() and live.exists() and other_host.exists() and target.read_bytes() == b"data"
    assert sweep_stale(target) == []


def test_generate_refuses_a_foreign_folder_and_leaves_no_stale_samples(run_dir, tmp_path, capsys):  # noqa: F811
    user = tmp_path / "user"
    user.mkdir()
    (user / "samples.json").write_text("my own notes")
    args = [str(run_dir), "--class", "small", "--nfe", "2", "--solver", "euler", "--resolution", "16", "--no-render",
            "--quiet"]
    assert main(["generate", *args, "-o", str(user)]) == 2
    assert "not empty" in capsys.readouterr().err and (user / "samples.json").read_text() == "my own notes"
    out = tmp_path / "gen"
    assert main(["generate", *args, "-n", "3", "-o", str(out)]) in (0, 3)
    assert len(list(out.glob("*.npz"))) == 3
    assert main(["generate", *args, "-n", "1", "-o", str(out)]) in (0, 3)  # our folder: the old samples go
    assert [p.name for p in out.glob("*.npz")] == ["000-small.npz"]
    assert json.loads((out / "samples.json").read_text())["num_samples_per_item"] == 1
