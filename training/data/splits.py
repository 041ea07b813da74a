"""Deterministic train/eval splits by hash, and the guard that keeps eval items out of training.

An item goes to eval when sha256(salt + key) falls below the eval fraction: the split depends only on
the item, not on file order or the machine. The eval side's hashes are written to disk
(`eval_hashes.txt`) and every trainer checks its inputs against them (`EvalGuard`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path

from lexsent.errors import InvalidInputError, NotFoundError

HASHES_FILE = "eval_hashes.txt"
_SHA256 = re.compile(r"[0-9a-f]{64}")


def normalise_key(text: str) -> str:
    """Case- and space-insensitive identity, so 'Open file' and 'open  File' are one item."""
    return " ".join(text.casefold().split())


def item_hash(text: str) -> str:
    return hashlib.sha256(normalise_key(text).encode("utf-8")).hexdigest()


def is_eval(key: str, fraction: float, salt: str) -> bool:
    digest = hashlib.sha256(f"{salt}\x00{normalise_key(key)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def _recorded_count(data_dir: Path) -> int | None:
    """`counts.eval_hashes` of the directory's build.json, when there is one that records it."""
    path = data_dir / "build.json"
    if not path.exists():
        return None
    try:
        count = json.loads(path.read_text(encoding="utf-8")).get("counts", {}).get("eval_hashes")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
        raise InvalidInputError(f"{path}: not the JSON object `lexsent data build` writes ({exc})") from exc
    return count if isinstance(count, int) else None


class LeakError(InvalidInputError):
    """A training input is an evaluation item."""


class EvalGuard:
    """Hashes of every evaluation text; `check` refuses training inputs that are among them."""

    def __init__(self, hashes: set[str]) -> None:
        self.hashes = hashes

    @classmethod
    def load(cls, data_dir: Path) -> EvalGuard:
        """The data directory's guard; a directory without one is refused, never trained on unguarded."""
        path = data_dir / HASHES_FILE
        if not path.exists():
            raise NotFoundError(
                f"{path} missing: the data directory has no record of its evaluation items, so nothing keeps "
                f"them out of training; build it with `lexsent data build --out {data_dir}`"
            )
        rebuild = f"rebuild the data directory with `lexsent data build --out {data_dir}`"
        try:
            lines = path.read_text(encoding="ascii").splitlines()
        except UnicodeDecodeError as exc:
            raise InvalidInputError(f"{path}: not a list of hashes (non-ASCII byte at {exc.start}); {rebuild}") from exc
        hashes = set()
        for n, line in enumerate(lines, 1):
            digest = line.strip()
            if digest and not _SHA256.fullmatch(digest):
                raise InvalidInputError(f"{path}:{n}: {digest[:80]!r} is not a sha256 hex digest; {rebuild}")
            if digest:
                hashes.add(digest)
        if not hashes:  # an empty guard lets every evaluation item into training
            raise InvalidInputError(f"{path} is empty, so it would keep no evaluation item out of training; {rebuild}")
        expected = _recorded_count(data_dir)
        if expected is not None and expected != len(hashes):
            raise InvalidInputError(
                f"{path} holds {len(hashes)} hashes but {data_dir / 'build.json'} records {expected}: the file is "
                f"truncated or from another build; {rebuild}"
            )
        return cls(hashes)

    def write(self, data_dir: Path) -> None:
        (data_dir / HASHES_FILE).write_text("".join(h + "\n" for h in sorted(self.hashes)), encoding="ascii")

    def add(self, texts: Iterable[str]) -> None:
        self.hashes.update(item_hash(t) for t in texts)

    def check(self, texts: Iterable[str]) -> None:
        leaked = [t for t in texts if item_hash(t) in self.hashes]
        if leaked:
            raise LeakError(f"{len(leaked)} training items are evaluation items, e.g. {leaked[0]!r}")
