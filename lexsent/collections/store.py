"""All collections under one data directory: create, open, list, drop — each step crash-safe.

    <data_dir>/collections/<name>/config.json, wal/, snapshots/

A new collection is assembled under a temporary name and renamed into place; a dropped one is renamed
away before it is removed, so a crash never leaves a half-made or half-deleted collection visible.
An exclusive lock file keeps a second process from opening the same store and interleaving writes; it
holds the owner's pid, so a refused second process can say which process to stop (`lock_holder`).

Open file descriptors: the store holds `STORE_FDS` (its lock file) and each open collection
`FDS_PER_COLLECTION` (the write-ahead log segment it appends to), for as long as they are open; writes,
snapshots and recovery open files only briefly. `max_collections` bounds the number of collections, so
creating them cannot exhaust the process's descriptors.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import uuid
from pathlib import Path

from lexsent.collections.collection import SNAPSHOT_AFTER_BYTES, Collection
from lexsent.collections.config import CollectionConfig, validate_name
from lexsent.collections.fsio import PRIVATE_DIR, PRIVATE_FILE, Disk, remove_tree, storage_errors
from lexsent.durable import fsync_dir
from lexsent.errors import AlreadyExistsError, LimitReachedError, NotFoundError, StorageIOError, UnavailableError

log = logging.getLogger(__name__)

LOCK_FILE = ".lock"
STORE_FDS = 1  # the lock file
FDS_PER_COLLECTION = 1  # the write-ahead log's open segment (WriteAheadLog._fd)


def lock_holder(root: Path) -> int | None:
    """The pid the store at `root` last wrote into its lock file (its owner while the lock is held), or
    None when the file is absent or holds no pid."""
    try:
        text = (root / LOCK_FILE).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def stored_collections(root: Path) -> int:
    """How many collections the store at `root` holds, counted without opening any (every entry whose
    name does not start with a dot is one)."""
    if not root.is_dir():
        return 0
    return sum(1 for path in root.iterdir() if not path.name.startswith("."))


class CollectionStore:
    def __init__(
        self,
        root: Path,
        disk: Disk | None = None,
        *,
        snapshot_bytes: int = SNAPSHOT_AFTER_BYTES,
        max_collections: int | None = None,
    ) -> None:
        """Open (and recover) every collection under `root`; a snapshot is written in the background
        once a collection's log has grown past `snapshot_bytes`. `create` refuses a collection beyond
        `max_collections` (None: no limit); more already stored are all opened, and only counted."""
        self.root = root
        self.snapshot_bytes = snapshot_bytes
        self.max_collections = max_collections
        self.disk = disk or Disk()
        self._lock = threading.Lock()
        root.mkdir(PRIVATE_DIR, parents=True, exist_ok=True)
        self._lock_fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise UnavailableError(f"collections in {root} are already open in another process") from None
        os.ftruncate(self._lock_fd, 0)
        os.pwrite(self._lock_fd, f"{os.getpid()}\n".encode(), 0)
        self._collections: dict[str, Collection] = {}
        for path in sorted(root.iterdir()):
            if path.name.startswith("."):
                if path.is_dir():
                    remove_tree(path)  # an interrupted create or drop
                continue
            if not (path / "config.json").is_file():
                os.close(self._lock_fd)
                raise StorageIOError(
                    f"{path} is not a collection (it has no config.json); move it out of {root}, which holds "
                    "only collections"
                )
            config = CollectionConfig.from_json((path / "config.json").read_bytes())
            self._collections[config.name] = Collection(path, config, self.disk, snapshot_bytes=snapshot_bytes)

    def create(self, config: CollectionConfig) -> Collection:
        with self._lock:
            if config.name in self._collections:
                raise AlreadyExistsError(f"collection {config.name!r} already exists")
            if self.max_collections is not None and len(self._collections) >= self.max_collections:
                raise LimitReachedError(
                    f"collection {config.name!r} was not created: {len(self._collections)} collections exist, "
                    f"and the limit is {self.max_collections}"
                )
            tmp = self.root / f".new-{uuid.uuid4().hex}"
            final = self.root / config.name
            try:
                with storage_errors(f"creating collection {config.name!r}"):
                    tmp.mkdir(PRIVATE_DIR)
                    self.disk.write_file(tmp / "config.json", iter([config.to_json()]))
                    for part in ("wal", "snapshots"):  # made here, so the fsync below covers them
                        (tmp / part).mkdir(PRIVATE_DIR)
                    fsync_dir(tmp)
                    os.rename(tmp, final)
                    fsync_dir(self.root)
            except BaseException:
                remove_tree(tmp)
                raise
            try:
                with storage_errors(f"opening the new collection {config.name!r}"):  # e.g. out of file handles
                    collection = Collection(final, config, self.disk, snapshot_bytes=self.snapshot_bytes)
            except BaseException:  # refused, so it must not come back at the next start
                doomed = self.root / f".drop-{uuid.uuid4().hex}"
                os.rename(final, doomed)
                remove_tree(doomed)
                raise
            self._collections[config.name] = collection
            return collection

    def get(self, name: str) -> Collection:
        collection = self._collections.get(name)
        if collection is None:
            validate_name(name)
            raise NotFoundError(f"collection {name!r} does not exist")
        return collection

    def list(self) -> list[Collection]:
        return [self._collections[name] for name in sorted(self._collections)]

    def drop(self, name: str) -> None:
        with self._lock:
            collection = self.get(name)
            collection.retire()  # no write or snapshot runs after this
            doomed = self.root / f".drop-{uuid.uuid4().hex}"
            try:
                with storage_errors(f"deleting collection {name!r}"):
                    os.rename(collection.directory, doomed)
            except BaseException:
                collection.resume()  # still on disk, so still served (and a restart would bring it back)
                raise
            del self._collections[name]
            collection.close()
            # Renamed, so gone from this process; a failed fsync only means a crash could bring it back.
            with storage_errors(f"making the deletion of collection {name!r} durable (a crash may undo it)"):
                fsync_dir(self.root)
            remove_tree(doomed)

    def close(self, *, snapshot: bool = True) -> None:
        """Close every collection; with `snapshot`, persist one so the next start replays little."""
        with self._lock:
            for collection in self._collections.values():
                if snapshot:
                    try:
                        collection.snapshot()
                    except Exception:
                        log.exception("snapshot of %s at shutdown failed; its log is intact", collection.config.name)
                collection.close()
            self._collections.clear()
            os.close(self._lock_fd)
