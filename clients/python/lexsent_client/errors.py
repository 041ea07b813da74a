"""The one error the client raises for a refused request, with the server's status and message."""

from __future__ import annotations


class LexsentClientError(Exception):
    """`status` is the HTTP status (or gRPC code name); `type` the server's error type (`invalid_input`,
    `overloaded`, ...), the same over both transports. A gRPC failure that did not come from a lexsent
    server (no connection, TLS, a client-side limit) has the code name in lower case as its `type`, and
    the `grpc.RpcError` as its `__cause__`."""

    def __init__(self, status: int | str, type_: str, message: str) -> None:
        super().__init__(f"{status} {type_}: {message}")
        self.status = status
        self.type = type_
        self.message = message


def invalid_input(message: str) -> LexsentClientError:
    """Refused before sending: a gRPC message cannot express it (HTTP sends it and the server says 422)."""
    return LexsentClientError("INVALID_ARGUMENT", "invalid_input", message)
