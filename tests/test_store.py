"""The store's commit protocol (writer + recovery) and the MSDFStore reader, on matrices with known values."""
from __future__ import annotations

import json

import numpy as np
import pytest

from msdf.data.layout import read_jsonl, writer_tag
from msdf.data.store import MSDFStore, StoreError
from msdf.data.writer import StoreWriter

N, K = 6, 3
D = 4 + K ** 3


def _matrix(i: int) -> np.ndarray:
    return np.random.default_rng(i).normal(size=(N, D)).astype(np.float32)


def _entry(i: int, **extra) -> dict:
    return dict(id=f"shape{i}", source=f"/data/shape{i}.off", label=f"class{i % 2}", caption=f"caption {i}",
                split="train" if i % 3 else "test", normalization={"center": [i, 0.0, 0.0], "scale": 1.0 + i},
                **extra)


def _write(root, ids, tag="", shard_rows=3):
    with StoreWriter(root, N, K, tag=tag, shard_rows=shard_rows) as w:
        for i in ids:
            w.add(_entry(i), _matrix(i))


def test_reader_round_trip_labels_captions_stats(tmp_path):
    _write(tmp_path, range(7))
    assert len(list((tmp_path / "shards").glob("*.npy"))) == 3  # 3 + 3 + 1 rows
    store = MSDFStore(tmp_path)
    assert (len(store), store.n, store.k, store.dim) == (7, N, K, D)
    for i, item in enumerate(store):
        np.testing.assert_array_equal(item["msdf"], _matrix(i))
        assert item["msdf"].dtype == np.float32 and item["id"] == f"shape{i}"
        assert (item["label"], item["caption"]) == (f"class{i % 2}", f"caption {i}")
    assert store.labels == [f"class{i % 2}" for i in range(7)]
    assert store.captions == [f"caption {i}" for i in range(7)]
    assert store.indices("test") == [0, 3, 6]
    assert store.normalization(2).scale == 3.0 and store.normalization(2).center[0] == 2.0
    everything = np.concatenate([_matrix(i) for i in range(7)]).astype(np.float64)
    stats = store.stats()
    np.testing.assert_allclose(stats["mean"], everything.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats["std"], everything.std(0), rtol=1e-4, atol=1e-6)
    sub = store.stats(indices=[1, 5])
    np.testing.assert_allclose(sub["mean"], np.concatenate([_matrix(1), _matrix(5)]).mean(0), rtol=1e-5, atol=1e-6)
    with pytest.raises(IndexError):
        store[7]


def test_store_maps_shards_lazily_with_bounded_lru(tmp_path):
    _write(tmp_path, range(7), shard_rows=1)
    store = MSDFStore(tmp_path, max_open_shards=2)
    assert len(store._maps) == 0  # opening read only the manifest
    for i in range(7):
        store[i]
    assert len(store._maps) == 2


def test_refuses_a_different_n_k(tmp_path):
    _write(tmp_path, range(2))
    with pytest.raises(StoreError, match="one store holds one"):
        StoreWriter(tmp_path, N + 1, K)


def test_not_a_store_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="store.json"):
        MSDFStore(tmp_path)
    (tmp_path / "store.json").write_text("{broken")
    with pytest.raises(StoreError, match="store.json"):
        MSDFStore(tmp_path)


def test_second_writer_with_same_tag_is_refused(tmp_path):
    with StoreWriter(tmp_path, N, K):
        with pytest.raises(StoreError, match="already writing"):
            StoreWriter(tmp_path, N, K)
        StoreWriter(tmp_path, N, K, tag=writer_tag((1, 2))).close()  # another shard may write at the same time


def test_recovery_after_kills_at_every_step(tmp_path):
    _write(tmp_path, range(6))  # two committed shards of 3
    shards = tmp_path / "shards"
    manifest = tmp_path / "manifest.jsonl"
    # killed between shard rename and manifest append: an unreferenced shard
    np.save(shards / "part-000002.npy", np.stack([_matrix(9)] * 3))
    # killed inside atomic_write: hidden temp files
    (shards / ".part-000003.npy.abc123.tmp.npy").write_bytes(b"\x93NUMPY half")
    (tmp_path / ".manifest.jsonl.xyz.tmp.jsonl").write_text("{}")
    # killed while appending: a torn last line
    with open(manifest, "a") as fh:
        fh.write('{"id": "shape6", "shard": "part-0000')
    # another writer's files must be left alone
    other = shards / "part-0001of0002-000000.npy"
    np.save(other, np.stack([_matrix(7)]))
    other_tmp = shards / ".part-0001of0002-000001.npy.q.tmp.npy"
    other_tmp.write_bytes(b"in flight")

    w = StoreWriter(tmp_path, N, K)
    assert w.recovery["orphan_shards"] == 1 and w.recovery["temp_files"] == 2 and w.recovery["torn_line"]
    assert w.done_ids() == {f"shape{i}" for i in range(6)}
    w.add(_entry(6), _matrix(6))
    w.close()
    assert other.exists() and other_tmp.exists()
    assert not (shards / ".part-000003.npy.abc123.tmp.npy").exists()
    assert manifest.read_bytes().endswith(b"\n")
    store = MSDFStore(tmp_path)
    assert store.ids == [f"shape{i}" for i in range(7)]
    np.testing.assert_array_equal(store[6]["msdf"], _matrix(6))  # re-used sequence number 2, new content


def test_lines_whose_shard_vanished_are_dropped(tmp_path):
    _write(tmp_path, range(6))
    (tmp_path / "shards" / "part-000000.npy").unlink()
    w = StoreWriter(tmp_path, N, K)
    assert w.recovery["dropped_lines"] == 3
    assert w.done_ids() == {"shape3", "shape4", "shape5"}
    w.close()
    assert [e["id"] for e in read_jsonl(tmp_path / "manifest.jsonl")] == ["shape3", "shape4", "shape5"]


def test_failures_are_kept_unless_retried_and_dropped_once_converted(tmp_path):
    with StoreWriter(tmp_path, N, K) as w:
        w.add_failure({"id": "shape1", "source": "/data/shape1.off", "error": "boom"})
        w.add_failure({"id": "shape2", "source": "/data/shape2.off", "error": "bang"})
        w.add(_entry(1), _matrix(1))
    with StoreWriter(tmp_path, N, K) as w:
        assert w.failed_ids() == {"shape2"}  # shape1 converted later: its failure line is gone
    with StoreWriter(tmp_path, N, K, retry_failed=True) as w:
        assert w.failed_ids() == set()
    assert json.loads((tmp_path / "store.json").read_text())["n"] == N


def test_writers_of_several_shards_merge_in_the_reader(tmp_path):
    _write(tmp_path, [0, 2, 4], tag=writer_tag((0, 2)))
    _write(tmp_path, [1, 3], tag=writer_tag((1, 2)))
    _write(tmp_path, [3], tag="")  # a duplicate converted by a third writer is read once
    store = MSDFStore(tmp_path)
    assert sorted(store.ids) == [f"shape{i}" for i in range(5)]
    for item in store:
        np.testing.assert_array_equal(item["msdf"], _matrix(int(item["id"][5:])))


def test_wrong_matrix_shape_is_refused(tmp_path):
    with StoreWriter(tmp_path, N, K) as w:
        with pytest.raises(StoreError, match="does not fit"):
            w.add(_entry(0), np.zeros((N + 1, D), np.float32))
