"""The in-memory point table: raw vectors, ids and metadata by row, plus tombstones.

Rows are append-only: an upsert of an existing id tombstones the old row and appends a new one, so a
row's vector and metadata never change once written. That lets snapshots and searches read rows
without copying them while one writer keeps appending. The raw vectors are kept as sent (bit-exact
fetch, index rebuilds, exact fallback search); the index holds its own, possibly normalised, copy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from lexsent.collections.ids import IdMap, PointId

Vectors = npt.NDArray[np.float32]
MetadataRow = dict[str, Any] | None


class PointTable:
    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._vectors: Vectors = np.empty((0, dim), dtype=np.float32)
        self.rows = 0
        self.ids = IdMap()
        self.metadata: list[MetadataRow] = []
        self.dead = np.zeros(0, dtype=bool)
        self.dead_count = 0

    @property
    def vectors(self) -> Vectors:
        """Rows [0, rows) — a view; earlier rows are immutable, so readers may hold it."""
        return self._vectors[: self.rows]

    @property
    def live(self) -> int:
        return self.rows - self.dead_count

    def append(self, ids: list[PointId], vectors: Vectors, metadata: list[MetadataRow]) -> Vectors:
        """Append points (replacing same ids); returns the rows' vectors just stored."""
        needed = self.rows + len(ids)
        if needed > self._vectors.shape[0]:
            capacity = max(needed, int(self._vectors.shape[0] * 1.5), 1024)
            grown = np.empty((capacity, self.dim), dtype=np.float32)
            grown[: self.rows] = self._vectors[: self.rows]
            self._vectors = grown  # readers holding the old buffer keep a valid view
            dead = np.zeros(capacity, dtype=bool)
            dead[: self.dead.shape[0]] = self.dead
            self.dead = dead
        start = self.rows
        self._vectors[start:needed] = vectors
        for point_id, meta in zip(ids, metadata, strict=True):
            _, previous = self.ids.append(point_id)
            self.metadata.append(meta)
            if previous is not None:
                self._kill(previous)
        self.rows = needed
        return self._vectors[start:needed]

    def delete(self, ids: list[PointId]) -> int:
        removed = 0
        for point_id in ids:
            row = self.ids.remove(point_id)
            if row is not None:
                self._kill(row)
                removed += 1
        return removed

    def _kill(self, row: int) -> None:
        self.dead[row] = True
        self.metadata[row] = None
        self.dead_count += 1

    def alive_mask(self) -> npt.NDArray[np.bool_]:
        return ~self.dead[: self.rows]

    def row(self, point_id: PointId) -> int | None:
        return self.ids.row_of.get(point_id)

    @classmethod
    def restore(cls, vectors: Vectors, id_at: list[PointId | None], metadata: list[MetadataRow]) -> PointTable:
        table = cls(vectors.shape[1])
        table._vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        table.rows = vectors.shape[0]
        table.ids = IdMap.from_rows(id_at)
        table.metadata = metadata
        table.dead = np.array([point_id is None for point_id in id_at], dtype=bool)
        table.dead_count = int(table.dead.sum())
        return table

    def compacted(self) -> PointTable:
        """A fresh table holding only live rows, in row order."""
        keep = np.flatnonzero(self.alive_mask())
        return PointTable.restore(
            self.vectors[keep],
            [self.ids.id_at[row] for row in keep],
            [self.metadata[row] for row in keep],
        )
