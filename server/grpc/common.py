"""Helpers every servicer uses: the API key and request id from metadata, and the single error →
status mapping (`ErrorKind.grpc_code`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar

import grpc

from lexsent.errors import LexsentError
from server.auth import bearer_token
from server.lifecycle import Lifecycle
from server.logs import REQUEST_ID_HEADER, new_request_id, request_id

Req = TypeVar("Req")
Resp = TypeVar("Resp")
Method = Callable[[Any, Req, grpc.aio.ServicerContext], Awaitable[Resp]]


def metadata(context: grpc.aio.ServicerContext, key: str) -> str | None:
    for item in context.invocation_metadata() or ():
        if item.key == key:
            return str(item.value)
    return None


def api_token(context: grpc.aio.ServicerContext) -> str | None:
    return bearer_token(metadata(context, "authorization"))


def rpc(method: Method[Req, Resp]) -> Method[Req, Resp]:
    """Wrap a servicer method: request id (echoed as initial metadata), admission through the
    servicer's `self.lifecycle` (UNAVAILABLE while draining), typed errors → status codes."""

    @wraps(method)
    async def wrapped(self: Any, request: Req, context: grpc.aio.ServicerContext) -> Resp:
        rid = new_request_id(metadata(context, REQUEST_ID_HEADER))
        token = request_id.set(rid)
        try:
            await context.send_initial_metadata(((REQUEST_ID_HEADER, rid),))
            lifecycle: Lifecycle = self.lifecycle
            async with lifecycle.admit():
                return await method(self, request, context)
        except LexsentError as exc:
            await context.abort(grpc.StatusCode[exc.kind.grpc_code], exc.message)
            raise  # unreachable: abort raises
        finally:
            request_id.reset(token)

    return wrapped
