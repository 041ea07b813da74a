"""Assemble the starlette app: one route module per concept, shared middleware, `/openapi.json`.

To add a concept, write `server/http/<concept>.py` with `routes(service)` and `openapi(components)`
and append the module to `ROUTE_MODULES`.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import lexsent
from server.http import collections, embeddings, health, mining
from server.http.common import JSONResponse
from server.http.middleware import RequestContext
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


def build_app(service: Service) -> Starlette:
    settings = service.settings
    schema = openapi_document()

    async def openapi_json(_: Request) -> Response:
        return JSONResponse(schema)

    routes = [route for module in ROUTE_MODULES for route in module.routes(service)]
    routes.append(Route("/openapi.json", openapi_json, methods=["GET"]))
    middleware = [Middleware(RequestContext, max_body_bytes=settings.max_body_bytes, lifecycle=service.core.lifecycle)]
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST", "DELETE"],
                allow_headers=["authorization", "content-type", "x-request-id"],
                expose_headers=["x-request-id"],
            )
        )
    return Starlette(routes=routes, middleware=middleware)
