"""The one error the client raises for a refused request, with the server's status and message."""

from __future__ import annotations


class LexsentClientError(Exception):
    """`status` is the HTTP status (or gRPC code name); `type` the server's error type."""

    def __init__(self, status: int | str, type_: str, message: str) -> None:
        super().__init__(f"{status} {type_}: {message}")
        self.status = status
        self.type = type_
        self.message = message
