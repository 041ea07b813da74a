"""API-key decisions, made once for every transport.

Two keys: the read-write `--api-key` and the `--read-only-api-key`. With no key configured the server
is open (it binds 127.0.0.1 by default). Keys are compared in constant time (`hmac.compare_digest`) so
response timing leaks nothing about a key's prefix.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import Enum

from pydantic import SecretStr

from lexsent.errors import PermissionDeniedError, UnauthenticatedError


class Access(Enum):
    """What an operation does to server state; the read-only key may only `READ`."""

    READ = "read"
    WRITE = "write"


@dataclass(frozen=True)
class Operation:
    """One public operation (an HTTP route and its gRPC method): its metrics label and access level.

    Each concept module declares its own (`server/embeddings.py`: EMBED, LIST_MODELS; collections add
    theirs, writes with `Access.WRITE`).
    """

    name: str
    access: Access


def bearer_token(header: str | None) -> str | None:
    """The key from an `Authorization: Bearer KEY` header value (HTTP header or gRPC metadata)."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _matches(token: str, key: SecretStr | None) -> bool:
    return key is not None and hmac.compare_digest(token.encode(), key.get_secret_value().encode())


class Authenticator:
    def __init__(self, api_key: SecretStr | None, read_only_api_key: SecretStr | None) -> None:
        self._rw = api_key
        self._ro = read_only_api_key

    @property
    def enabled(self) -> bool:
        return self._rw is not None or self._ro is not None

    def check(self, token: str | None, operation: Operation) -> None:
        """Raise 401/403-kind errors unless `token` may perform `operation`."""
        if not self.enabled:
            return
        if token is None:
            raise UnauthenticatedError("missing API key: send 'Authorization: Bearer <key>'")
        # Both comparisons always run, so timing does not tell which key (if any) matched.
        read_write, read_only = _matches(token, self._rw), _matches(token, self._ro)
        if read_write:
            return
        if not read_only:
            raise UnauthenticatedError("invalid API key")
        if operation.access is Access.WRITE:
            raise PermissionDeniedError(f"the read-only API key may not call {operation.name}")
