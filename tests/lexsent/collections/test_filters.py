from __future__ import annotations

import pytest

from lexsent.collections.filters import MAX_IN_VALUES, compile_filter
from lexsent.errors import InvalidInputError

ROWS = [
    {"lang": "de", "year": 1999, "ok": True},
    {"lang": "fr", "year": 2005, "ok": False},
    {"lang": "de", "year": 2009.5, "ok": 1},
    {"lang": "en", "year": "2005"},
    {},
]


def matching(spec: object) -> list[int]:
    flt = compile_filter(spec)
    assert flt is not None
    return [i for i, row in enumerate(ROWS) if flt.matches(row)]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"lang": "de"}, [0, 2]),
        ({"lang": {"$eq": "fr"}}, [1]),
        ({"lang": {"$in": ["fr", "en"]}}, [1, 3]),
        ({"year": {"$gte": 2005}}, [1, 2]),
        ({"year": {"$gt": 1999, "$lt": 2009.5}}, [1]),
        ({"year": {"$lte": 1999}}, [0]),
        ({"lang": "de", "year": {"$gt": 2000}}, [2]),
        ({"ok": True}, [0]),  # a boolean never equals the number 1
        ({"ok": 1}, [2]),
        ({"missing": None}, []),
    ],
)
def test_filters_match_exactly(spec: object, expected: list[int]) -> None:
    assert matching(spec) == expected


def test_no_filter() -> None:
    assert compile_filter(None) is None
    assert compile_filter({}) is None


def test_deleted_rows_never_match() -> None:
    flt = compile_filter({"lang": "de"})
    assert flt is not None and not flt.matches(None)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ([1, 2], r"JSON object mapping field to condition, got \[1, 2\]$"),
        ({"year": {"$between": [1, 2]}}, "unknown filter operator"),
        ({"year": {"$gt": "2000"}}, 'finite number, got "2000"$'),
        ({"year": {"$gte": True}}, "finite number, got true$"),  # as JSON spells it, not Python's True
        ({"year": {"$gt": float("nan")}}, "finite number, got nan$"),
        ({"lang": {"$in": []}}, "non-empty list"),
        ({"lang": {"$in": "de"}}, "non-empty list"),
        ({"lang": {}}, "empty object"),
        ({"lang": [1]}, "only strings, numbers"),
        ({"$or": [1]}, "must be a non-empty name"),
    ],
)
def test_malformed_filters_are_rejected(spec: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        compile_filter(spec)


def test_in_is_a_set_lookup_with_a_size_cap() -> None:
    """A huge $in list was scanned per point inside the collection's read lock (seconds per search)."""
    many = compile_filter({"n": {"$in": list(range(MAX_IN_VALUES))}})
    assert many is not None and many.matches({"n": 9_999}) and many.matches({"n": 5.0})
    assert not many.matches({"n": True}) and not many.matches({"n": [1]})  # a bool is not 1; a list is no scalar
    with pytest.raises(InvalidInputError, match=f"has {MAX_IN_VALUES + 1} values; at most {MAX_IN_VALUES}"):
        compile_filter({"n": {"$in": list(range(MAX_IN_VALUES + 1))}})
