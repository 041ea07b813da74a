"""Write-ahead log: every write is appended and fsynced here before it is applied or acknowledged.

Segments `wal-<first seq>.log` hold framed records:

    magic "LXW1" | u32 payload length | u64 seq | u32 crc32(seq + payload) | payload
    payload = u8 op | u32 json length | JSON {"ids", "metadata"?} | float32 vectors (little endian)

Vectors travel as raw float32 bytes (bit-exact, no pickle); ids and metadata as JSON. On start, the
records after the snapshot's sequence number are replayed; a torn or corrupt tail (a crash mid-append,
a bad checksum, a gap in sequence numbers) is cut off with a warning instead of failing the start.
A failed append is truncated away so the log never keeps a write that was not acknowledged.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lexsent.collections.fsio import Disk, fsync_dir, storage_errors
from lexsent.collections.ids import PointId

log = logging.getLogger(__name__)

MAGIC = b"LXW1"
_HEADER = struct.Struct("<4sIQI")
_OP = struct.Struct("<BI")
_SEGMENT = re.compile(r"^wal-(\d{20})\.log$")


class Op(IntEnum):
    UPSERT = 1
    DELETE = 2


@dataclass(frozen=True)
class Record:
    op: Op
    ids: list[PointId]
    metadata: list[dict[str, Any] | None]
    vectors: npt.NDArray[np.float32]


def encode(seq: int, record: Record) -> bytes:
    body: dict[str, Any] = {"ids": record.ids}
    if record.op is Op.UPSERT:
        body["metadata"] = record.metadata
    header = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    vectors = np.ascontiguousarray(record.vectors, dtype="<f4").tobytes()
    payload = _OP.pack(record.op, len(header)) + header + vectors
    crc = zlib.crc32(seq.to_bytes(8, "little") + payload)
    return _HEADER.pack(MAGIC, len(payload), seq, crc) + payload


def _decode_payload(payload: bytes, dim: int) -> Record:
    op_value, header_len = _OP.unpack_from(payload)
    op = Op(op_value)
    start = _OP.size
    body = json.loads(payload[start : start + header_len])
    raw = payload[start + header_len :]
    vectors = np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(-1, dim)
    ids = body["ids"]
    metadata = body.get("metadata", [None] * len(ids))
    if op is Op.UPSERT and not (len(ids) == len(metadata) == vectors.shape[0]):
        raise ValueError("record sizes disagree")
    return Record(op, ids, metadata, vectors)


def _segments(directory: Path) -> list[tuple[int, Path]]:
    found = []
    for path in directory.iterdir():
        match = _SEGMENT.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def _segment_path(directory: Path, first_seq: int) -> Path:
    return directory / f"wal-{first_seq:020d}.log"


class WriteAheadLog:
    """Append-only, segmented, fsynced log of one collection's writes. Not thread-safe: one writer."""

    def __init__(self, directory: Path, dim: int, disk: Disk) -> None:
        self.directory = directory
        self.dim = dim
        self.disk = disk
        self.last_seq = 0
        self._fd: int | None = None
        self._size = 0
        self._segment_first = 1

    def replay(self, after_seq: int) -> Iterator[tuple[int, Record]]:
        """Yield (seq, record) for every intact record with seq > after_seq; cut a bad tail.

        Afterwards the log is open for appending at the next sequence number.
        """
        self.last_seq = after_seq
        segments = _segments(self.directory)
        expected = segments[0][0] if segments else after_seq + 1
        for position, (first_seq, path) in enumerate(segments):
            if first_seq != expected:
                self._cut(path, 0, path.stat().st_size, segments[position + 1 :])
                path.unlink()
                segments = segments[:position]
                break
            data = path.read_bytes()
            offset = 0
            while offset < len(data):
                parsed = self._parse(data, offset, expected)
                if parsed is None:
                    self._cut(path, offset, len(data), segments[position + 1 :])
                    segments = segments[: position + 1]
                    break
                record, offset = parsed
                if expected > after_seq:
                    self.last_seq = expected
                    yield expected, record
                expected += 1
            else:
                continue
            break
        self._open_tail(segments)

    def _parse(self, data: bytes, offset: int, expected: int) -> tuple[Record, int] | None:
        if offset + _HEADER.size > len(data):
            return None
        magic, length, seq, crc = _HEADER.unpack_from(data, offset)
        end = offset + _HEADER.size + length
        if magic != MAGIC or seq != expected or end > len(data):
            return None
        payload = data[offset + _HEADER.size : end]
        if zlib.crc32(seq.to_bytes(8, "little") + payload) != crc:
            return None
        try:
            return _decode_payload(payload, self.dim), end
        except (ValueError, KeyError, TypeError):
            return None

    def _cut(self, path: Path, offset: int, size: int, later: list[tuple[int, Path]]) -> None:
        log.warning(
            "write-ahead log %s: torn or corrupt record at byte %d of %d; cutting the tail (these writes"
            " were never acknowledged)",
            path,
            offset,
            size,
        )
        os.truncate(path, offset)
        for _, stale in later:
            log.warning("write-ahead log: dropping segment %s that follows a corrupt record", stale)
            stale.unlink()
        fsync_dir(self.directory)

    def _open_tail(self, segments: list[tuple[int, Path]]) -> None:
        if segments:
            self._segment_first, path = segments[-1]
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            self._size = os.fstat(self._fd).st_size
        else:
            self._open_new(self.last_seq + 1)

    def _open_new(self, first_seq: int) -> None:
        with storage_errors("starting a new write-ahead log segment"):
            fd = os.open(_segment_path(self.directory, first_seq), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            fsync_dir(self.directory)
        self.close()
        self._fd, self._size, self._segment_first = fd, 0, first_seq

    def append(self, record: Record) -> int:
        """Durably append `record`; returns its sequence number. On failure the log is unchanged."""
        assert self._fd is not None, "replay() opens the log"
        seq = self.last_seq + 1
        frame = encode(seq, record)
        try:
            with storage_errors("appending to the write-ahead log"):
                self.disk.write_all(self._fd, frame)
                os.fdatasync(self._fd)
        except BaseException:
            os.ftruncate(self._fd, self._size)
            raise
        self._size += len(frame)
        self.last_seq = seq
        return seq

    @property
    def size(self) -> int:
        return self._size

    def rotate(self) -> None:
        """Start a new segment at the next sequence number (called when a snapshot is captured)."""
        if self._size:
            self._open_new(self.last_seq + 1)

    def drop_through(self, seq: int) -> None:
        """Delete segments whose records are all covered by a durable snapshot at `seq`."""
        segments = _segments(self.directory)
        for (_, path), (next_first, _) in itertools.pairwise(segments):
            if next_first - 1 <= seq:
                path.unlink(missing_ok=True)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
