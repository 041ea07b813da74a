"""Assemble the starlette app: one route module per concept, shared middleware, `/openapi.json`.

To add a concept, write `server/http/<concept>.py` with `routes(service)` and `openapi(components)`
and append the module to `ROUTE_MODULES`.
"""

from __future__ import annotations

import time
from types import ModuleType
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

import lexsent
from lexsent.errors import BadRequestError, LexsentError, MethodNotAllowedError, NotFoundError
from server.core import Core
from server.http import collections, embeddings, health, mining
from server.http.common import JSONResponse, error_response
from server.http.cors import Cors
from server.http.hosts import HostCheck
from server.http.middleware import HTTP_LAYER, STARTED, RequestContext
from server.http.openapi import Components, document
from server.service import Service

# Starlette tries routes in order, so the hot one, `/v1/embeddings`, is matched first.
ROUTE_MODULES: tuple[ModuleType, ...] = (embeddings, health, collections, mining)


def openapi_document() -> dict[str, Any]:
    components = Components()
    paths: dict[str, Any] = {}
    for module in ROUTE_MODULES:
        paths.update(module.openapi(components))
    return document(paths, components, lexsent.__version__)


def allowed_methods(routes: list[BaseRoute], scope: Scope) -> set[str]:
    """Every method some route serves on the request's path."""
    methods: set[str] = set()
    for route in routes:
        if isinstance(route, Route) and route.methods and route.matches(scope)[0] is Match.PARTIAL:
            methods |= route.methods
    return methods


def routing_errors(core: Core) -> Any:
    """Starlette's own 404/405 (and any other HTTPException) in the API's error shape, accounted."""

    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        where = f"{request.method} {request.url.path}"
        headers = dict(exc.headers or {})
        error: LexsentError
        if exc.status_code == 404:
            error = NotFoundError(f"no route for {where}; the API is described at /openapi.json")
        elif exc.status_code == 405:
            # Starlette's Allow names only the first route on the path; a path can have several (one per method).
            headers["Allow"] = ", ".join(sorted(allowed_methods(request.app.routes, request.scope)))
            error = MethodNotAllowedError(f"{where} is not allowed; allowed: {headers['Allow']}")
        else:
            error = BadRequestError(f"{where}: {exc.detail}")
        core.refused(HTTP_LAYER, "http", error, request.scope.get(STARTED, time.perf_counter()))
        response = error_response(error)
        response.status_code = exc.status_code
        response.headers.update(headers)
        return response

    return handle


def build_app(service: Service) -> Starlette:
    settings = service.settings
    schema = openapi_document()

    async def openapi_json(_: Request) -> Response:
        return JSONResponse(schema)

    routes = [route for module in ROUTE_MODULES for route in module.routes(service)]
    routes.append(Route("/openapi.json", openapi_json, methods=["GET"]))
    middleware = [
        Middleware(RequestContext, max_body_bytes=settings.max_body_bytes, core=service.core, hosts=HostCheck(settings))
    ]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                Cors,
                core=service.core,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST", "DELETE"],
                allow_headers=["authorization", "content-type", "x-request-id"],
                expose_headers=["x-request-id"],
            )
        )
    handlers = {HTTPException: routing_errors(service.core)}
    return Starlette(routes=routes, middleware=middleware, exception_handlers=handlers)
