"""`lexsent.v1.Collections` over the same `CollectionsService` as HTTP: messages are converted into the
shared pydantic request schemas, so validation and its messages exist once."""

from __future__ import annotations

import json
from typing import Any

import grpc
import orjson

from lexsent.errors import InvalidInputError
from server import collections as concept
from server.collections import CollectionsService, CreateRequest, DeleteRequest, SearchRequest, UpsertRequest
from server.grpc.common import add_servicer, api_token, enum_value, rpc
from server.proto_gen import collections_pb2 as pb
from server.proto_gen import collections_pb2_grpc as pb_grpc
from server.service import Service
from server.validation import validate

SERVICE_NAME: str = pb.DESCRIPTOR.services_by_name["Collections"].full_name
_INDEX = {pb.INDEX_KIND_FLAT: "flat", pb.INDEX_KIND_IVF: "ivf", pb.INDEX_KIND_HNSW: "hnsw"}
_METRIC = {pb.METRIC_COSINE: "cosine", pb.METRIC_IP: "ip", pb.METRIC_L2: "l2"}
_SCORING = {pb.SCORING_COSINE: "cosine", pb.SCORING_MARGIN: "margin"}


def point_id(message: Any) -> str | int:
    which = message.WhichOneof("kind")
    if which is None:
        raise InvalidInputError("a point id must set 'str' or 'int'")
    value: str | int = getattr(message, which)
    return value


def to_point_id(value: str | int) -> Any:
    return pb.PointId(str=value) if isinstance(value, str) else pb.PointId(int=value)


def _json(text: str, what: str) -> Any:
    """Parsed as HTTP bodies are (orjson): NaN literals and nesting past its depth limit are refused."""
    if not text:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"{what} is not valid JSON: {exc}") from None


def _dump(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False)


def info(data: dict[str, Any]) -> Any:
    return pb.CollectionInfo(
        name=data["name"],
        dim=data["dim"],
        index=data["index"],
        metric=data["metric"],
        model=data["model"] or "",
        model_fingerprint=data["model_fingerprint"] or "",
        count=data["count"],
        exact=data["exact"],
    )


def to_upsert(message: Any) -> UpsertRequest:
    points = []
    for point in message.points:
        content = point.WhichOneof("content")
        body: dict[str, Any] = {
            "id": point_id(point.id),
            "metadata": _json(point.metadata_json, "metadata_json"),
        }
        if content == "text":
            body["text"] = point.text
        elif content == "vector":
            body["vector"] = list(point.vector.values)
        points.append(body)
    return validate(UpsertRequest, {"points": points})


def to_search(message: Any) -> SearchRequest:
    body: dict[str, Any] = {
        "k": message.k if message.HasField("k") else 10,
        "filter": _json(message.filter_json, "filter_json"),
        "scoring": enum_value(_SCORING, message.scoring, "scoring", "cosine"),
        "nprobe": message.nprobe or None,
        "ef_search": message.ef_search or None,
    }
    which = message.WhichOneof("query")
    if which == "text":
        body["query"] = message.text
    elif which == "vector":
        body["vector"] = list(message.vector.values)
    return validate(SearchRequest, body)


class CollectionsServicer(pb_grpc.CollectionsServicer):
    def __init__(self, collections: CollectionsService) -> None:
        self.collections = collections
        self.core = collections.core

    @rpc(concept.CREATE)
    async def Create(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        body = {
            "name": request.name,
            "model": request.model or None,
            "dim": request.dim or None,
            "index": enum_value(_INDEX, request.index, "index", "flat"),
            "metric": enum_value(_METRIC, request.metric, "metric", "cosine"),
        }
        return info(await self.collections.create(validate(CreateRequest, body), api_token(context)))

    @rpc(concept.GET)
    async def Get(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        return info(await self.collections.get(request.name, api_token(context)))

    @rpc(concept.LIST)
    async def List(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        infos = await self.collections.list_all(api_token(context))
        return pb.ListCollectionsResponse(collections=[info(i) for i in infos])

    @rpc(concept.DROP)
    async def Delete(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        await self.collections.drop(request.name, api_token(context))
        return pb.DeleteCollectionResponse()

    @rpc(concept.UPSERT)
    async def Upsert(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        count = await self.collections.upsert(request.collection, to_upsert(request), api_token(context))
        return pb.WriteResponse(count=count)

    @rpc(concept.REMOVE)
    async def Remove(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        ids = validate(DeleteRequest, {"ids": [point_id(i) for i in request.ids]})
        count = await self.collections.remove(request.collection, ids, api_token(context))
        return pb.WriteResponse(count=count)

    @rpc(concept.FETCH)
    async def Fetch(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        point = await self.collections.fetch(
            request.collection, [point_id(request.id)], api_token(context), with_vector=request.with_vector
        )
        return pb.Point(
            id=to_point_id(point["id"]),
            metadata_json=_dump(point["metadata"]),
            vector=point.get("vector", []),
        )

    @rpc(concept.SEARCH)
    async def Search(self, request: Any, context: grpc.aio.ServicerContext) -> Any:  # noqa: N802
        hits = await self.collections.search(request.collection, to_search(request), api_token(context))
        return pb.SearchResponse(
            results=[pb.Hit(id=to_point_id(hit.id), score=hit.score, metadata_json=_dump(hit.metadata)) for hit in hits]
        )


def register(server: grpc.aio.Server, service: Service) -> None:
    add_servicer(pb_grpc.add_CollectionsServicer_to_server, CollectionsServicer(service.collections), server)
