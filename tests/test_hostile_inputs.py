"""Every command against a table of hostile inputs: a non-zero exit, one line on stderr and no traceback, nothing
written at the output path, and within a time limit. Commands run in-process through the CLI entry points."""
import os
import pickle
import time
import zipfile

import numpy as np
import pytest
import torch
import trimesh

from msdf.cli import main as msdf_main
from test_generate import run_dir  # noqa: F401  (the tiny trained run fixture)
from msdf.visco_cli import main as visco_main

TIME_LIMIT = 20.0


@pytest.fixture(scope="module")
def files(tmp_path_factory, run_dir):  # noqa: F811
    """Good and hostile inputs: name -> path."""
    d = tmp_path_factory.mktemp("hostile")
    mesh = trimesh.creation.icosphere(2)
    good = {"mesh": d / "ok.obj", "points": d / "ok.xyz", "run": run_dir}
    good["mesh"].write_text(trimesh.exchange.obj.export_obj(mesh))
    np.savetxt(good["points"], mesh.vertices)
    bad = {
        "missing": d / "missing.obj",
        "folder": d,
        "empty": d / "empty.obj",
        "garbage": d / "garbage.obj",
        "npy_as_npz": d / "renamed.npz",
        "npy_as_obj": d / "renamed.obj",
        "pickle_npz": d / "pickled.npz",
        "bomb_npz": d / "bomb.npz",
        "nan_mesh": d / "nan.obj",
        "flat_mesh": d / "flat.obj",
        "truncated_ply": d / "short.ply",
        "dup_points": d / "dups.xyz",
        "nan_points": d / "nan.xyz",
        "one_column": d / "one.xyz",
    }
    bad["empty"].write_bytes(b"")
    bad["garbage"].write_bytes(os.urandom(2000))
    np.save(d / "plain.npy", np.zeros((5, 3)))
    bad["npy_as_npz"].write_bytes((d / "plain.npy").read_bytes())
    bad["npy_as_obj"].write_bytes((d / "plain.npy").read_bytes())
    with zipfile.ZipFile(bad["pickle_npz"], "w") as z:
        z.writestr("matrix.npy", pickle.dumps(object()))
    np.savez_compressed(bad["bomb_npz"], matrix=np.zeros(5_000_000, np.float32))
    bad["nan_mesh"].write_text("v nan 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    bad["flat_mesh"].write_text("v 0 0 0\nv 1 0 0\nv 2 0 0\nf 1 2 3\n")
    ply = trimesh.exchange.ply.export_ply(trimesh.PointCloud(mesh.vertices), encoding="ascii")
    head, body = ply.split(b"end_header\n", 1)
    bad["truncated_ply"].write_bytes(head + b"end_header\n" + b"".join(body.splitlines(keepends=True)[:2]))
    np.savetxt(bad["dup_points"], np.repeat(mesh.vertices[:2], 100, axis=0))
    np.savetxt(bad["nan_points"], np.vstack([mesh.vertices, [[np.nan, 0, 0]]]))
    bad["one_column"].write_text("1\n2\n3\n4\n5\n")
    (d / "blocker").write_text("a file where a folder is expected")
    return {**good, **bad, "blocker": d / "blocker", "root": d}


def _cases():
    """(id, entry point, argv template) where {name} is a file of the fixture and {out} the output path."""
    R = "--resolution"
    encode = [
        ("missing", "encode {missing} -o {out}.npz"), ("folder", "encode {folder} -o {out}.npz"),
        ("empty", "encode {empty} -o {out}.npz"), ("garbage", "encode {garbage} -o {out}.npz"),
        ("npy_as_obj", "encode {npy_as_obj} -o {out}.npz"), ("nan", "encode {nan_mesh} -o {out}.npz"),
        ("flat", "encode {flat_mesh} -o {out}.npz"), ("out_is_folder", "encode {mesh} -o {folder}"),
        ("out_suffix", "encode {mesh} -o {out}.obj"), ("out_under_file", "encode {mesh} -o {blocker}/x.npz"),
        ("device_bogus", "encode {mesh} -o {out}.npz --device bogus"),
        ("grids_huge", "encode {mesh} -o {out}.npz --grids 100000000"),
        ("k_huge", "encode {mesh} -o {out}.npz --k 1000"),
        ("grids_zero", "encode {mesh} -o {out}.npz --grids 0"),
        ("refine_negative", "encode {mesh} -o {out}.npz --refine-steps -1"),
    ]
    decode = [
        ("npy_as_npz", "decode {npy_as_npz} -o {out}.ply"), ("pickle", "decode {pickle_npz} -o {out}.ply"),
        ("bomb", "decode {bomb_npz} -o {out}.ply"), ("missing", "decode {missing} -o {out}.ply"),
        ("res_huge", f"decode {{npy_as_npz}} -o {{out}}.ply {R} 100000"),
        ("res_tiny", f"decode {{npy_as_npz}} -o {{out}}.ply {R} 3"),
        ("out_is_folder", "decode {npy_as_npz} -o {folder}"),
        ("out_suffix", "decode {npy_as_npz} -o {out}.txt"),
    ]
    export = [
        ("garbage", "export {garbage} -o {out}.glb"), ("npy_as_npz", "export {npy_as_npz} -o {out}.html"),
        ("bomb", "export {bomb_npz} -o {out}.glb"), ("out_suffix", "export {mesh} -o {out}.xyz"),
        ("out_is_folder", "export {mesh} -o {folder}"), ("res_huge", f"export {{mesh}} -o {{out}}.glb {R} 100000"),
    ]
    render = [
        ("missing", "render {missing} -o {out}.png"), ("garbage", "render {garbage} -o {out}.png"),
        ("size_huge", "render {mesh} -o {out}.png --size 100000 100000"),
        ("size_zero", "render {mesh} -o {out}.png --size 0 10"),
        ("out_under_file", "render {mesh} -o {blocker}/x.png"),
    ]
    preprocess = [
        ("missing", "preprocess {missing} -o {out}"), ("grids_zero", "preprocess {root} -o {out} --grids 0"),
        ("k_huge", "preprocess {root} -o {out} --k 1000"), ("out_is_file", "preprocess {root} -o {blocker}"),
    ]
    train = [
        ("missing_store", "train --data {missing} --out {out}"), ("not_a_store", "train --data {root} --out {out}"),
        ("batch_zero", "train --data {root} --out {out} --batch-size 0"),
        ("device_bogus", "train --data {root} --out {out} --device bogus"),
    ]
    generate = [
        ("no_run", "generate {missing} -o {out}"), ("not_a_run", "generate {root} -o {out}"),
        ("batch_zero", "generate {run} -o {out} --batch-size 0"),
        ("nfe_negative", "generate {run} -o {out} --nfe -2"),
        ("res_huge", f"generate {{run}} -o {{out}} {R} 100000"),
        ("device_bogus", "generate {run} -o {out} --device bogus"),
        ("device_cuda", "generate {run} -o {out} --device cuda:7"),
        ("unknown_class", "generate {run} -o {out} --class x"),
        ("out_is_file", "generate {run} -o {blocker}"), ("foreign_out", "generate {run} -o {root}"),
    ]
    complete = [
        ("steps_negative", "complete {run} --points {points} -o {out} --steps -1"),
        ("missing_points", "complete {run} --points {missing} -o {out}"),
        ("one_column", "complete {run} --points {one_column} -o {out}"),
        ("nan_points", "complete {run} --points {nan_points} -o {out}"),
        ("dopri5", "complete {run} --points {points} -o {out} --solver dopri5"),
        ("unknown_class", "complete {run} --points {points} -o {out} --class x"),
    ]
    distill = [
        ("nfe_negative", "distill-solver {run} --nfe -2 -o {out}.safetensors"),
        ("batch_zero", "distill-solver {run} --nfe 2 --batch-size 0 -o {out}.safetensors"),
        ("out_is_folder", "distill-solver {run} --nfe 2 -o {folder}"),
        ("no_run", "distill-solver {missing} --nfe 2 -o {out}.safetensors"),
    ]
    visco = [
        ("truncated_ply", "reconstruct {truncated_ply} -o {out}.ply"),
        ("dup_points", "reconstruct {dup_points} -o {out}.ply"),
        ("nan_points", "reconstruct {nan_points} -o {out}.ply"), ("garbage", "reconstruct {garbage} -o {out}.ply"),
        ("npy_as_npz", "reconstruct {npy_as_npz} -o {out}.ply"),
        ("res_huge", f"reconstruct {{points}} -o {{out}}.ply {R} 100000"),
        ("res_tiny", f"reconstruct {{points}} -o {{out}}.ply {R} 4"),
        ("noise", "reconstruct {points} -o {out}.ply --noise -1"),
        ("device_bogus", "reconstruct {points} -o {out}.ply --device bogus"),
        ("out_is_folder", "reconstruct {points} -o {folder}"),
    ]
    table = [(f"{argv.split()[0]}-{name}", msdf_main, argv) for group in
             (encode, decode, export, render, preprocess, train, generate, complete, distill) for name, argv in group]
    table += [(f"viscogrid-{name}", visco_main, argv) for name, argv in visco]
    return table


CASES = _cases()


@pytest.mark.parametrize("name, entry, template", CASES, ids=[c[0] for c in CASES])
def test_hostile_input(files, tmp_path, capsys, name, entry, template):
    if "cuda" in template and torch.cuda.device_count() > 7:
        pytest.skip("this machine has a cuda:7")
    out = tmp_path / "out"
    watched = [files["root"], tmp_path]
    before = {p: sorted((f.name, f.stat().st_mtime_ns) for f in p.iterdir()) for p in watched}
    argv = template.format(out=out, **{k: str(v) for k, v in files.items()}).split()
    t0 = time.perf_counter()
    try:
        code = entry(argv if argv[0] == "export" else argv + ["--quiet"])  # export has no --quiet
    except SystemExit as exc:  # argparse's own usage errors: a usage line and one error line, exit 2
        code = exc.code
    elapsed = time.perf_counter() - t0
    err = capsys.readouterr().err
    assert code != 0, f"{name}: exit 0"
    assert "Traceback" not in err and err.count("error:") == 1, err
    assert err.strip().splitlines()[-1].split(": error: ")[0] in ("msdf " + argv[0], "viscogrid reconstruct"), err
    assert not list(tmp_path.iterdir()), f"{name} wrote {list(tmp_path.iterdir())}"
    assert {p: sorted((f.name, f.stat().st_mtime_ns) for f in p.iterdir()) for p in watched} == before
    assert elapsed < TIME_LIMIT, f"{name} took {elapsed:.1f} s"


def test_table_covers_every_command():
    covered = {c[0].split("-")[0] if not c[0].startswith("distill") else "distill-solver" for c in CASES}
    assert covered >= {"encode", "decode", "export", "preprocess", "train", "generate", "complete",
                       "distill-solver", "render", "viscogrid"}
