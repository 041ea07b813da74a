"""CORS, when `--cors-origins` is set: starlette's middleware, with refused preflights answered like every
other refusal — `{"error": {...}}` naming what to change, counted and logged under `operation="http"` —
instead of its plain-text "Disallowed CORS origin"."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from lexsent.errors import BadRequestError
from server.core import Core
from server.http.middleware import HTTP_LAYER, STARTED
from server.settings import option


class Cors(CORSMiddleware):
    def __init__(self, *args: Any, core: Core, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.core = core

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        preflight = scope["type"] == "http" and scope["method"] == "OPTIONS" and "origin" in headers
        if not (preflight and "access-control-request-method" in headers):
            await super().__call__(scope, receive, send)
            return
        response = self.preflight_response(request_headers=headers)
        if response.status_code == 400:
            response = self._refusal(response, headers, scope[STARTED])
        await response(scope, receive, send)

    def _refusal(self, response: Response, headers: Headers, started: float) -> Response:
        refused = bytes(response.body).decode().removeprefix("Disallowed CORS ")
        error = BadRequestError(
            f"CORS preflight refused: its {refused} is not allowed (origin {headers.get('origin')!r}; "
            f"the allowed origins are set by {option('cors_origins')})"
        )
        self.core.refused(HTTP_LAYER, "http", error, started)
        kept = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
        body = {"error": {"type": error.type_name, "message": error.message}}
        return JSONResponse(body, status_code=400, headers=kept)
