"""The record files `lexsent ingest` reads: JSONL, CSV or plain text, turned into upsert points in file
order. Every record is checked as it is read, and one that cannot be used is refused as `FILE:LINE: …`.

Record fields: `id` (else the record's 1-based position), `text` or `vector`, and every other field goes
into the point's metadata (CSV values stay strings). Plain text: one point per non-empty line, id = line
number.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from collections.abc import Iterable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any

from lexsent.errors import InvalidInputError


class InputFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"
    TEXT = "text"


_SUFFIXES = {".jsonl": InputFormat.JSONL, ".ndjson": InputFormat.JSONL, ".csv": InputFormat.CSV}


def input_format(path: Path, given: str | None) -> InputFormat:
    """`--format` when given, else the file's suffix (.jsonl/.ndjson, .csv), else plain text."""
    return InputFormat(given) if given else _SUFFIXES.get(path.suffix.lower(), InputFormat.TEXT)


def records(path: Path, fmt: InputFormat, args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """Points in file order, as upsert dicts; a record that cannot be read is refused as `FILE:LINE: …`."""
    # utf-8-sig: a spreadsheet's CSV export starts with a byte-order mark, which would join the first header
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        lines = _utf8_lines(path, handle)
        if fmt is InputFormat.TEXT:
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    yield {"id": number, "text": line.rstrip("\r\n")}
            return
        rows = _csv_rows(path, lines) if fmt is InputFormat.CSV else _jsonl_rows(path, lines)
        first: tuple[int, int] | None = None  # (position, dimension) of the first vector: a collection has one
        for position, (number, row) in enumerate(rows, start=1):
            if not isinstance(row, dict):
                raise InvalidInputError(f"{path}:{number}: record {position} is not a JSON object")
            try:
                point = _point(row, position, args)
                if "vector" in point:
                    first = first or (position, len(point["vector"]))
                    if len(point["vector"]) != first[1]:
                        raise InvalidInputError(
                            f"record {position}: field {args.vector_field!r} has dimension {len(point['vector'])},"
                            f" but record {first[0]}'s has dimension {first[1]}"
                        )
            except InvalidInputError as exc:
                raise InvalidInputError(f"{path}:{number}: {exc.message}") from None
            yield point


def _utf8_lines(path: Path, handle: Iterable[str]) -> Iterator[str]:
    """The lines of a file opened with `errors="surrogateescape"`, which marks a byte that is not UTF-8 in
    its line (as a lone surrogate) instead of failing a read-ahead chunk, where the line is unknown."""
    for number, line in enumerate(handle, start=1):
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInputError(f"{path}:{number}: not valid UTF-8") from None
        yield line


def _jsonl_rows(path: Path, lines: Iterable[str]) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for each non-blank line."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{path}:{number}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        yield number, value


def _csv_rows(path: Path, lines: Iterable[str]) -> Iterator[tuple[int, Any]]:
    """(line number where the row ends, row) for each CSV row."""
    reader = csv.DictReader(lines)
    try:
        for row in reader:
            yield reader.line_num, row
    except csv.Error as exc:  # e.g. a field over csv's size limit; DictReader's own count lags on an error
        raise InvalidInputError(f"{path}:{reader.reader.line_num}: not valid CSV ({exc})") from None


def _point(row: dict[str, Any], position: int, args: argparse.Namespace) -> dict[str, Any]:
    fields = dict(row)
    point: dict[str, Any] = {"id": fields.pop(args.id_field, position)}
    if args.vector_field in fields:
        vector = fields.pop(args.vector_field)
        if isinstance(vector, str):  # CSV cells, or JSONL that quotes its arrays
            try:
                vector = json.loads(vector)
            except json.JSONDecodeError as exc:
                problem = f"{exc.msg} at column {exc.colno}"
                raise InvalidInputError(
                    f"record {position}: field {args.vector_field!r} is not valid JSON ({problem})"
                ) from None
        point["vector"] = _vector(vector, position, args.vector_field)
    elif args.text_field in fields:
        text = fields.pop(args.text_field)
        if not isinstance(text, str):
            raise InvalidInputError(f"record {position}: field {args.text_field!r} is not a string: {text!r}")
        point["text"] = text
    else:
        raise InvalidInputError(f"record {position} has neither {args.text_field!r} nor {args.vector_field!r}")
    if fields:
        point["metadata"] = fields
    return point


def _vector(value: Any, position: int, field: str) -> list[float]:
    """A non-empty list of finite numbers, as every collection takes (JSON itself allows NaN and Infinity)."""
    numbers = isinstance(value, list) and all(isinstance(x, int | float) and not isinstance(x, bool) for x in value)
    if not numbers or not value:
        raise InvalidInputError(f"record {position}: field {field!r} is not a non-empty list of numbers")
    if not all(_finite(x) for x in value):
        raise InvalidInputError(f"record {position}: field {field!r} holds NaN or infinity")
    return list(value)


def _finite(number: float) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:  # an integer too large for a float
        return False
