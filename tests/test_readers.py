"""Dataset readers on tiny fixtures in each layout, built from the real meshes in tests/data."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import trimesh

from msdf.data.readers import (SHAPENET_SYNSETS, DatasetError, detect_format, read_captions_csv, read_dataset)

DATA = Path(__file__).parent / "data"
UID_A = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
UID_B = "ffeeddccbbaa99887766554433221100"


def _copy(src: str, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(DATA / src, dst)
    return dst


def test_shapenet_v1_and_v2_with_split_table(tmp_path):
    _copy("watertight/bread.obj", tmp_path / "03001627" / "chair1" / "models" / "model_normalized.obj")
    _copy("watertight/lemon.obj", tmp_path / "02691156" / "plane1" / "model.obj")
    _copy("watertight/bread.obj", tmp_path / "09999999" / "thing" / "models" / "model_normalized.obj")
    (tmp_path / "03001627" / "no_mesh_here").mkdir()
    (tmp_path / "all.csv").write_text("id,synsetId,subSynsetId,modelId,split\n1,03001627,03001627,chair1,train\n"
                                      "2,02691156,02691156,plane1,test\n")
    assert detect_format(tmp_path) == "shapenet"
    fmt, records = read_dataset(tmp_path)
    assert fmt == "shapenet"
    by_id = {r.id: r for r in records}
    assert set(by_id) == {"03001627/chair1", "02691156/plane1", "09999999/thing"}
    assert by_id["03001627/chair1"].label == "chair" == SHAPENET_SYNSETS["03001627"]
    assert by_id["03001627/chair1"].split == "train"
    assert by_id["02691156/plane1"].label == "airplane" and by_id["02691156/plane1"].split == "test"
    assert by_id["02691156/plane1"].source.endswith("plane1/model.obj")
    assert by_id["09999999/thing"].label == "09999999" and by_id["09999999/thing"].split is None


def test_modelnet_keeps_class_and_split(tmp_path):
    _copy("watertight/joint.off", tmp_path / "chair" / "train" / "chair_0001.off")
    _copy("watertight/spool.off", tmp_path / "chair" / "test" / "chair_0002.off")
    _copy("watertight/rotor.off", tmp_path / "desk" / "train" / "desk_0001.off")
    assert detect_format(tmp_path) == "modelnet"
    _, records = read_dataset(tmp_path)
    assert [(r.id, r.label, r.split) for r in records] == [
        ("chair/train/chair_0001", "chair", "train"), ("chair/test/chair_0002", "chair", "test"),
        ("desk/train/desk_0001", "desk", "train")]


def test_objaverse_glb_by_uid_with_cap3d_captions(tmp_path):
    for uid, src in ((UID_A, "joint.off"), (UID_B, "spool.off")):
        out = tmp_path / "glbs" / "000-001" / f"{uid}.glb"
        out.parent.mkdir(parents=True, exist_ok=True)
        trimesh.load(DATA / "watertight" / src).export(out)
    (tmp_path / "Cap3D_automated_Objaverse.csv").write_text(f'{UID_A},"a metal joint, grey"\n{UID_B},a spool\n')
    assert detect_format(tmp_path) == "objaverse"
    _, records = read_dataset(tmp_path)
    assert {r.id: r.caption for r in records} == {UID_A: "a metal joint, grey", UID_B: "a spool"}
    assert all(r.label is None for r in records)


def test_captions_csv_header_is_optional(tmp_path):
    f = tmp_path / "c.csv"
    f.write_text(f"uid,caption\n{UID_A},hello\n")
    assert read_captions_csv(f) == {UID_A: "hello"}


def test_folder_labels_side_files_and_captions_csv(tmp_path):
    _copy("watertight/joint.off", tmp_path / "parts" / "joint.off")
    _copy("watertight/lemon.obj", tmp_path / "food" / "lemon.obj")
    (tmp_path / "food" / "lemon.mtl").write_text("newmtl x\n")
    (tmp_path / "food" / "texture.png").write_bytes(b"\x89PNG")
    _copy("watertight/spool.off", tmp_path / "loose.off")
    (tmp_path / "weird.xyzzy").write_bytes(b"not a mesh")  # unsupported format: kept, fails later with its reason
    (tmp_path / ".hidden.off").write_text("OFF\n")
    (tmp_path / "captions.csv").write_text("file,label,caption\nfood/lemon.obj,citrus,a yellow lemon\n"
                                           "loose.off,,a spool of thread\n")
    assert detect_format(tmp_path) == "folder"
    _, records = read_dataset(tmp_path)
    by_id = {r.id: r for r in records}
    assert set(by_id) == {"parts/joint.off", "food/lemon.obj", "loose.off", "weird.xyzzy"}
    assert (by_id["food/lemon.obj"].label, by_id["food/lemon.obj"].caption) == ("citrus", "a yellow lemon")
    assert (by_id["parts/joint.off"].label, by_id["parts/joint.off"].caption) == ("parts", None)
    assert (by_id["loose.off"].label, by_id["loose.off"].caption) == (None, "a spool of thread")


def test_folder_captions_csv_needs_header(tmp_path):
    _copy("watertight/joint.off", tmp_path / "a" / "joint.off")
    (tmp_path / "captions.csv").write_text("a/joint.off,x,y\n")
    with pytest.raises(DatasetError, match="captions.csv"):
        read_dataset(tmp_path, "folder")


def test_list_file_relative_absolute_comments_duplicates(tmp_path):
    joint = _copy("watertight/joint.off", tmp_path / "m" / "joint.off")
    lst = tmp_path / "meshes.txt"
    lst.write_text(f"# my meshes\nm/joint.off\n\n{joint}\n{tmp_path / 'm' / 'missing.off'}\n")
    assert detect_format(lst) == "list"
    _, records = read_dataset(lst)
    assert [r.id for r in records] == [str(joint.resolve()), str((tmp_path / "m" / "missing.off").resolve())]
    assert records[0].label == "m"


@pytest.mark.parametrize("fmt", ["shapenet", "modelnet", "objaverse", "folder"])
def test_wrong_or_empty_layout_is_a_clear_error(tmp_path, fmt):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="empty"):
        read_dataset(tmp_path / "empty", fmt)


def test_missing_input_and_unknown_format(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        read_dataset(tmp_path / "nope")
    with pytest.raises(DatasetError, match="unknown dataset format"):
        read_dataset(tmp_path, "pointnet")
    with pytest.raises(DatasetError, match="text file"):
        read_dataset(tmp_path, "list")
