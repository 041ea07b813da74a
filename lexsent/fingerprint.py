"""sha256 fingerprint of a bundle's model and tokenizer: identifies the exact weights a vector came from."""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1 << 20


def fingerprint_files(*paths: Path) -> str:
    """Hash the files in order, each prefixed by its size, so concatenation ambiguities cannot collide."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.stat().st_size.to_bytes(8, "little"))
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()
