"""Durable file primitives of collections: fsync'd writes, directory fsync, disk-full mapping.

Every byte a collection persists goes through :class:`Disk`, so one small hook (`write`) lets tests
inject ENOSPC exactly where a real full disk would fail, and one place turns that into
:class:`StorageFullError` (507 / RESOURCE_EXHAUSTED).

Collections may hold private documents, so what the store creates is the owner's alone: files
`PRIVATE_FILE` (0600), directories `PRIVATE_DIR` (0700); a umask can only narrow these. Files and
directories made before that (0644 / 0755 under umask 022) are read as they are and left so.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from lexsent.errors import StorageFullError, StorageIOError

WriteFn = Callable[[int, bytes | memoryview], int]
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


@contextmanager
def storage_errors(what: str) -> Iterator[None]:
    """Turn OS errors raised while persisting into typed lexsent errors."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _FULL:
            raise StorageFullError(f"disk full while {what}; nothing was changed") from exc
        raise StorageIOError(f"I/O error while {what}: {exc}") from exc


@dataclass
class Disk:
    """Write-side file operations with an injectable low-level `write` (tests pass one that fails)."""

    write: WriteFn = field(default=os.write)

    def write_all(self, fd: int, data: bytes | memoryview) -> None:
        view = memoryview(data).cast("B")
        while view:
            written = self.write(fd, view)
            view = view[written:]

    def write_file(self, path: Path, chunks: Iterator[bytes | memoryview]) -> None:
        """Create `path` (must not exist), write every chunk, fsync; the caller fsyncs the directory."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        try:
            for chunk in chunks:
                self.write_all(fd, chunk)
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
