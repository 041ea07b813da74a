"""Helpers every servicer uses: the API key and request id from metadata, the method decorator
(`Core.guard` around the method), and the single error → status mapping (`ErrorKind.grpc_code`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import wraps
from typing import Any, TypeVar

import grpc
from google.protobuf.message import DecodeError

from lexsent.errors import InvalidInputError, LexsentError
from server.auth import Operation, bearer_token
from server.core import Core
from server.logs import REQUEST_ID_HEADER, new_request_id, request_id

Req = TypeVar("Req")
Resp = TypeVar("Resp")
V = TypeVar("V")
RETRYABLE_TRAILER = "lexsent-retryable"
ERROR_TYPE_TRAILER = "lexsent-error-type"
# Status details travel in a header, and gRPC drops the whole status past 16 KiB of headers (the client
# sees an unrelated RESOURCE_EXHAUSTED); messages that quote a huge input are cut well below that.
MAX_DETAILS_BYTES = 2048
Method = Callable[[Any, Req, grpc.aio.ServicerContext], Awaitable[Resp]]


def metadata(context: grpc.aio.ServicerContext, key: str) -> str | None:
    for item in context.invocation_metadata() or ():
        if item.key == key:
            return str(item.value)
    return None


def enum_value(names: Mapping[Any, V], value: int, field: str, unset: V | None) -> V | None:
    """A proto enum number mapped to its meaning (`unset` for 0); a number the proto does not define is
    refused, as HTTP refuses an unknown string, instead of silently meaning the default."""
    if value == 0:
        return unset
    if value not in names:
        known = ", ".join(f"{number} ({name})" for number, name in names.items())
        raise InvalidInputError(f"{field}={value} is not a known value; use 0 (unset) or {known}")
    return names[value]


def status_details(message: str) -> str:
    data = message.encode()
    if len(data) <= MAX_DETAILS_BYTES:
        return message
    kept = data[:MAX_DETAILS_BYTES].decode(errors="ignore")
    return f"{kept}… ({len(message) - len(kept)} more characters)"


def api_token(context: grpc.aio.ServicerContext) -> str | None:
    return bearer_token(metadata(context, "authorization"))


def rpc(operation: Operation) -> Callable[[Method[Req, Resp]], Method[Req, Resp]]:
    """Decorate a servicer method serving `operation`: request id (echoed as trailing metadata), then
    `self.core.guard` — admission (UNAVAILABLE while draining) and the API key before the message is
    converted, refusals accounted — and typed errors → status codes.

    The id travels in the trailers, where the error type does: there it rides in the call's last batch
    operation, while initial metadata sent up front is a batch of its own, one more hop from grpc's
    poller thread to the event loop per call (-0.1 ms of server CPU per call, docs/server.md)."""

    def decorate(method: Method[Req, Resp]) -> Method[Req, Resp]:
        @wraps(method)
        async def wrapped(self: Any, request: Req, context: grpc.aio.ServicerContext) -> Resp:
            rid = new_request_id(metadata(context, REQUEST_ID_HEADER))
            token = request_id.set(rid)
            echoed = ((REQUEST_ID_HEADER, rid),)
            try:
                context.set_trailing_metadata(echoed)
                core: Core = self.core

                async def work() -> Resp:
                    if isinstance(request, Malformed):
                        raise InvalidInputError(f"the request is not a valid {operation.name} message: {request.error}")
                    return await method(self, request, context)

                return await core.guard(operation, api_token(context), work, transport="grpc", admit=True)
            except LexsentError as exc:
                # One gRPC code covers several error types (RESOURCE_EXHAUSTED: a full queue, an
                # over-size message, a full disk), so the type travels as a trailer, as it does in HTTP
                # bodies; the retryable trailer tells clients which failures a retry can cure.
                trailer: tuple[tuple[str, str], ...] = (*echoed, (ERROR_TYPE_TRAILER, exc.type_name))
                if exc.retryable:
                    trailer += ((RETRYABLE_TRAILER, "1"),)
                code = grpc.StatusCode[exc.kind.grpc_code]
                await context.abort(code, status_details(exc.message), trailing_metadata=trailer)
                raise  # unreachable: abort raises
            finally:
                request_id.reset(token)

        return wrapped

    return decorate


class Malformed:
    """Bytes that do not parse as the method's request message (truncated, or a string field that is not
    UTF-8). grpc would answer UNKNOWN with a traceback in the log, before the servicer — and so the request
    id, the metrics and the access log — ever saw the call; `rpc` refuses it as invalid input instead."""

    def __init__(self, error: str) -> None:
        self.error = error


def _tolerant(parse: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def tolerant(data: bytes) -> Any:
        try:
            return parse(data)
        except DecodeError as exc:
            return Malformed(str(exc))

    return tolerant


class _TolerantRegistration:
    """Stands in for the server in a generated `add_*Servicer_to_server`, registering its method handlers
    with tolerant request parsers."""

    def __init__(self, server: grpc.aio.Server) -> None:
        self.server = server

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        """Ignored: the generated code passes the same handlers to `add_registered_method_handlers` too."""

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        tolerant = {
            name: h._replace(request_deserializer=_tolerant(h.request_deserializer)) for name, h in handlers.items()
        }
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, tolerant),))
        self.server.add_registered_method_handlers(service, tolerant)


def add_servicer(add: Callable[[Any, Any], None], servicer: Any, server: grpc.aio.Server) -> None:
    """`add(servicer, server)`, a generated registration function, with malformed requests refused as
    INVALID_ARGUMENT (`Malformed`)."""
    add(servicer, _TolerantRegistration(server))
