"""Helpers every servicer uses: the API key and request id from metadata, the method decorator
(`Core.guard` around the method), and the single error → status mapping (`ErrorKind.grpc_code`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar

import grpc

from lexsent.errors import LexsentError
from server.auth import Operation, bearer_token
from server.core import Core
from server.logs import REQUEST_ID_HEADER, new_request_id, request_id

Req = TypeVar("Req")
Resp = TypeVar("Resp")
RETRYABLE_TRAILER = "lexsent-retryable"
Method = Callable[[Any, Req, grpc.aio.ServicerContext], Awaitable[Resp]]


def metadata(context: grpc.aio.ServicerContext, key: str) -> str | None:
    for item in context.invocation_metadata() or ():
        if item.key == key:
            return str(item.value)
    return None


def api_token(context: grpc.aio.ServicerContext) -> str | None:
    return bearer_token(metadata(context, "authorization"))


def rpc(operation: Operation) -> Callable[[Method[Req, Resp]], Method[Req, Resp]]:
    """Decorate a servicer method serving `operation`: request id (echoed as initial metadata), then
    `self.core.guard` — admission (UNAVAILABLE while draining) and the API key before the message is
    converted, refusals accounted — and typed errors → status codes."""

    def decorate(method: Method[Req, Resp]) -> Method[Req, Resp]:
        @wraps(method)
        async def wrapped(self: Any, request: Req, context: grpc.aio.ServicerContext) -> Resp:
            rid = new_request_id(metadata(context, REQUEST_ID_HEADER))
            token = request_id.set(rid)
            try:
                await context.send_initial_metadata(((REQUEST_ID_HEADER, rid),))
                core: Core = self.core
                return await core.guard(
                    operation, api_token(context), lambda: method(self, request, context), transport="grpc", admit=True
                )
            except LexsentError as exc:
                # RESOURCE_EXHAUSTED also means "message too large" or "disk full": the trailer tells
                # clients which failures a retry can cure (the queue was full, the server is draining).
                trailer = ((RETRYABLE_TRAILER, "1"),) if exc.kind.retryable else ()
                await context.abort(grpc.StatusCode[exc.kind.grpc_code], exc.message, trailing_metadata=trailer)
                raise  # unreachable: abort raises
            finally:
                request_id.reset(token)

        return wrapped

    return decorate
