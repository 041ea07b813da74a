"""The modes of what the store writes: collections may hold private documents, so only the owner may
read them."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lexsent.collections import CollectionConfig, CollectionStore


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
