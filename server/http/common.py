"""Helpers every HTTP route module uses: JSON in and out, body reading under the size limit, the API
key, the route decorator (`Core.guard` around the handler), and the single error → response mapping
(`ErrorKind.http_status`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse as _StarletteJSONResponse
from starlette.responses import Response

from lexsent.errors import (
    BadRequestError,
    LexsentError,
    PayloadTooLargeError,
    RequestTimeoutError,
    UnavailableError,
    UnsupportedMediaTypeError,
)
from server.auth import Operation, bearer_token
from server.core import Core

Handler = Callable[[Request], Awaitable[Response]]


class JSONResponse(_StarletteJSONResponse):
    """Rendered by orjson: a float-format embedding (384 floats) takes ~0.03 ms instead of ~0.6 ms with
    the standard library, and a base64 one a tenth of its time. Floats are written as the shortest text
    that reads back to the same double, so a client gets exactly the float32 values the model produced.
    `OPT_SERIALIZE_NUMPY` keeps numpy scalars (e.g. a `numpy.float64` score) serialisable, as they were
    with the standard library."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


# Seconds a client should wait before retrying what a retry can cure (a full queue, a draining server):
# the OpenAI SDK and most HTTP clients honour `Retry-After` before their own backoff.
RETRY_AFTER_S = 1


def error_response(exc: LexsentError) -> JSONResponse:
    body = {"error": {"type": exc.type_name, "message": exc.message}}
    headers = {"retry-after": str(RETRY_AFTER_S)} if exc.retryable else None
    return JSONResponse(body, status_code=exc.kind.http_status, headers=headers)


def too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"request body exceeds the {limit}-byte limit (--max-body-bytes)")


def require_json(content_type: str | None) -> None:
    """Bodies must say they are JSON. A page on another site can make a browser send a form, text/plain
    or untyped body here without asking first (a CORS "simple request"), but not application/json, so
    this keeps other sites from writing to a server that runs without an API key."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise UnsupportedMediaTypeError(
            f"the body must be JSON sent with Content-Type: application/json, not {media or 'no Content-Type'}"
            " (curl: -H 'content-type: application/json')"
        )


async def read_json(request: Request, core: Core) -> Any:
    """Parse the body as JSON, refusing it as soon as it grows past --max-body-bytes (never buffering
    more), or when it has not all arrived within --request-timeout: an upload that stalls or trickles
    (slowloris) would otherwise hold its connection and drain slot for ever. A declared Content-Length
    over the limit never gets here: `RequestContext` answers 413 before any route runs. An upload still
    arriving when a drain runs out gets a 503 like any other request cut off, not a dropped connection."""
    settings = core.settings
    limit = settings.max_body_bytes
    require_json(request.headers.get("content-type"))
    chunks: list[bytes] = []
    size = 0
    try:
        async with core.lifecycle.deadline(settings.request_timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise too_large(limit)
                chunks.append(chunk)
    except TimeoutError:
        if core.lifecycle.cut_off:
            raise UnavailableError(
                f"the server shut down while the request body was arriving ({size} bytes received; it had "
                f"{settings.drain_timeout:g}s, --drain-timeout); nothing was done, retry it"
            ) from None
        raise RequestTimeoutError(
            f"the request body did not arrive within {settings.request_timeout:g}s (--request-timeout); "
            f"{size} bytes were received"
        ) from None
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:  # also lone surrogates and NaN literals, which json.loads let through
        raise BadRequestError(f"request body is not valid JSON: {exc}") from None


CLIENT_CLOSED = 499  # nginx's "client closed request": no one reads it, but it is what happened


async def unless_client_leaves(request: Request, work: Callable[[], Awaitable[Response]]) -> Response:
    """Run `work` (in this task, so its context and accounting stay the request's), and cancel it if the
    client disconnects first: a large batch whose caller has gone is not computed to the end (the
    batcher drops a job whose future is cancelled). Costs a watcher task, so routes use it for large
    requests only. Call it after the body has been read."""
    current = asyncio.current_task()
    assert current is not None

    async def watch() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            continue
        current.cancel()

    watcher = asyncio.create_task(watch())
    try:
        return await work()
    except asyncio.CancelledError:
        if not watcher.done() or watcher.cancelled() or watcher.exception() is not None:
            raise  # not ours: a shutdown or the server's own cancellation
        current.uncancel()
        return Response(status_code=CLIENT_CLOSED)
    finally:
        watcher.cancel()


def api_token(request: Request) -> str | None:
    return bearer_token(request.headers.get("authorization"))


def endpoint(core: Core, operation: Operation) -> Callable[[Handler], Handler]:
    """Decorate a route handling `operation`: the API key is checked before the handler reads the body
    (`Core.guard`, which also accounts refusals), and typed errors become `{"error": {type, message}}`."""

    def decorate(handler: Handler) -> Handler:
        async def wrapped(request: Request) -> Response:
            try:
                return await core.guard(operation, api_token(request), lambda: handler(request), transport="http")
            except LexsentError as exc:
                return error_response(exc)

        wrapped.__name__ = handler.__name__
        wrapped.__doc__ = handler.__doc__
        return wrapped

    return decorate
