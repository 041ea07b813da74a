"""Collection methods shared by the HTTP and gRPC clients (mixed into `Client` and `GrpcClient`).

Points are plain dicts, as in the HTTP API: `{"id": "doc-1", "text": "...", "metadata": {...}}` or
`{"id": 7, "vector": [...]}`. Over gRPC, vectors travel as float32, metadata and filters as JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from lexsent_client.proto_gen import collections_pb2 as pb

PointId = str | int


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    dim: int
    index: str
    metric: str
    model: str | None
    model_fingerprint: str | None
    count: int
    exact: bool


@dataclass(frozen=True)
class Point:
    id: PointId
    metadata: dict[str, Any] | None
    vector: list[float] | None


@dataclass(frozen=True)
class Hit:
    id: PointId
    score: float
    metadata: dict[str, Any] | None


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


class HttpCollections:
    """Needs `self._request(method, path, json=None)` from the host client."""

    _request: Callable[..., Any]

    def create_collection(
        self,
        name: str,
        *,
        model: str | None = None,
        dim: int | None = None,
        index: str = "flat",
        metric: str = "cosine",
    ) -> CollectionInfo:
        body = {"name": name, "model": model, "dim": dim, "index": index, "metric": metric}
        return CollectionInfo(**self._request("POST", "/v1/collections", {k: v for k, v in body.items() if v}))

    def get_collection(self, name: str) -> CollectionInfo:
        return CollectionInfo(**self._request("GET", f"/v1/collections/{quote(name)}"))

    def list_collections(self) -> list[CollectionInfo]:
        return [CollectionInfo(**c) for c in self._request("GET", "/v1/collections")["collections"]]

    def delete_collection(self, name: str) -> None:
        self._request("DELETE", f"/v1/collections/{quote(name)}")

    def upsert(self, collection: str, points: Sequence[Mapping[str, Any]]) -> int:
        """Insert or replace points; durable on the server when this returns."""
        path = f"/v1/collections/{quote(collection)}/points"
        return int(self._request("POST", path, {"points": [dict(p) for p in points]})["count"])

    def delete_points(self, collection: str, ids: Sequence[PointId]) -> int:
        path = f"/v1/collections/{quote(collection)}/points/delete"
        return int(self._request("POST", path, {"ids": list(ids)})["count"])

    def fetch(self, collection: str, point_id: PointId, *, with_vector: bool = True) -> Point:
        """Over HTTP the id travels in the path: a string id wins over the integer it spells."""
        path = f"/v1/collections/{quote(collection)}/points/{quote(str(point_id), safe='')}"
        body = self._request("GET", path + ("" if with_vector else "?vector=false"))
        return Point(body["id"], body["metadata"], body.get("vector"))

    def search(
        self,
        collection: str,
        *,
        query: str | None = None,
        vector: Sequence[float] | None = None,
        k: int = 10,
        filter: Mapping[str, Any] | None = None,
        scoring: str | None = None,
        nprobe: int | None = None,
        ef_search: int | None = None,
    ) -> list[Hit]:
        body = _search_body(query, vector, k, filter, scoring, nprobe, ef_search)
        results = self._request("POST", f"/v1/collections/{quote(collection)}/search", body)["results"]
        return [Hit(r["id"], r["score"], r["metadata"]) for r in results]


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


_INDEX = {"flat": pb.INDEX_KIND_FLAT, "ivf": pb.INDEX_KIND_IVF, "hnsw": pb.INDEX_KIND_HNSW}
_METRIC = {"cosine": pb.METRIC_COSINE, "ip": pb.METRIC_IP, "l2": pb.METRIC_L2}
_SCORING = {None: pb.SCORING_UNSPECIFIED, "cosine": pb.SCORING_COSINE, "margin": pb.SCORING_MARGIN}


def _point(point: Mapping[str, Any]) -> Any:
    message = pb.PointIn(id=_pid(point["id"]))
    if point.get("metadata") is not None:
        message.metadata_json = json.dumps(point["metadata"])
    if point.get("text") is not None:
        message.text = point["text"]
    if point.get("vector") is not None:
        message.vector.values.extend(point["vector"])
    return message


class GrpcCollections:
    """Needs `self._call(method, request)` and `self._collections` (a CollectionsStub) from the host."""

    _call: Callable[[Any, Any], Any]
    _collections: Any

    def create_collection(
        self,
        name: str,
        *,
        model: str | None = None,
        dim: int | None = None,
        index: str = "flat",
        metric: str = "cosine",
    ) -> CollectionInfo:
        request = pb.CreateCollectionRequest(
            name=name, model=model or "", dim=dim or 0, index=_INDEX[index], metric=_METRIC[metric]
        )
        return _info(self._call(self._collections.Create, request))

    def get_collection(self, name: str) -> CollectionInfo:
        return _info(self._call(self._collections.Get, pb.GetCollectionRequest(name=name)))

    def list_collections(self) -> list[CollectionInfo]:
        response = self._call(self._collections.List, pb.ListCollectionsRequest())
        return [_info(c) for c in response.collections]

    def delete_collection(self, name: str) -> None:
        self._call(self._collections.Delete, pb.DeleteCollectionRequest(name=name))

    def upsert(self, collection: str, points: Sequence[Mapping[str, Any]]) -> int:
        request = pb.UpsertRequest(collection=collection, points=[_point(p) for p in points])
        return int(self._call(self._collections.Upsert, request).count)

    def delete_points(self, collection: str, ids: Sequence[PointId]) -> int:
        request = pb.RemoveRequest(collection=collection, ids=[_pid(i) for i in ids])
        return int(self._call(self._collections.Remove, request).count)

    def fetch(self, collection: str, point_id: PointId, *, with_vector: bool = True) -> Point:
        request = pb.FetchRequest(collection=collection, id=_pid(point_id), with_vector=with_vector)
        m = self._call(self._collections.Fetch, request)
        return Point(_from_pid(m.id), _loads(m.metadata_json), list(m.vector) if with_vector else None)

    def search(
        self,
        collection: str,
        *,
        query: str | None = None,
        vector: Sequence[float] | None = None,
        k: int = 10,
        filter: Mapping[str, Any] | None = None,
        scoring: str | None = None,
        nprobe: int | None = None,
        ef_search: int | None = None,
    ) -> list[Hit]:
        request = pb.SearchRequest(
            collection=collection,
            k=k,
            filter_json="" if filter is None else json.dumps(filter),
            scoring=_SCORING[scoring],
            nprobe=nprobe or 0,
            ef_search=ef_search or 0,
        )
        if query is not None:
            request.text = query
        if vector is not None:
            request.vector.values.extend(vector)
        response = self._call(self._collections.Search, request)
        return [Hit(_from_pid(h.id), h.score, _loads(h.metadata_json)) for h in response.results]
