"""Collection routes (DESIGN §2): create/list/get/drop collections, upsert/delete/fetch points, search."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from lexsent.errors import InvalidInputError
from server.collections import (
    CREATE,
    DROP,
    FETCH,
    GET,
    LIST,
    REMOVE,
    SEARCH,
    UPSERT,
    CollectionsService,
    CreateRequest,
    DeleteRequest,
    SearchRequest,
    UpsertRequest,
    hit_body,
)
from server.http.common import JSONResponse, api_token, endpoint, read_json
from server.http.openapi import Components, operation
from server.service import Service
from server.validation import validate


class CollectionInfo(BaseModel):
    name: str
    dim: int
    index: str
    metric: str
    model: str | None
    model_fingerprint: str | None
    count: int
    exact: bool


class CollectionList(BaseModel):
    collections: list[CollectionInfo]


class WriteResult(BaseModel):
    count: int


class PointOut(BaseModel):
    id: str | int
    metadata: dict[str, Any] | None
    vector: list[float] | None = None


class HitOut(BaseModel):
    id: str | int
    score: float
    metadata: dict[str, Any] | None


class SearchResponse(BaseModel):
    results: list[HitOut]


def _path_ids(raw: str) -> list[str | int]:
    """A path id is the string first, then the integer it spells (string ids win on a clash)."""
    try:
        return [raw, int(raw)] if raw.lstrip("-").isdigit() else [raw]
    except ValueError:
        return [raw]


def _flag(value: str, name: str) -> bool:
    """A boolean query parameter: true/false, 1/0, yes/no; anything else is refused, not read as true."""
    spelled = value.lower()
    if spelled in ("true", "1", "yes"):
        return True
    if spelled in ("false", "0", "no"):
        return False
    raise InvalidInputError(f"query parameter {name}={value!r}: use true or false")


def routes(service: Service) -> list[BaseRoute]:

    def collections() -> CollectionsService:
        svc: CollectionsService = service.collections
        return svc

    @endpoint(service.core, CREATE)
    async def create(request: Request) -> Response:
        body = validate(CreateRequest, await read_json(request, service.core))
        info = await collections().create(body, api_token(request))
        return JSONResponse(info)

    @endpoint(service.core, LIST)
    async def list_all(request: Request) -> Response:
        infos = await collections().list_all(api_token(request))
        return JSONResponse({"collections": infos})

    @endpoint(service.core, GET)
    async def get(request: Request) -> Response:
        info = await collections().get(request.path_params["name"], api_token(request))
        return JSONResponse(info)

    @endpoint(service.core, DROP)
    async def drop(request: Request) -> Response:
        await collections().drop(request.path_params["name"], api_token(request))
        return JSONResponse({"deleted": request.path_params["name"]})

    @endpoint(service.core, UPSERT)
    async def upsert(request: Request) -> Response:
        body = validate(UpsertRequest, await read_json(request, service.core))
        count = await collections().upsert(request.path_params["name"], body, api_token(request))
        return JSONResponse({"count": count})

    @endpoint(service.core, REMOVE)
    async def remove(request: Request) -> Response:
        body = validate(DeleteRequest, await read_json(request, service.core))
        count = await collections().remove(request.path_params["name"], body, api_token(request))
        return JSONResponse({"count": count})

    @endpoint(service.core, FETCH)
    async def fetch(request: Request) -> Response:
        with_vector = _flag(request.query_params.get("vector", "true"), "vector")
        point = await collections().fetch(
            request.path_params["name"],
            _path_ids(request.path_params["id"]),
            api_token(request),
            with_vector=with_vector,
        )
        return JSONResponse(point)

    @endpoint(service.core, SEARCH)
    async def search(request: Request) -> Response:
        body = validate(SearchRequest, await read_json(request, service.core))
        hits = await collections().search(request.path_params["name"], body, api_token(request))
        return JSONResponse({"results": [hit_body(hit) for hit in hits]})

    return [
        Route("/v1/collections", create, methods=["POST"]),
        Route("/v1/collections", list_all, methods=["GET"]),
        Route("/v1/collections/{name}", get, methods=["GET"]),
        Route("/v1/collections/{name}", drop, methods=["DELETE"]),
        Route("/v1/collections/{name}/points", upsert, methods=["POST"]),
        Route("/v1/collections/{name}/points/delete", remove, methods=["POST"]),
        # `:path`: an id may contain "/" (the path is percent-decoded before routing, so `%2F` arrives as "/").
        Route("/v1/collections/{name}/points/{id:path}", fetch, methods=["GET"]),
        Route("/v1/collections/{name}/search", search, methods=["POST"]),
    ]


def openapi(components: Components) -> dict[str, Any]:
    write_errors = (400, 401, 403, 404, 408, 413, 415, 422, 503, 507)
    read_errors = (400, 401, 404, 422, 503)
    return {
        "/v1/collections": {
            "post": operation(
                components,
                "Create a collection bound to a served model (or a plain vector dimension)",
                request=CreateRequest,
                response=CollectionInfo,
                errors=(400, 401, 403, 404, 408, 409, 415, 422, 503, 507),
            ),
            "get": operation(components, "List collections", response=CollectionList, errors=(401, 503)),
        },
        "/v1/collections/{name}": {
            "get": operation(components, "Describe a collection", response=CollectionInfo, errors=read_errors),
            "delete": operation(components, "Delete a collection and its data", errors=(401, 403, 404, 503)),
        },
        "/v1/collections/{name}/points": {
            "post": operation(
                components,
                "Upsert points (text or vector, metadata); durable when acknowledged",
                request=UpsertRequest,
                response=WriteResult,
                errors=write_errors,
            )
        },
        "/v1/collections/{name}/points/delete": {
            "post": operation(
                components,
                "Delete points by id",
                request=DeleteRequest,
                response=WriteResult,
                errors=write_errors,
            )
        },
        "/v1/collections/{name}/points/{id}": {
            "get": operation(components, "Fetch one point", response=PointOut, errors=read_errors)
        },
        "/v1/collections/{name}/search": {
            "post": operation(
                components,
                "Top-k search by text or vector, with filters and per-query nprobe / ef_search",
                request=SearchRequest,
                response=SearchResponse,
                errors=(400, 401, 404, 408, 413, 415, 422, 503),
            )
        },
    }
