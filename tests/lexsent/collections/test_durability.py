from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lexsent.collections import CollectionConfig, CollectionStore, Disk, IndexKind, Metric
from lexsent.collections.wal import Op, Record
from lexsent.errors import NotFoundError, StorageCorruptError, StorageFullError, StorageIOError
from tests.lexsent.collections.conftest import clustered

DIM = 8


class FullDisk:
    """A `write` hook: works until `full` is set, then fails like a full disk (after a partial write)."""

    def __init__(self) -> None:
        self.full = False

    def __call__(self, fd: int, data: bytes | memoryview) -> int:
        if self.full:
            os.write(fd, bytes(data[: len(data) // 3]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return os.write(fd, data)


def state(store: CollectionStore, name: str = "c") -> dict[object, tuple[bytes, object]]:
    coll = store.get(name)
    table = coll._view.table
    return {pid: (table.vectors[row].tobytes(), table.metadata[row]) for pid, row in table.ids.row_of.items()}


@pytest.mark.parametrize("kind", list(IndexKind))
def test_restart_replays_log_and_snapshot_bit_exact(tmp_path: Path, kind: IndexKind) -> None:
    root = tmp_path / "c"
    store = CollectionStore(root)
    coll = store.create(CollectionConfig("c", DIM, kind, Metric.L2, model="m", model_fingerprint="abc"))
    data = clustered(600, DIM)
    coll.upsert(list(range(300)), data[:300], [{"i": i} for i in range(300)])
    coll.snapshot()
    coll.upsert([f"s{i}" for i in range(300)], data[300:], [{"s": i} for i in range(300)])
    coll.delete(list(range(0, 300, 3)))
    coll.upsert([1], data[:1] * 2, [{"new": True}])
    before = state(store)
    store.close(snapshot=False)  # like a crash: the newest writes only live in the log

    store = CollectionStore(root)
    assert state(store) == before and store.get("c").config.model_fingerprint == "abc"
    assert store.get("c").fetch(1).metadata == {"new": True}
    store.close(snapshot=True)
    store = CollectionStore(root)
    assert state(store) == before
    assert len(os.listdir(root / "c" / "wal")) == 1
    store.close()


def test_disk_full_on_write_fails_cleanly_and_keeps_data(tmp_path: Path) -> None:
    hook = FullDisk()
    store = CollectionStore(tmp_path / "c", Disk(write=hook))
    coll = store.create(CollectionConfig("c", DIM))
    coll.upsert(["a", "b"], clustered(2, DIM), [{"x": 1}, {"x": 2}])
    before = state(store)
    hook.full = True
    with pytest.raises(StorageFullError) as caught:
        coll.upsert(["c"], clustered(1, DIM, seed=1))
    assert caught.value.kind.http_status == 507 and caught.value.kind.grpc_code == "RESOURCE_EXHAUSTED"
    with pytest.raises(StorageFullError):
        coll.delete(["a"])
    with pytest.raises(StorageFullError):
        coll.snapshot()
    assert state(store) == before
    assert not [p for p in (tmp_path / "c" / "c" / "snapshots").iterdir() if p.name.startswith(".tmp")]
    hook.full = False
    coll.upsert(["d"], clustered(1, DIM, seed=2))  # recovers once space is back
    store.close(snapshot=False)
    store = CollectionStore(tmp_path / "c")
    after = state(store)
    assert set(after) == {"a", "b", "d"} and all(after[key] == before[key] for key in before)
    store.close()


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / f"tmpfs-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)], check=False)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_real_full_disk(tiny_tmpfs: Path) -> None:
    """Fill a real 512 KiB tmpfs: the failing write is refused with 507, and everything acked survives."""
    store = CollectionStore(tiny_tmpfs / "c")
    coll = store.create(CollectionConfig("c", 64, IndexKind.FLAT, Metric.IP))
    acked: dict[int, bytes] = {}
    rng = np.random.default_rng(0)
    with pytest.raises(StorageFullError):
        for batch in range(1000):
            vectors = rng.standard_normal((50, 64)).astype(np.float32)
            ids = list(range(batch * 50, batch * 50 + 50))
            coll.upsert(ids, vectors, [{"b": batch}] * 50)
            acked.update({i: v.tobytes() for i, v in zip(ids, vectors, strict=True)})
    assert acked and coll.count == len(acked)
    store.close(snapshot=False)
    store = CollectionStore(tiny_tmpfs / "c")
    coll = store.get("c")
    assert coll.count == len(acked)
    assert all(coll.fetch(i).vector.tobytes() == v for i, v in acked.items())
    store.close(snapshot=False)


def test_searches_do_not_wait_for_snapshots(tmp_path: Path) -> None:
    entered, release = threading.Event(), threading.Event()

    def slow_write(fd: int, data: bytes | memoryview) -> int:
        if threading.current_thread().name == "snap":
            entered.set()
            assert release.wait(10)
        return os.write(fd, data)

    store = CollectionStore(tmp_path / "c", Disk(write=slow_write))
    coll = store.create(CollectionConfig("c", DIM, IndexKind.HNSW))
    data = clustered(500, DIM)
    coll.upsert(list(range(500)), data)
    snap = threading.Thread(target=coll.snapshot, name="snap")
    snap.start()
    assert entered.wait(10)
    try:
        # the snapshot is stuck mid-write: searches and even writes still go through
        assert coll.search(data[3], 1)[0][0].id == 3
        coll.upsert(["late"], data[:1])
        assert coll.fetch("late").vector.tobytes() == data[0].tobytes()
    finally:
        release.set()
        snap.join()
    store.close(snapshot=False)
    store = CollectionStore(tmp_path / "c")
    assert store.get("c").count == 501
    store.close()


def test_concurrent_searches_during_writes(store: CollectionStore) -> None:
    coll = store.create(CollectionConfig("c", DIM, IndexKind.HNSW))
    data = clustered(4000, DIM)
    coll.upsert(list(range(1000)), data[:1000])
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                for hits in coll.search(data[:20], 5, filter={"g": {"$in": [0, 1]}}):
                    assert all(hit.metadata is not None and hit.metadata["g"] in (0, 1) for hit in hits)
                coll.search(data[:20], 5)
        except BaseException as exc:
            errors.append(exc)

    readers = [threading.Thread(target=reader) for _ in range(4)]
    for thread in readers:
        thread.start()
    for start in range(1000, 4000, 250):
        ids = list(range(start, start + 250))
        coll.upsert(ids, data[start : start + 250], [{"g": i % 3} for i in ids])
        coll.delete(list(range(start - 1000, start - 900)))
    stop.set()
    for thread in readers:
        thread.join()
    assert not errors
    assert coll.count == 4000 - 1200


def test_a_logged_upsert_with_a_repeated_id_replays_last_wins(tmp_path: Path) -> None:
    """Upserts now refuse repeated ids, but logs written before that may hold one; they still replay."""
    store = CollectionStore(tmp_path / "c")
    coll = store.create(CollectionConfig("c", DIM))
    vectors = clustered(2, DIM)
    coll._write(Record(Op.UPSERT, ["x", "x"], [{"v": 0}, {"v": 1}], vectors))  # as an older version logged it
    store.close(snapshot=False)
    coll = CollectionStore(tmp_path / "c").get("c")
    assert coll.count == 1 and coll.fetch("x").metadata == {"v": 1}
    np.testing.assert_array_equal(coll.fetch("x").vector, vectors[1])


def test_metadata_with_unicode_line_separators_survives_a_snapshot(tmp_path: Path) -> None:
    """JSON leaves U+2028, U+2029 and U+0085 unescaped; the snapshot reader must not split lines there."""
    store = CollectionStore(tmp_path / "c")
    coll = store.create(CollectionConfig("c", DIM))
    texts = ["one\u2028two", "three\u2029four", "five\x85six"]
    coll.upsert([0, 1, 2], clustered(3, DIM), [{"t": t} for t in texts])
    store.close(snapshot=True)
    coll = CollectionStore(tmp_path / "c").get("c")
    assert [coll.fetch(i).metadata for i in range(3)] == [{"t": t} for t in texts]


def test_a_damaged_snapshot_is_refused_with_what_to_do(tmp_path: Path) -> None:
    store = CollectionStore(tmp_path / "c")
    store.create(CollectionConfig("c", DIM)).upsert([0], clustered(1, DIM))
    store.close(snapshot=True)
    [vectors] = (tmp_path / "c").rglob("vectors.f32")
    vectors.write_bytes(b"\x00" + vectors.read_bytes()[1:])
    with pytest.raises(StorageCorruptError, match=r"corrupt .* restore the collection directory from a backup"):
        CollectionStore(tmp_path / "c")


def test_a_failed_drop_keeps_the_collection_served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = CollectionStore(tmp_path / "c")
    store.create(CollectionConfig("c", DIM)).upsert([0], clustered(1, DIM), [{"a": 1}])

    def refuse(*_: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    with monkeypatch.context() as patch:
        patch.setattr(os, "rename", refuse)
        with pytest.raises(StorageIOError, match=r"deleting collection 'c'.*Permission denied"):
            store.drop("c")
    coll = store.get("c")  # still there, as it still is on disk, and still writable
    coll.upsert([1], clustered(2, DIM)[1:])
    assert coll.count == 2 and coll.fetch(0).metadata == {"a": 1}
    store.close()


def test_a_closed_collection_writes_and_snapshots_nothing(tmp_path: Path) -> None:
    """After a drop, a late write or background snapshot must not touch a directory a new collection of
    the same name may now own."""
    store = CollectionStore(tmp_path / "c")
    coll = store.create(CollectionConfig("c", DIM))
    coll.upsert([0], clustered(1, DIM))
    store.drop("c")
    with pytest.raises(NotFoundError, match="'c' was deleted"):
        coll.upsert([1], clustered(1, DIM))
    assert coll.snapshot() is None
    coll._snapshot_in_background()  # what a write finishing just before the drop would start
    assert coll._background is None
    assert not (tmp_path / "c" / "c").exists()


def test_insert_only_traffic_keeps_the_log_near_the_data_size(tmp_path: Path) -> None:
    """A snapshot is due once the log outgrows the last snapshot's data (or --snapshot-bytes), so the log
    never holds much more than one snapshot's worth: it used to reach several times that under inserts."""
    store = CollectionStore(tmp_path / "c", snapshot_bytes=20_000)
    coll = store.create(CollectionConfig("c", DIM))
    data = clustered(20_000, DIM)
    for start in range(0, len(data), 500):
        coll.upsert(list(range(start, start + 500)), data[start : start + 500])
        if coll._background is not None:
            coll._background.join()
        batch_bytes = 500 * (DIM * 4 + 8)  # one more frame may land before the snapshot rotates the log
        states = list((tmp_path / "c" / "c" / "snapshots").glob("snap-*/state.json"))
        snapshot_rows = json.loads(states[0].read_text())["rows"] if states else 0
        assert coll._wal.size <= max(20_000, snapshot_rows * DIM * 4) + batch_bytes
    store.close()


def test_a_stray_entry_in_the_store_is_named(tmp_path: Path) -> None:
    (tmp_path / "c" / "lost+found").mkdir(parents=True)
    with pytest.raises(StorageIOError, match=r"lost\+found is not a collection .*no config\.json"):
        CollectionStore(tmp_path / "c")
    (tmp_path / "c" / "lost+found").rmdir()
    CollectionStore(tmp_path / "c").close()  # the refusal released the store's lock


def test_a_drop_whose_directory_sync_fails_is_still_a_drop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lexsent.collections.store as store_module

    store = CollectionStore(tmp_path / "c")
    store.create(CollectionConfig("c", DIM)).upsert([0], clustered(1, DIM))

    def failing_fsync(_: Path) -> None:
        raise OSError(errno.EIO, "Input/output error")

    with monkeypatch.context() as patch:
        patch.setattr(store_module, "fsync_dir", failing_fsync)
        with pytest.raises(StorageIOError, match="deletion of collection 'c' durable"):
            store.drop("c")
    assert store.list() == []  # renamed away: not half-served
    store.close()
    assert CollectionStore(tmp_path / "c").list() == []  # and the leftover directory is cleared at start
