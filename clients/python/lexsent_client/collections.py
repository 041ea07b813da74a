"""Collection methods for all four clients (HTTP and gRPC, sync and async), mixed into each client.

Every method is one builder from `collection_calls` bound to the host's transport, so the sync and
async twins cannot drift apart. Points are plain dicts, as in the HTTP API:
`{"id": "doc-1", "text": "...", "metadata": {...}}` or `{"id": 7, "vector": [...]}`.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from lexsent_client.collection_calls import Call, GrpcCalls, HttpCalls

P = ParamSpec("P")
R = TypeVar("R")


def _blocking(build: Callable[P, Call[R]]) -> Callable[Concatenate[Any, P], R]:
    @functools.wraps(build)
    def method(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
        call = build(*args, **kwargs)
        return call.parse(self._send(call))

    return method


def _awaiting(build: Callable[P, Call[R]]) -> Callable[Concatenate[Any, P], Awaitable[R]]:
    @functools.wraps(build)
    async def method(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
        call = build(*args, **kwargs)
        return call.parse(await self._send(call))

    return method


class HttpCollections:
    """Needs `self._request(method, path, json=None)` from the host client."""

    _request: Callable[..., Any]

    def _send(self, call: Call[Any]) -> Any:
        method, path = call.target.split(" ", 1)
        return self._request(method, path, call.request)

    create_collection = _blocking(HttpCalls.create_collection)
    get_collection = _blocking(HttpCalls.get_collection)
    list_collections = _blocking(HttpCalls.list_collections)
    delete_collection = _blocking(HttpCalls.delete_collection)
    upsert = _blocking(HttpCalls.upsert)
    delete_points = _blocking(HttpCalls.delete_points)
    fetch = _blocking(HttpCalls.fetch)
    search = _blocking(HttpCalls.search)


class AsyncHttpCollections:
    """Needs `async self._request(method, path, json=None)` from the host client."""

    _request: Callable[..., Awaitable[Any]]

    async def _send(self, call: Call[Any]) -> Any:
        method, path = call.target.split(" ", 1)
        return await self._request(method, path, call.request)

    create_collection = _awaiting(HttpCalls.create_collection)
    get_collection = _awaiting(HttpCalls.get_collection)
    list_collections = _awaiting(HttpCalls.list_collections)
    delete_collection = _awaiting(HttpCalls.delete_collection)
    upsert = _awaiting(HttpCalls.upsert)
    delete_points = _awaiting(HttpCalls.delete_points)
    fetch = _awaiting(HttpCalls.fetch)
    search = _awaiting(HttpCalls.search)


class GrpcCollections:
    """Needs `self._call(method, request)` and `self._collections` (a CollectionsStub) from the host."""

    _call: Callable[[Any, Any], Any]
    _collections: Any

    def _send(self, call: Call[Any]) -> Any:
        return self._call(getattr(self._collections, call.target), call.request)

    create_collection = _blocking(GrpcCalls.create_collection)
    get_collection = _blocking(GrpcCalls.get_collection)
    list_collections = _blocking(GrpcCalls.list_collections)
    delete_collection = _blocking(GrpcCalls.delete_collection)
    upsert = _blocking(GrpcCalls.upsert)
    delete_points = _blocking(GrpcCalls.delete_points)
    fetch = _blocking(GrpcCalls.fetch)
    search = _blocking(GrpcCalls.search)


class AsyncGrpcCollections:
    """Needs `async self._call(method, request)` and `self._collections` (an aio CollectionsStub)."""

    _call: Callable[[Any, Any], Awaitable[Any]]
    _collections: Any

    async def _send(self, call: Call[Any]) -> Any:
        return await self._call(getattr(self._collections, call.target), call.request)

    create_collection = _awaiting(GrpcCalls.create_collection)
    get_collection = _awaiting(GrpcCalls.get_collection)
    list_collections = _awaiting(GrpcCalls.list_collections)
    delete_collection = _awaiting(GrpcCalls.delete_collection)
    upsert = _awaiting(GrpcCalls.upsert)
    delete_points = _awaiting(GrpcCalls.delete_points)
    fetch = _awaiting(GrpcCalls.fetch)
    search = _awaiting(GrpcCalls.search)
