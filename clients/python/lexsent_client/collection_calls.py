"""What each collection operation sends and how its answer is read, once per transport.

A builder returns a call (request + parser) and does no I/O, so the sync and async clients share every
operation: `collections.py` binds the same builders to a blocking or an awaiting transport.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from lexsent_client.errors import invalid_input
from lexsent_client.proto_gen import collections_pb2 as pb
from lexsent_client.types import CollectionInfo, Hit, Point, PointId

R = TypeVar("R")
E = TypeVar("E")  # a generated proto enum (an int subclass in the *_pb2.pyi stubs)


@dataclass(frozen=True)
class Call(Generic[R]):
    """One request and the parser of its answer; `target` is "METHOD /path" over HTTP, a method name over gRPC."""

    target: str
    request: Any
    parse: Callable[[Any], R]


def _nothing(_: Any) -> None:
    return None


def _search_body(
    query: str | None,
    vector: Sequence[float] | None,
    k: int,
    filter: Mapping[str, Any] | None,
    scoring: str | None,
    nprobe: int | None,
    ef_search: int | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"k": k}
    for key, value in (
        ("query", query),
        ("vector", None if vector is None else list(vector)),
        ("filter", filter),
        ("scoring", scoring),
        ("nprobe", nprobe),
        ("ef_search", ef_search),
    ):
        if value is not None:
            body[key] = value
    return body


def _segment(value: str) -> str:
    """One path segment; "." and ".." are spelt with %2E, or URL normalisation would treat them as
    "this" and "parent" directory and fetch another path."""
    return "%2E" * len(value) if value in {".", ".."} else quote(value, safe="")


def _collection_path(name: str) -> str:
    return f"/v1/collections/{quote(name, safe='')}"


class HttpCalls:
    """The HTTP API's JSON bodies; points are plain dicts as in the API."""

    @staticmethod
    def create_collection(
        name: str,
        *,
        model: str | None = None,
        dim: int | None = None,
        index: str = "flat",
        metric: str = "cosine",
    ) -> Call[CollectionInfo]:
        body = {"name": name, "model": model, "dim": dim, "index": index, "metric": metric}
        request = {k: v for k, v in body.items() if v}
        return Call("POST /v1/collections", request, lambda r: CollectionInfo(**r))

    @staticmethod
    def get_collection(name: str) -> Call[CollectionInfo]:
        return Call("GET " + _collection_path(name), None, lambda r: CollectionInfo(**r))

    @staticmethod
    def list_collections() -> Call[list[CollectionInfo]]:
        return Call("GET /v1/collections", None, lambda r: [CollectionInfo(**c) for c in r["collections"]])

    @staticmethod
    def delete_collection(name: str) -> Call[None]:
        return Call("DELETE " + _collection_path(name), None, _nothing)

    @staticmethod
    def upsert(collection: str, points: Sequence[Mapping[str, Any]]) -> Call[int]:
        """Insert or replace points; durable on the server when the call returns."""
        path = _collection_path(collection) + "/points"
        return Call("POST " + path, {"points": [dict(p) for p in points]}, lambda r: int(r["count"]))

    @staticmethod
    def delete_points(collection: str, ids: Sequence[PointId]) -> Call[int]:
        path = _collection_path(collection) + "/points/delete"
        return Call("POST " + path, {"ids": list(ids)}, lambda r: int(r["count"]))

    @staticmethod
    def fetch(collection: str, point_id: PointId, *, with_vector: bool = True) -> Call[Point]:
        """Over HTTP the id travels in the path: a string id wins over the integer it spells."""
        path = f"{_collection_path(collection)}/points/{_segment(str(point_id))}"
        path += "" if with_vector else "?vector=false"
        return Call("GET " + path, None, lambda r: Point(r["id"], r["metadata"], r.get("vector")))

    @staticmethod
    def search(
        collection: str,
        *,
        query: str | None = None,
        vector: Sequence[float] | None = None,
        k: int = 10,
        filter: Mapping[str, Any] | None = None,
        scoring: str | None = None,
        nprobe: int | None = None,
        ef_search: int | None = None,
    ) -> Call[list[Hit]]:
        body = _search_body(query, vector, k, filter, scoring, nprobe, ef_search)
        return Call(
            "POST " + _collection_path(collection) + "/search",
            body,
            lambda r: [Hit(h["id"], h["score"], h["metadata"]) for h in r["results"]],
        )


def _pid(value: PointId) -> Any:
    return pb.PointId(str=value) if isinstance(value, str) else pb.PointId(int=value)


def _from_pid(message: Any) -> PointId:
    value: PointId = getattr(message, message.WhichOneof("kind"))
    return value


def _loads(text: str) -> Any:
    return json.loads(text) if text else None


def _info(m: Any) -> CollectionInfo:
    return CollectionInfo(
        m.name, m.dim, m.index, m.metric, m.model or None, m.model_fingerprint or None, m.count, m.exact
    )


def choice(names: Mapping[Any, E], value: Any, field: str = "") -> E:
    """A keyword's proto enum value, typed as its enum; an unknown keyword is refused naming the ones there are."""
    if value not in names:
        known = ", ".join(repr(n) for n in names if n is not None)
        raise invalid_input(f"{field or 'value'} {value!r} is not one of {known}")
    return names[value]


def _one_of(text: Any, vector: Any, what: str) -> None:
    """A proto `oneof` keeps only the last field set, so both would silently drop the text."""
    if text is not None and vector is not None:
        raise invalid_input(f"{what} needs exactly one of text or 'vector', not both")


def _positive(value: int | None, field: str) -> int:
    """0 on the wire means the collection's default, so an explicit 0 is refused as HTTP refuses it."""
    if value is not None and value < 1:
        raise invalid_input(f"{field} must be at least 1, not {value}")
    return value or 0


def _point(point: Mapping[str, Any]) -> Any:
    _one_of(point.get("text"), point.get("vector"), f"point {point.get('id')!r}")
    message = pb.PointIn(id=_pid(point["id"]))
    if point.get("metadata") is not None:
        message.metadata_json = json.dumps(point["metadata"])
    if point.get("text") is not None:
        message.text = point["text"]
    if point.get("vector") is not None:
        message.vector.values.extend(point["vector"])
    return message


_INDEX = {"flat": pb.INDEX_KIND_FLAT, "ivf": pb.INDEX_KIND_IVF, "hnsw": pb.INDEX_KIND_HNSW}
_METRIC = {"cosine": pb.METRIC_COSINE, "ip": pb.METRIC_IP, "l2": pb.METRIC_L2}
_SCORING = {None: pb.SCORING_UNSPECIFIED, "cosine": pb.SCORING_COSINE, "margin": pb.SCORING_MARGIN}


class GrpcCalls:
    """The `Collections` service's messages: vectors as float32, metadata and filters as JSON text."""

    @staticmethod
    def create_collection(
        name: str,
        *,
        model: str | None = None,
        dim: int | None = None,
        index: str = "flat",
        metric: str = "cosine",
    ) -> Call[CollectionInfo]:
        request = pb.CreateCollectionRequest(
            name=name,
            model=model or "",
            dim=dim or 0,
            index=choice(_INDEX, index, "index"),
            metric=choice(_METRIC, metric, "metric"),
        )
        return Call("Create", request, _info)

    @staticmethod
    def get_collection(name: str) -> Call[CollectionInfo]:
        return Call("Get", pb.GetCollectionRequest(name=name), _info)

    @staticmethod
    def list_collections() -> Call[list[CollectionInfo]]:
        return Call("List", pb.ListCollectionsRequest(), lambda r: [_info(c) for c in r.collections])

    @staticmethod
    def delete_collection(name: str) -> Call[None]:
        return Call("Delete", pb.DeleteCollectionRequest(name=name), _nothing)

    @staticmethod
    def upsert(collection: str, points: Sequence[Mapping[str, Any]]) -> Call[int]:
        """Insert or replace points; durable on the server when the call returns."""
        request = pb.UpsertRequest(collection=collection, points=[_point(p) for p in points])
        return Call("Upsert", request, lambda r: int(r.count))

    @staticmethod
    def delete_points(collection: str, ids: Sequence[PointId]) -> Call[int]:
        request = pb.RemoveRequest(collection=collection, ids=[_pid(i) for i in ids])
        return Call("Remove", request, lambda r: int(r.count))

    @staticmethod
    def fetch(collection: str, point_id: PointId, *, with_vector: bool = True) -> Call[Point]:
        request = pb.FetchRequest(collection=collection, id=_pid(point_id), with_vector=with_vector)
        return Call(
            "Fetch",
            request,
            lambda m: Point(_from_pid(m.id), _loads(m.metadata_json), list(m.vector) if with_vector else None),
        )

    @staticmethod
    def search(
        collection: str,
        *,
        query: str | None = None,
        vector: Sequence[float] | None = None,
        k: int = 10,
        filter: Mapping[str, Any] | None = None,
        scoring: str | None = None,
        nprobe: int | None = None,
        ef_search: int | None = None,
    ) -> Call[list[Hit]]:
        _one_of(query, vector, "search")
        request = pb.SearchRequest(
            collection=collection,
            k=k,
            filter_json="" if filter is None else json.dumps(filter),
            scoring=choice(_SCORING, scoring, "scoring"),
            nprobe=_positive(nprobe, "nprobe"),
            ef_search=_positive(ef_search, "ef_search"),
        )
        if query is not None:
            request.text = query
        if vector is not None:
            request.vector.values.extend(vector)
        return Call(
            "Search",
            request,
            lambda r: [Hit(_from_pid(h.id), h.score, _loads(h.metadata_json)) for h in r.results],
        )
