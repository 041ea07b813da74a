"""Reading a text file of a `lexsent data build` directory (training corpora, evaluation sets), with
errors that say how to repair it instead of a decoding traceback or, for an empty file, a crash deep in
a trainer or a NaN score."""

from __future__ import annotations

from pathlib import Path

from lexsent.errors import InvalidInputError, NotFoundError


def numbered_lines(path: Path, data_dir: Path) -> list[tuple[int, str]]:
    """(1-based line number, text) of the file's non-blank lines, split as `str.splitlines` does (as the
    trainers always have); `data_dir` is the directory a rebuild would write."""
    rebuild = f"run `lexsent data build --out {data_dir}`"
    if not path.exists():
        raise NotFoundError(f"{path} missing: {rebuild} first")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{path}: not UTF-8 text (byte {exc.start}); {rebuild} again") from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise InvalidInputError(f"{path} is empty (no non-blank lines); {rebuild} again")
    return lines


def read_lines(path: Path, data_dir: Path) -> list[str]:
    return [line for _, line in numbered_lines(path, data_dir)]
