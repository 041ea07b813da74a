"""Helpers every HTTP route module uses: body reading under the size limit, the API key, and the
single error → response mapping (`ErrorKind.http_status`)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from lexsent.errors import BadRequestError, LexsentError, PayloadTooLargeError
from server.auth import bearer_token

Handler = Callable[[Request], Awaitable[Response]]


def error_response(exc: LexsentError) -> JSONResponse:
    body = {"error": {"type": exc.type_name, "message": exc.message}}
    return JSONResponse(body, status_code=exc.kind.http_status)


def too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"request body exceeds the {limit}-byte limit (--max-body-bytes)")


async def read_json(request: Request, limit: int) -> Any:
    """Parse the body as JSON, refusing it as soon as it grows past `limit` bytes (never buffering more)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except ValueError as exc:
        raise BadRequestError(f"request body is not valid JSON: {exc}") from None


def api_token(request: Request) -> str | None:
    return bearer_token(request.headers.get("authorization"))


def endpoint(handler: Handler) -> Handler:
    """Turn typed errors raised by a route into `{"error": {type, message}}` responses."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except LexsentError as exc:
            return error_response(exc)

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped
