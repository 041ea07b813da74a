"""External point ids (str or int) and the map from them to internal FAISS row numbers.

FAISS only knows int64 row ids; users name points with their own strings or integers. `1` and `"1"` are
different ids (JSON keeps the distinction, and so do Python dict keys). Booleans are refused because
Python treats `True == 1`.
"""

from __future__ import annotations

from collections.abc import Iterable

from lexsent.errors import InvalidInputError

PointId = str | int
MAX_ID_CHARS = 512
_INT64 = 1 << 63


def validate_id(value: object) -> PointId:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidInputError(f"point id must be a string or an integer, got {value!r}")
    if isinstance(value, int) and not -_INT64 <= value < _INT64:
        raise InvalidInputError(f"integer point id {value} does not fit in 64 bits")
    if isinstance(value, str) and not 1 <= len(value) <= MAX_ID_CHARS:
        raise InvalidInputError(f"string point id must have 1-{MAX_ID_CHARS} characters")
    return value


def validate_ids(values: Iterable[object]) -> list[PointId]:
    return [validate_id(value) for value in values]


def first_repeat(ids: Iterable[PointId]) -> tuple[int, int] | None:
    """Positions (first, second) of the first id that occurs twice, or None: within one write, a repeat
    is almost always the caller's bug, as the later copy would silently win."""
    seen: dict[PointId, int] = {}
    for position, point_id in enumerate(ids):
        if point_id in seen:
            return seen[point_id], position
        seen[point_id] = position
    return None


class IdMap:
    """Bidirectional map external id ⇄ row; rows are append-only and a dead row maps to None."""

    def __init__(self) -> None:
        self.row_of: dict[PointId, int] = {}
        self.id_at: list[PointId | None] = []

    def __len__(self) -> int:
        return len(self.row_of)

    def append(self, point_id: PointId) -> tuple[int, int | None]:
        """Give `point_id` the next row; returns (new row, previous row it replaces or None)."""
        previous = self.row_of.get(point_id)
        if previous is not None:
            self.id_at[previous] = None
        row = len(self.id_at)
        self.id_at.append(point_id)
        self.row_of[point_id] = row
        return row, previous

    def remove(self, point_id: PointId) -> int | None:
        row = self.row_of.pop(point_id, None)
        if row is not None:
            self.id_at[row] = None
        return row

    @classmethod
    def from_rows(cls, id_at: list[PointId | None]) -> IdMap:
        ids = cls()
        ids.id_at = id_at
        ids.row_of = {point_id: row for row, point_id in enumerate(id_at) if point_id is not None}
        return ids
