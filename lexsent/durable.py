"""Making a rename or a new file durable: one place for the directory fsync that bundles (the manifest)
and collections (WAL, snapshots, the store) each need after `os.replace` or a file creation."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Flush `path`'s entries, so a rename or creation inside it survives a power loss."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
