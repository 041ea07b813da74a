"""Write-ahead log: every write is appended and fsynced here before it is applied or acknowledged.

Segments `wal-<first seq>.log` hold framed records:

    magic "LXW1" | u32 payload length | u64 seq | u32 crc32(seq + payload) | payload
    payload = u8 op | u32 json length | JSON {"ids", "metadata"?} | float32 vectors (little endian)

Vectors travel as raw float32 bytes (bit-exact, no pickle); ids and metadata as JSON. On start, the
records after the snapshot's sequence number are replayed. A crash mid-append can only tear the last
record of the last segment (each append is fdatasynced before the next begins, and a failed append is
truncated away), so a bad record with nothing intact after it is cut off with a warning. A bad record
that intact records or later segments follow, or a gap in sequence numbers (between the snapshot and
the log, or between segments), is damage a crash cannot cause: those records were acknowledged, so
replay refuses (`StorageCorruptError`) and leaves the files as they are for the operator.
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

from lexsent.collections.fsio import PRIVATE_FILE, Disk, storage_errors
from lexsent.collections.ids import PointId
from lexsent.durable import fsync_dir
from lexsent.errors import StorageCorruptError

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
        """Yield (seq, record) for every record with seq > after_seq; cut a torn tail, refuse damage.

        Afterwards the log is open for appending at the next sequence number.
        """
        self.last_seq = after_seq
        segments = _segments(self.directory)
        if segments and segments[0][0] > after_seq + 1:
            raise StorageCorruptError(
                f"write-ahead log {self.directory} starts at record {segments[0][0]}, but the snapshot ends at "
                f"record {after_seq}: records {after_seq + 1}-{segments[0][0] - 1} are missing (was a snapshot or "
                "log segment moved or deleted?). Put it back, or restore the collection directory from a backup"
            )
        expected = segments[0][0] if segments else after_seq + 1
        for position, (first_seq, path) in enumerate(segments):
            if first_seq != expected:
                raise StorageCorruptError(
                    f"write-ahead log segment {path} starts at record {first_seq}, but the segment before it "
                    f"ends at record {expected - 1}: a segment is missing. Restore the collection directory "
                    "from a backup"
                )
            data = path.read_bytes()
            offset = 0
            while offset < len(data):
                parsed = self._parse(data, offset, expected)
                if parsed is None:
                    self._cut_torn_tail(path, data, offset, expected, later=segments[position + 1 :])
                    break
                record, offset = parsed
                if expected > after_seq:
                    self.last_seq = expected
                    yield expected, record
                expected += 1
        self._open_tail(segments)

    def _parse(self, data: bytes, offset: int, expected: int) -> tuple[Record, int] | None:
        """The intact record at `offset`, with sequence number `expected`, and where it ends."""
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

    def _declared_end(self, data: bytes, offset: int, expected: int) -> int | None:
        """Where the record at `offset` ends by its header, when the header is whole and is the one
        expected there (a torn write keeps its header; damage may not)."""
        if offset + _HEADER.size > len(data):
            return None
        magic, length, seq, _ = _HEADER.unpack_from(data, offset)
        return offset + _HEADER.size + length if magic == MAGIC and seq == expected else None

    def _chains_to_end(self, data: bytes, offset: int, seq: int, *, whole: bool) -> bool:
        """An intact record numbered `seq` at `offset`; with `whole`, followed by consecutive ones up to
        exactly the end of `data`."""
        while True:
            parsed = self._parse(data, offset, seq)
            if parsed is None:
                return False
            offset, seq = parsed[1], seq + 1
            if not whole or offset == len(data):
                return True

    def _cut_torn_tail(
        self, path: Path, data: bytes, offset: int, expected: int, later: list[tuple[int, Path]]
    ) -> None:
        """Cut the bad record at `offset` if a crash can explain it: nothing intact may follow it."""
        following = len(later)
        # The evidence of damage is the next record (the very next sequence number), intact. Raw float32
        # vectors can spell whole frames, so a find inside what the bad record's header claims as its
        # payload counts only if records chain from it exactly to the end of the file (as real later
        # records do, and frames inside a payload torn at a random byte cannot); past that, one will do.
        end = self._declared_end(data, offset, expected)
        claimed = min(end, len(data)) if end is not None else offset
        start = data.find(MAGIC, offset + 1)
        while start != -1 and not following:
            following += self._chains_to_end(data, start, expected + 1, whole=start < claimed)
            start = data.find(MAGIC, start + 1)
        if following:
            raise StorageCorruptError(
                f"write-ahead log {path} is damaged at byte {offset}, and acknowledged writes follow it "
                f"({'later segments' if later else 'intact records after it'}), so this is not a torn last write. "
                f"Nothing was changed. Restore the collection directory from a backup, or, to keep only the "
                f"writes before the damage, truncate the file to {offset} bytes and delete the later segments"
            )
        log.warning(
            "write-ahead log %s: torn last record at byte %d of %d (a crash mid-write; it was never "
            "acknowledged); cutting it",
            path,
            offset,
            len(data),
        )
        fd = os.open(path, os.O_WRONLY)
        try:
            os.ftruncate(fd, offset)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _open_tail(self, segments: list[tuple[int, Path]]) -> None:
        if segments:
            self._segment_first, path = segments[-1]
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            self._size = os.fstat(self._fd).st_size
        else:
            self._open_new(self.last_seq + 1)

    def _open_new(self, first_seq: int) -> None:
        with storage_errors("starting a new write-ahead log segment"):
            path = _segment_path(self.directory, first_seq)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE)
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
