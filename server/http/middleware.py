"""Pure-ASGI middleware: request ids, the Host check, the early body-size refusal, admission for the drain.

Pure ASGI (not `BaseHTTPMiddleware`) keeps the per-request cost low and lets the size check answer
413 from the `Content-Length` header before the body is read at all. Refusals made here, before any
route, are counted and logged under the operation name `http` (`Core.refused`).
"""

from __future__ import annotations

import logging
import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lexsent.errors import BadRequestError, LexsentError, UnavailableError
from server.core import Core
from server.http.common import error_response, too_large
from server.http.hosts import HostCheck
from server.logs import REQUEST_ID_HEADER, new_request_id, request_id

log = logging.getLogger(__name__)
API_PREFIX = "/v1/"
HTTP_LAYER = "http"  # the operation label of requests refused before a route handled them
STARTED = "lexsent.started"  # scope key: perf_counter() when the request arrived


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestContext:
    """Assign the request id (the caller's `x-request-id` or a new one), echo it, refuse big bodies,
    and admit API requests through the lifecycle (503 while draining; in-flight ones are waited for)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, core: Core, hosts: HostCheck) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.core = core
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[STARTED] = time.perf_counter()
        rid = new_request_id(_header(scope, REQUEST_ID_HEADER.encode()))
        token = request_id.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = rid
            await send(message)

        try:
            host = _header(scope, b"host")
            if not self.hosts.allows(host):
                await self._refuse(BadRequestError(self.hosts.refusal(str(host))), scope, receive, send_with_id)
                return
            declared = _header(scope, b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
                await self._refuse(too_large(self.max_body_bytes), scope, receive, send_with_id)
                return
            if not str(scope["path"]).startswith(API_PREFIX):  # probes, metrics, schema: never drained
                await self.app(scope, receive, send_with_id)
                return
            try:
                async with self.core.lifecycle.admit():
                    await self.app(scope, receive, send_with_id)
            except UnavailableError as exc:
                await self._refuse(exc, scope, receive, send_with_id)
        finally:
            request_id.reset(token)

    async def _refuse(self, exc: LexsentError, scope: Scope, receive: Receive, send: Send) -> None:
        self.core.refused(HTTP_LAYER, "http", exc, scope[STARTED])
        await error_response(exc)(scope, receive, send)
