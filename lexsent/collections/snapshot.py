"""Snapshots: a directory per snapshot, written beside the live one and renamed into place.

    snapshots/snap-<seq>/   vectors.f32 (raw little-endian float32, rows × dim), ids.json (row → id,
                            null for tombstones), metadata.jsonl (one JSON value per row),
                            index.faiss (FAISS's own binary format, only when rebuilding is costly),
                            state.json (seq, shapes and crc32 of every file; written last)

The directory is built under a temporary name, every file and the directory are fsynced, then it is
renamed to `snap-<seq>` and the parent is fsynced: a crash leaves either the old or the new snapshot,
never half of one. Nothing is pickled; a snapshot only ever holds JSON, raw floats and FAISS data.
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lexsent.collections.fsio import PRIVATE_DIR, Disk, remove_tree, storage_errors
from lexsent.collections.ids import PointId
from lexsent.collections.table import MetadataRow
from lexsent.durable import fsync_dir
from lexsent.errors import StorageCorruptError, StorageIOError

log = logging.getLogger(__name__)

_SNAPSHOT = re.compile(r"^snap-(\d{20})$")
_CHUNK_ROWS = 16384


@dataclass(frozen=True)
class SnapshotData:
    seq: int
    vectors: npt.NDArray[np.float32]
    id_at: list[PointId | None]
    metadata: list[MetadataRow]
    index: npt.NDArray[np.uint8] | None
    trained_on: int


def _vector_chunks(vectors: npt.NDArray[np.float32]) -> Iterator[bytes]:
    for start in range(0, vectors.shape[0], _CHUNK_ROWS):
        yield np.ascontiguousarray(vectors[start : start + _CHUNK_ROWS], dtype="<f4").tobytes()


def _metadata_chunks(metadata: list[MetadataRow]) -> Iterator[bytes]:
    lines = []
    for meta in metadata:
        lines.append(json.dumps(meta, separators=(",", ":"), ensure_ascii=False))
        if len(lines) >= _CHUNK_ROWS:
            yield ("\n".join(lines) + "\n").encode()
            lines = []
    if lines:
        yield ("\n".join(lines) + "\n").encode()


class _Crc:
    """Passes chunks through while computing their crc32 and size."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks, self.crc, self.size = chunks, 0, 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.crc = zlib.crc32(chunk, self.crc)
            self.size += len(chunk)
            yield chunk


def write(directory: Path, data: SnapshotData, disk: Disk) -> Path:
    """Write `data` as snapshot `snap-<seq>` under `directory`, atomically; returns its path."""
    directory.mkdir(PRIVATE_DIR, parents=True, exist_ok=True)
    final = directory / name_for(data.seq)
    tmp = directory / f".tmp-{uuid.uuid4().hex}"
    files: dict[str, Iterator[bytes]] = {
        "vectors.f32": _vector_chunks(data.vectors),
        "ids.json": iter([json.dumps(data.id_at, separators=(",", ":"), ensure_ascii=False).encode()]),
        "metadata.jsonl": _metadata_chunks(data.metadata),
    }
    if data.index is not None:
        files["index.faiss"] = iter([data.index.tobytes()])
    try:
        with storage_errors("writing a snapshot"):
            tmp.mkdir(PRIVATE_DIR)
            sums: dict[str, dict[str, int]] = {}
            for name, chunks in files.items():
                counted = _Crc(chunks)
                disk.write_file(tmp / name, iter(counted))
                sums[name] = {"crc32": counted.crc, "size": counted.size}
            state = {
                "seq": data.seq,
                "rows": int(data.vectors.shape[0]),
                "dim": int(data.vectors.shape[1]),
                "trained_on": data.trained_on,
                "files": sums,
            }
            disk.write_file(tmp / "state.json", iter([json.dumps(state, indent=1).encode()]))
            fsync_dir(tmp)
            os.rename(tmp, final)
            fsync_dir(directory)
    except BaseException:
        remove_tree(tmp)
        raise
    return final


def name_for(seq: int) -> str:
    return f"snap-{seq:020d}"


def latest(directory: Path) -> Path | None:
    if not directory.is_dir():
        return None
    found = sorted(p for p in directory.iterdir() if _SNAPSHOT.match(p.name))
    return found[-1] if found else None


def prune(directory: Path, keep: Path) -> None:
    """Remove temporaries and every snapshot older than `keep`."""
    for path in directory.iterdir():
        if path.name.startswith(".tmp-") or (_SNAPSHOT.match(path.name) and path.name < keep.name):
            remove_tree(path)


# The log segments a snapshot covers are deleted once it is durable, so nothing else holds its points.
_REMEDY = "restore the collection directory from a backup (the log no longer holds the writes it covers)"


def _read_checked(path: Path, expected: dict[str, int]) -> bytes:
    data = path.read_bytes()
    if len(data) != expected["size"] or zlib.crc32(data) != expected["crc32"]:
        raise StorageCorruptError(f"snapshot file {path} is corrupt (size or checksum mismatch)")
    return data


def read(path: Path) -> SnapshotData:
    """Load and verify one snapshot; a damaged snapshot is an error, never silently skipped."""
    try:
        state: dict[str, Any] = json.loads((path / "state.json").read_bytes())
        sums = state["files"]
        rows, dim = int(state["rows"]), int(state["dim"])
        raw = _read_checked(path / "vectors.f32", sums["vectors.f32"])
        vectors = np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(rows, dim)
        id_at = json.loads(_read_checked(path / "ids.json", sums["ids.json"]))
        # Split on "\n" alone: `splitlines` also breaks at U+2028, U+2029 and U+0085, which JSON written
        # with ensure_ascii=False leaves unescaped inside strings.
        lines = _read_checked(path / "metadata.jsonl", sums["metadata.jsonl"]).decode().split("\n")[:-1]
        metadata = [json.loads(line) for line in lines]
        index = None
        if "index.faiss" in sums:
            index = np.frombuffer(_read_checked(path / "index.faiss", sums["index.faiss"]), dtype=np.uint8)
    except StorageCorruptError as exc:
        raise StorageCorruptError(f"{exc}; {_REMEDY}") from None
    except OSError as exc:  # e.g. permissions: the files may be fine
        raise StorageIOError(f"cannot read snapshot {path}: {exc}") from exc
    except (ValueError, KeyError) as exc:
        raise StorageCorruptError(f"cannot parse snapshot {path}: {exc}; {_REMEDY}") from exc
    if len(id_at) != rows or len(metadata) != rows:
        raise StorageCorruptError(f"snapshot {path} is inconsistent: row counts disagree; {_REMEDY}")
    return SnapshotData(int(state["seq"]), vectors, id_at, metadata, index, int(state["trained_on"]))
