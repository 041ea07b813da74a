"""Exact metadata filters: equality, `$in`, numeric ranges, combined with AND across fields.

    {"lang": "de"}                               equality (also {"lang": {"$eq": "de"}})
    {"lang": {"$in": ["de", "fr"]}}              membership
    {"year": {"$gte": 2000, "$lt": 2010}}        numeric range (bounds combine)

A filter is compiled once per request (malformed → InvalidInputError naming the problem) and then
evaluated against each point's JSON metadata. Range operators only match numbers (never booleans or
strings), so a range never silently compares across types.
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lexsent.errors import InvalidInputError

Metadata = Mapping[str, Any]
_RANGES: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
}
_SCALAR = str | int | float | bool | None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


MAX_IN_VALUES = 10_000  # a longer $in list is refused: it is a different query (or an attack)


def _key(value: object) -> tuple[str, object] | None:
    """What a JSON scalar equals by: booleans stay apart from 0/1, 1 equals 1.0; None for a list/object,
    which no filter value equals. A hashable key makes `$in` a set lookup, not a scan of its list."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", value)
    if isinstance(value, str) or value is None:
        return ("scalar", value)
    return None


@dataclass(frozen=True)
class _Condition:
    field: str
    equals: frozenset[tuple[str, object]] | None
    bounds: tuple[tuple[Callable[[Any, Any], bool], float], ...]

    def matches(self, metadata: Metadata) -> bool:
        if self.field not in metadata:
            return False
        value = metadata[self.field]
        if self.equals is not None and _key(value) not in self.equals:
            return False
        if self.bounds:
            return _is_number(value) and all(compare(value, bound) for compare, bound in self.bounds)
        return True


@dataclass(frozen=True)
class Filter:
    conditions: tuple[_Condition, ...]

    def matches(self, metadata: Metadata | None) -> bool:
        if metadata is None:
            return False
        return all(condition.matches(metadata) for condition in self.conditions)


def _scalar(value: object, where: str) -> object:
    if not isinstance(value, _SCALAR):
        raise InvalidInputError(f"filter {where}: only strings, numbers, booleans and null can be compared")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInputError(f"filter {where}: value must be finite")
    return value


def _keys(values: list[object], where: str) -> frozenset[tuple[str, object]]:
    return frozenset(key for value in values if (key := _key(_scalar(value, where))) is not None)


def _condition(name: str, spec: object) -> _Condition:
    if not isinstance(spec, dict):
        return _Condition(name, _keys([spec], f"on {name!r}"), ())
    if not spec:
        raise InvalidInputError(f"filter on {name!r} is an empty object; use $eq, $in, $gt, $gte, $lt, $lte")
    equals: frozenset[tuple[str, object]] | None = None
    bounds: list[tuple[Callable[[Any, Any], bool], float]] = []
    for op, operand in spec.items():
        where = f"{op} on {name!r}"
        if op == "$eq":
            equals = _keys([operand], where)
        elif op == "$in":
            if not isinstance(operand, list) or not operand:
                raise InvalidInputError(f"filter {where} needs a non-empty list")
            if len(operand) > MAX_IN_VALUES:
                raise InvalidInputError(f"filter {where} has {len(operand)} values; at most {MAX_IN_VALUES}")
            equals = _keys(operand, where)
        elif op in _RANGES:
            if not _is_number(operand) or not math.isfinite(operand):
                raise InvalidInputError(f"filter {where} needs a finite number, got {_as_json(operand)}")
            bounds.append((_RANGES[op], operand))
        else:
            raise InvalidInputError(f"unknown filter operator {op!r} on {name!r}; use $eq, $in, $gt, $gte, $lt, $lte")
    return _Condition(name, equals, tuple(bounds))


def _as_json(value: object) -> str:
    """A value as the caller wrote it (`true`, `null`, `"5"`), not as Python shows it (`True`, `None`)."""
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):  # NaN or infinity, or an object from an in-process caller
        return repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def compile_filter(spec: object) -> Filter | None:
    """Compile a request's `filter` object; None or {} means no filter."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise InvalidInputError(f"filter must be a JSON object mapping field to condition, got {_as_json(spec)}")
    if not spec:
        return None
    for name in spec:
        if not isinstance(name, str) or not name or name.startswith("$"):
            raise InvalidInputError(f"filter field {name!r} must be a non-empty name not starting with '$'")
    return Filter(tuple(_condition(name, value) for name, value in spec.items()))
