"""The store's bound on how many collections it holds (each keeps a descriptor open), and the modes of
what it writes: collections may hold private documents, so only the owner may read them."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lexsent.collections import CollectionConfig, CollectionStore
from lexsent.collections.store import FDS_PER_COLLECTION, lock_holder, stored_collections
from lexsent.errors import AlreadyExistsError, ErrorKind, LimitReachedError, UnavailableError


def on_disk(root: Path) -> list[str]:
    """Every entry of the store's directory but its lock file (so leftovers of a refused create show)."""
    return sorted(p.name for p in root.iterdir() if p.name != ".lock")


def test_the_limit_error_is_a_409_and_resource_exhausted_and_not_retryable() -> None:
    error = LimitReachedError("x")
    assert (error.type_name, error.kind.http_status, error.kind.grpc_code) == (
        "limit_reached",
        409,
        "RESOURCE_EXHAUSTED",
    )
    assert not error.kind.retryable
    assert ErrorKind.LIMIT_REACHED is not ErrorKind.ALREADY_EXISTS  # same status, its own kind (no enum alias)


def test_a_create_beyond_the_limit_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    root = tmp_path / "collections"
    store = CollectionStore(root, max_collections=2)
    store.create(CollectionConfig("a", 2))
    store.create(CollectionConfig("b", 2))
    before = on_disk(root)
    with pytest.raises(
        LimitReachedError, match=r"^collection 'c' was not created: 2 collections exist, and the limit is 2$"
    ):
        store.create(CollectionConfig("c", 2))
    assert on_disk(root) == before == ["a", "b"]  # no directory, not even a temporary one
    with pytest.raises(AlreadyExistsError):  # an existing name is still that error, not the limit
        store.create(CollectionConfig("a", 2))
    store.drop("a")
    store.create(CollectionConfig("c", 2)).upsert([1], [[1.0, 0.0]])  # a drop frees a place
    assert [c.config.name for c in store.list()] == ["b", "c"]
    store.close()


def test_the_limit_counts_the_collections_found_at_start(tmp_path: Path) -> None:
    root = tmp_path / "collections"
    store = CollectionStore(root)
    for name in ("a", "b", "c"):
        store.create(CollectionConfig(name, 2)).upsert([name], [[1.0, 0.0]])
    store.close()
    assert stored_collections(root) == 3

    store = CollectionStore(root, max_collections=3)
    with pytest.raises(LimitReachedError, match="3 collections exist, and the limit is 3"):
        store.create(CollectionConfig("d", 2))
    store.close()

    store = CollectionStore(root, max_collections=2)  # fewer than are stored: all still served, none created
    assert [c.count for c in store.list()] == [1, 1, 1] and store.get("b").fetch("b").id == "b"
    with pytest.raises(LimitReachedError, match="3 collections exist, and the limit is 2"):
        store.create(CollectionConfig("d", 2))
    store.drop("a")
    with pytest.raises(LimitReachedError, match="2 collections exist"):
        store.create(CollectionConfig("d", 2))
    store.close()
    assert on_disk(root) == ["b", "c"]


def test_concurrent_creates_do_not_overshoot_the_limit(tmp_path: Path) -> None:
    root = tmp_path / "collections"
    store = CollectionStore(root, max_collections=5)
    start = threading.Barrier(20)
    outcomes: list[str] = []

    def create(i: int) -> None:
        start.wait()
        try:
            store.create(CollectionConfig(f"c{i}", 2))
            outcomes.append("created")
        except LimitReachedError:
            outcomes.append("refused")

    threads = [threading.Thread(target=create, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created"] * 5 + ["refused"] * 15
    assert len(store.list()) == 5 and len(on_disk(root)) == 5
    store.close()


def test_each_open_collection_holds_the_descriptors_counted_for_it(tmp_path: Path) -> None:
    """`FDS_PER_COLLECTION` sizes the server's open-file limit: it must be what a collection really holds."""
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.is_dir():
        pytest.skip("needs /proc/self/fd")
    store = CollectionStore(tmp_path / "collections")
    before = len(list(fd_dir.iterdir()))
    for i in range(10):
        store.create(CollectionConfig(f"c{i}", 2)).upsert([i], [[1.0, 0.0]])
    assert len(list(fd_dir.iterdir())) - before == 10 * FDS_PER_COLLECTION
    store.close()


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, under which the old modes (0644 / 0755) were world-readable."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


@pytest.mark.usefixtures("umask_022")
def test_what_the_store_writes_is_private(tmp_path: Path) -> None:
    root = tmp_path / "collections"
    store = CollectionStore(root)
    coll = store.create(CollectionConfig("c", 4))
    coll.upsert([1, 2], np.eye(4, dtype=np.float32)[:2], [{"secret": "a"}, None])
    coll.snapshot()
    coll.upsert([3], np.eye(4, dtype=np.float32)[2:3])  # into the segment the snapshot started
    store.close()  # and a snapshot at shutdown
    found = modes(root)
    names = set(found)
    # every kind of file and directory was made, so every kind is checked below
    assert {".lock", "c", "c/config.json", "c/wal", "c/snapshots"} <= names
    assert any(n.startswith("c/wal/wal-") and n.endswith(".log") for n in names)
    snapshot_files = {n.rsplit("/", 1)[-1] for n in names if n.startswith("c/snapshots/snap-") and n.count("/") == 3}
    assert snapshot_files == {"vectors.f32", "ids.json", "metadata.jsonl", "state.json"}
    wrong = {name: oct(mode) for name, mode in found.items() if mode != (0o700 if (root / name).is_dir() else 0o600)}
    assert wrong == {}


@pytest.mark.usefixtures("umask_022")
def test_data_written_with_the_old_modes_still_opens(tmp_path: Path) -> None:
    root = tmp_path / "collections"
    store = CollectionStore(root)
    store.create(CollectionConfig("old", 2)).upsert(["a"], [[1.0, 0.0]], [{"k": 1}])
    store.get("old").snapshot()
    store.get("old").upsert(["b"], [[0.0, 1.0]])
    store.close(snapshot=False)
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)

    store = CollectionStore(root)
    coll = store.get("old")
    assert coll.count == 2 and coll.fetch("a").metadata == {"k": 1}
    coll.upsert(["c"], [[1.0, 1.0]])
    fresh = coll.snapshot()
    assert fresh is not None and stat.S_IMODE(fresh.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in fresh.iterdir()} == {0o600}
    store.close()
    assert stat.S_IMODE(root.stat().st_mode) == 0o755  # left as the operator had it


def test_the_lock_file_names_the_process_that_holds_the_store(tmp_path: Path) -> None:
    root = tmp_path / "collections"
    assert lock_holder(root) is None  # no store yet
    store = CollectionStore(root)
    try:
        assert lock_holder(root) == os.getpid()
        with pytest.raises(UnavailableError, match="already open in another process"):
            CollectionStore(root)
        assert lock_holder(root) == os.getpid()  # a refused opener leaves the owner's pid in place
    finally:
        store.close()
