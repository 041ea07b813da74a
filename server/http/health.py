"""`/health/live`, `/health/ready` and `/metrics`: open to probes and scrapers (no API key)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from server.http.common import JSONResponse
from server.http.openapi import Components
from server.service import Service


def routes(service: Service) -> list[BaseRoute]:
    lifecycle = service.core.lifecycle

    async def live(_: Request) -> Response:
        return JSONResponse({"status": "live"})

    async def ready(_: Request) -> Response:
        state = lifecycle.state.value
        return JSONResponse({"status": state}, status_code=200 if lifecycle.ready else 503)

    async def metrics(_: Request) -> Response:
        return Response(service.core.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/health/live", live, methods=["GET"]),
        Route("/health/ready", ready, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]


def openapi(_: Components) -> dict[str, Any]:
    status = {"content": {"application/json": {"schema": {"type": "object"}}}}
    return {
        "/health/live": {
            "get": {"summary": "The process is up", "responses": {"200": {"description": "live", **status}}}
        },
        "/health/ready": {
            "get": {
                "summary": "Ready to serve (false while starting or draining)",
                "responses": {
                    "200": {"description": "ready", **status},
                    "503": {"description": "not ready", **status},
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {
                        "description": "text exposition format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    }
