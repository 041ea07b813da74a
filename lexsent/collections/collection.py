"""One durable collection: validate → log (fsync) → apply → acknowledge; search under a read lock.

Locking: `_writer` serialises writers (log append, apply, snapshot capture, rebuilds); `_rw` lets many
searches share the current table+index and excludes them only while a logged change is applied or a
rebuilt index is swapped in. Snapshot files are written with no lock held, so searches never wait
for a snapshot and writers wait only for its in-memory capture.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lexsent.collections import indexes, snapshot
from lexsent.collections.config import CollectionConfig, Metric, Scoring
from lexsent.collections.filters import compile_filter
from lexsent.collections.fsio import PRIVATE_DIR, Disk
from lexsent.collections.ids import PointId, first_repeat, validate_id, validate_ids
from lexsent.collections.indexes import SearchOptions, VectorIndex
from lexsent.collections.rwlock import ReadWriteLock
from lexsent.collections.search import View, margin_rows, search_rows
from lexsent.collections.table import MetadataRow, PointTable
from lexsent.collections.wal import Op, Record, WriteAheadLog
from lexsent.errors import InvalidInputError, NotFoundError

log = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]
MAX_K = 10_000
MAX_BATCH = 100_000
MAX_METADATA_BYTES = 65_536
MAX_METADATA_DEPTH = 32
SNAPSHOT_AFTER_BYTES = 64 << 20
_MIN_COMPACT_ROWS = 256


@dataclass(frozen=True)
class Hit:
    id: PointId
    score: float
    metadata: dict[str, Any] | None


@dataclass(frozen=True)
class Point:
    id: PointId
    vector: Vectors
    metadata: dict[str, Any] | None


# |x - y|^2 <= 2(|x|^2 + |y|^2) <= 4 MAX_NORM^2 = float32 max: no score of an ip or l2 collection overflows.
MAX_NORM = float(np.sqrt(np.finfo(np.float32).max / 4))


def validate_vectors(vectors: object, dim: int, metric: Metric, what: str = "vector") -> Vectors:
    """A finite float32 [n, dim] matrix, or InvalidInputError saying what is wrong."""
    try:
        array = np.array(vectors, dtype=np.float32, order="C", copy=True)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{what}s must be lists of numbers: {exc}") from None
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != dim:
        got = array.shape[-1] if array.ndim else 0
        raise InvalidInputError(f"{what} has dimension {got}, but this collection stores dimension {dim}")
    finite = np.isfinite(array.sum(axis=1, dtype=np.float64))  # any NaN or ±inf poisons its row sum
    if not finite.all():
        raise InvalidInputError(f"{_row(what, finite, len(array))} contains NaN or infinite values")
    if metric is Metric.COSINE:  # normalised before use: only a zero vector is a problem
        nonzero = np.linalg.norm(array, axis=1) > 0
        if not nonzero.all():
            where = _row(what, nonzero, len(array))
            raise InvalidInputError(f"{where} is all zeros; cosine similarity is undefined for it")
    else:  # raw inner products and squared distances must fit float32, or FAISS finds no neighbour at all
        norms = np.linalg.norm(array.astype(np.float64), axis=1)
        fits = norms <= MAX_NORM
        if not fits.all():
            where = _row(what, fits, len(array))
            raise InvalidInputError(
                f"{where} has norm {norms[~fits][0]:.3g}; {metric.value} collections take norms up to "
                f"{MAX_NORM:.3g}, beyond which scores overflow float32 (scale the vectors down)"
            )
    return array


def _row(what: str, ok: np.ndarray, rows: int) -> str:
    """'vector', or 'vector 3 (0-based)' when a batch has several, so the caller knows which to fix."""
    return what if rows == 1 else f"{what} {int(np.flatnonzero(~ok)[0])} (0-based)"


def _nesting(value: object, limit: int) -> int:
    """Depth of nested objects and arrays in `value`, counted no further than `limit` + 1."""
    if limit < 0 or not isinstance(value, (dict, list)):
        return 0
    children = value.values() if isinstance(value, dict) else value
    return 1 + max((_nesting(child, limit - 1) for child in children), default=0)


def _validate_metadata(metadata: object, row: int | None) -> MetadataRow:
    """`row`: the point's position in a batch of several, named in the error so the caller can find it."""
    if metadata is None:
        return None
    what = "metadata" if row is None else f"metadata {row} (0-based)"
    if not isinstance(metadata, dict):
        raise InvalidInputError(f"{what} must be a JSON object, got {type(metadata).__name__}")
    # Deeper metadata would be stored but could not be rendered back (the HTTP layer's orjson stops at
    # 255 levels), so one such point would break every search that returns it.
    if _nesting(metadata, MAX_METADATA_DEPTH) > MAX_METADATA_DEPTH:
        raise InvalidInputError(f"{what} nests objects/arrays deeper than {MAX_METADATA_DEPTH} levels")
    try:
        encoded = json.dumps(metadata, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{what} is not valid JSON: {exc}") from None
    if len(encoded) > MAX_METADATA_BYTES:
        raise InvalidInputError(f"{what} is {len(encoded)} bytes of UTF-8 JSON; the limit is {MAX_METADATA_BYTES}")
    parsed: dict[str, Any] = json.loads(encoded)  # a private copy the caller cannot mutate later
    return parsed


def validate_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise InvalidInputError(f"k must be an integer between 1 and {MAX_K}, got {k!r}")
    return k


class Collection:
    def __init__(
        self,
        directory: Path,
        config: CollectionConfig,
        disk: Disk,
        *,
        snapshot_bytes: int = SNAPSHOT_AFTER_BYTES,
    ) -> None:
        self.directory = directory
        self.snapshot_bytes = snapshot_bytes
        self.config = config
        self.disk = disk
        self._writer = threading.Lock()
        self._snapshotting = threading.Lock()
        self._rw = ReadWriteLock()
        self._background: threading.Thread | None = None
        self._closed = False  # set under `_writer` by `close`: no write or snapshot starts after it
        (directory / "wal").mkdir(PRIVATE_DIR, exist_ok=True)
        (directory / "snapshots").mkdir(PRIVATE_DIR, exist_ok=True)
        self._wal = WriteAheadLog(directory / "wal", config.dim, disk)
        self._view = self._recover()

    # -- recovery -------------------------------------------------------------------------------------

    def _recover(self) -> View:
        cfg = self.config
        seq, table, trained_on, stored = 0, PointTable(cfg.dim), 0, None
        latest = snapshot.latest(self.directory / "snapshots")
        if latest is not None:
            data = snapshot.read(latest)
            seq, trained_on, stored = data.seq, data.trained_on, data.index
            table = PointTable.restore(data.vectors, data.id_at, data.metadata)
            snapshot.prune(self.directory / "snapshots", latest)
        self._snapshot_rows = table.rows
        prepared = indexes.prepare(table.vectors, cfg.metric)
        index = indexes.load(cfg.index, cfg.dim, cfg.metric, cfg.params, stored, prepared, trained_on)
        self._view = self._make_view(table, index)
        self.applied_seq = seq
        replayed = 0
        for record_seq, record in self._wal.replay(seq):
            self._apply(record)
            self.applied_seq = record_seq
            replayed += 1
        if replayed:
            log.info("collection %s: replayed %d logged writes after snapshot %d", cfg.name, replayed, seq)
        return self._view

    def _make_view(self, table: PointTable, index: VectorIndex) -> View:
        bits = np.packbits(table.alive_mask(), bitorder="little") if table.dead_count else None
        return View(table, index, bits, self.config.metric)

    # -- writes ---------------------------------------------------------------------------------------

    def upsert(self, ids: Sequence[object], vectors: object, metadata: Sequence[object] | None = None) -> int:
        """Insert or replace points; durable when it returns. Returns the number of points written."""
        point_ids = validate_ids(ids)
        if not 1 <= len(point_ids) <= MAX_BATCH:
            raise InvalidInputError(f"an upsert needs 1-{MAX_BATCH} points, got {len(point_ids)}")
        repeat = first_repeat(point_ids)
        if repeat is not None:
            raise InvalidInputError(
                f"point id {point_ids[repeat[1]]!r} appears twice in this upsert (rows {repeat[0]} and {repeat[1]}, "
                "0-based); ids must be unique within one request"
            )
        matrix = validate_vectors(vectors, self.config.dim, self.config.metric)
        rows = metadata or [None] * len(point_ids)
        metas = [_validate_metadata(m, i if len(rows) > 1 else None) for i, m in enumerate(rows)]
        if not matrix.shape[0] == len(point_ids) == len(metas):
            raise InvalidInputError(
                f"got {len(point_ids)} ids, {matrix.shape[0]} vectors and {len(metas)} metadata objects"
            )
        self._write(Record(Op.UPSERT, point_ids, metas, matrix))
        return len(point_ids)

    def delete(self, ids: Sequence[object]) -> int:
        """Delete points by id (missing ids are ignored); durable when it returns.

        Returns how many of the ids existed."""
        point_ids = validate_ids(ids)
        if not 1 <= len(point_ids) <= MAX_BATCH:
            raise InvalidInputError(f"a delete needs 1-{MAX_BATCH} ids, got {len(point_ids)}")
        return self._write(Record(Op.DELETE, point_ids, [], np.zeros((0, self.config.dim), np.float32)))

    def _write(self, record: Record) -> int:
        with self._writer:
            if self._closed:
                raise NotFoundError(f"collection {self.config.name!r} was deleted")
            seq = self._wal.append(record)
            changed = self._apply(record)
            self.applied_seq = seq
            wal_size = self._wal.size
        # Snapshot once the log outgrows both the setting and the data itself: each snapshot rewrites
        # everything, so tying it to the data size keeps total snapshot I/O linear in what is written.
        # The data size is the last snapshot's, not today's: rows in the log would count on both sides,
        # and insert-only traffic would then grow the log to ~20x the snapshot before the next one.
        if wal_size >= max(self.snapshot_bytes, self._snapshot_rows * self.config.dim * 4):
            self._snapshot_in_background()
        return changed

    def _apply(self, record: Record) -> int:
        """Apply a logged record to memory (returns points written or removed); rebuild the index when
        it asks for it (IVF training, compaction)."""
        view = self._view
        changed = len(record.ids)
        prepared = indexes.prepare(record.vectors, self.config.metric) if record.op is Op.UPSERT else None
        with self._rw.write():
            if prepared is not None:
                view.table.append(record.ids, record.vectors, record.metadata)
                view.index.add(prepared)
            else:
                changed = view.table.delete(record.ids)
            self._view = self._make_view(view.table, view.index)
        table = view.table
        compact = table.rows >= _MIN_COMPACT_ROWS and table.dead_count > self.config.params.compact_ratio * table.rows
        if compact or view.index.wants_rebuild(table.live):
            self._rebuild()
        return changed

    def _rebuild(self) -> None:
        """Compact tombstones and rebuild (or train) the index off to the side, then swap it in."""
        cfg = self.config
        with self._rw.read():
            table = self._view.table.compacted()
        index = indexes.build(
            cfg.index, cfg.dim, cfg.metric, cfg.params, indexes.prepare(table.vectors, cfg.metric), train=True
        )
        with self._rw.write():
            self._view = self._make_view(table, index)
        log.info("collection %s: rebuilt %s index over %d points", cfg.name, cfg.index, table.rows)

    # -- snapshots ------------------------------------------------------------------------------------

    def snapshot(self) -> Path | None:
        """Write a snapshot of everything acknowledged so far, then drop the log it covers (None once
        the collection is closed: it may have been deleted, and its directory reused by a new one)."""
        with self._snapshotting:
            with self._writer:
                if self._closed:
                    return None
                latest = snapshot.latest(self.directory / "snapshots")
                if latest is not None and latest.name == snapshot.name_for(self.applied_seq):
                    return latest  # nothing new since the last one
                view = self._view
                table, index = view.table, view.index
                data = snapshot.SnapshotData(
                    seq=self.applied_seq,
                    vectors=table.vectors,
                    id_at=list(table.ids.id_at),
                    metadata=list(table.metadata),
                    index=index.serialize(),
                    trained_on=getattr(index, "trained_on", 0),
                )
                self._wal.rotate()
            path = snapshot.write(self.directory / "snapshots", data, self.disk)
            snapshot.prune(self.directory / "snapshots", path)
            self._wal.drop_through(data.seq)
            self._snapshot_rows = data.vectors.shape[0]
            return path

    def _snapshot_in_background(self) -> None:
        def run() -> None:
            try:
                self.snapshot()
            except Exception:
                log.exception(
                    "collection %s: background snapshot failed; the log still has every write",
                    self.config.name,
                )

        with self._writer:  # so `close` either sees this thread and waits for it, or no thread starts
            if self._closed or (self._background is not None and self._background.is_alive()):
                return
            self._background = threading.Thread(target=run, name=f"snapshot-{self.config.name}", daemon=True)
            self._background.start()

    def retire(self) -> None:
        """Refuse further writes and snapshots and wait for a running one; the log stays open, so
        `resume` can undo this (a drop whose rename failed)."""
        with self._writer:
            self._closed = True
            background = self._background
        if background is not None:
            background.join()

    def resume(self) -> None:
        with self._writer:
            self._closed = False

    def close(self) -> None:
        """Retire, then close the log."""
        self.retire()
        with self._snapshotting:
            self._wal.close()

    # -- reads ----------------------------------------------------------------------------------------

    @property
    def count(self) -> int:
        return self._view.table.live

    def fetch(self, point_id: object) -> Point:
        key = validate_id(point_id)
        with self._rw.read():
            table = self._view.table
            row = table.row(key)
            if row is None:
                raise NotFoundError(f"point {key!r} not found in collection {self.config.name!r}")
            return Point(key, table.vectors[row].copy(), table.metadata[row])

    def search(
        self,
        queries: object,
        k: object = 10,
        *,
        filter: object = None,
        scoring: Scoring = Scoring.COSINE,
        options: SearchOptions | None = None,
    ) -> list[list[Hit]]:
        """Top-k hits for each query vector (a [d] vector or an [n, d] batch)."""
        top = validate_k(k)
        flt = compile_filter(filter)
        matrix = validate_vectors(queries, self.config.dim, self.config.metric, "query")
        matrix = indexes.prepare(matrix, self.config.metric, owned=True)  # validate made a private copy
        if scoring is Scoring.MARGIN and self.config.metric is not Metric.COSINE:
            raise InvalidInputError("margin scoring needs a cosine collection")
        opts = options or SearchOptions()
        with self._rw.read():
            view = self._view
            find = margin_rows if scoring is Scoring.MARGIN else search_rows
            scores, rows = find(view, matrix, top, flt, opts)
            ids, metadata = view.table.ids.id_at, view.table.metadata
            return [
                [Hit(ids[row], _score(score), metadata[row]) for score, row in zip(s, r, strict=True) if row >= 0]
                for s, r in zip(scores.tolist(), rows.tolist(), strict=True)
            ]

    def info(self) -> dict[str, Any]:
        view = self._view
        cfg = self.config
        return {
            "name": cfg.name,
            "dim": cfg.dim,
            "index": cfg.index.value,
            "metric": cfg.metric.value,
            "model": cfg.model,
            "model_fingerprint": cfg.model_fingerprint,
            "count": view.table.live,
            "exact": view.index.exact,
        }


def _score(value: float) -> float:
    return value if math.isfinite(value) else 0.0
