"""Reading a training text file of `lexsent data build` (one item per line), with errors that say how
to repair it instead of a decoding traceback or, for an empty file, a crash deep in the trainer."""

from __future__ import annotations

from pathlib import Path

from lexsent.errors import InvalidInputError, NotFoundError


def read_lines(path: Path) -> list[str]:
    """The file's non-blank lines (split as `str.splitlines` does, as the trainers always have)."""
    rebuild = f"run `lexsent data build --out {path.parent}`"
    if not path.exists():
        raise NotFoundError(f"{path} missing: {rebuild} first")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{path} is not UTF-8 text (byte {exc.start}): {rebuild} again") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise InvalidInputError(f"{path} has no non-blank lines to train on: {rebuild} again")
    return lines
