"""One typed error hierarchy for every layer.

Each error carries an :class:`ErrorKind`; the kind alone decides the HTTP status and the gRPC
code, so the transports never re-derive them (one table, here).
"""

from __future__ import annotations

from enum import Enum


class ErrorKind(Enum):
    """What went wrong, with its HTTP status and gRPC status-code name."""

    INVALID_INPUT = (422, "INVALID_ARGUMENT")
    BAD_REQUEST = (400, "INVALID_ARGUMENT")
    UNAUTHENTICATED = (401, "UNAUTHENTICATED")
    PERMISSION_DENIED = (403, "PERMISSION_DENIED")
    NOT_FOUND = (404, "NOT_FOUND")
    METHOD_NOT_ALLOWED = (405, "UNIMPLEMENTED")
    ALREADY_EXISTS = (409, "ALREADY_EXISTS")
    LIMIT_REACHED = (409, "RESOURCE_EXHAUSTED")
    REQUEST_TIMEOUT = (408, "DEADLINE_EXCEEDED")
    PAYLOAD_TOO_LARGE = (413, "RESOURCE_EXHAUSTED")
    UNSUPPORTED_MEDIA_TYPE = (415, "INVALID_ARGUMENT")
    OVERLOADED = (429, "RESOURCE_EXHAUSTED")
    INTERNAL = (500, "INTERNAL")
    UNAVAILABLE = (503, "UNAVAILABLE")
    TIMEOUT = (504, "DEADLINE_EXCEEDED")
    STORAGE_FULL = (507, "RESOURCE_EXHAUSTED")

    @property
    def http_status(self) -> int:
        return self.value[0]

    @property
    def grpc_code(self) -> str:
        return self.value[1]

    @property
    def retryable(self) -> bool:
        """A retry after a pause may succeed: the queue was full or the server is draining."""
        return self in (ErrorKind.OVERLOADED, ErrorKind.UNAVAILABLE)


class LexsentError(Exception):
    """Base of every error lexsent raises on purpose."""

    kind: ErrorKind = ErrorKind.INTERNAL

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        # Most errors inherit their kind's answer; a draining server's cut-off write overrides it, because
        # that write may have been applied and repeating it is not safe.
        self.retryable = self.kind.retryable if retryable is None else retryable

    @property
    def type_name(self) -> str:
        """Stable machine-readable name used in HTTP error bodies."""
        return self.kind.name.lower()


class InvalidInputError(LexsentError):
    """The caller sent something that cannot be encoded or stored."""

    kind = ErrorKind.INVALID_INPUT


class InputTooLongError(InvalidInputError):
    """An input exceeds the model's max length under the `error` long-input policy (the message names it
    with the caller's label: `input[3]`, `stdin line 7`)."""


class BadRequestError(LexsentError):
    """The request is malformed (not JSON, wrong shape)."""

    kind = ErrorKind.BAD_REQUEST


class BundleError(LexsentError):
    """A model bundle is missing files, malformed, or fails its fingerprint check."""

    kind = ErrorKind.INTERNAL


class ExportError(LexsentError):
    """Export failed, e.g. parity against the source model is out of tolerance."""

    kind = ErrorKind.INTERNAL


class NotFoundError(LexsentError):
    kind = ErrorKind.NOT_FOUND


class MethodNotAllowedError(LexsentError):
    """An HTTP route exists but not for this method."""

    kind = ErrorKind.METHOD_NOT_ALLOWED


class AlreadyExistsError(LexsentError):
    kind = ErrorKind.ALREADY_EXISTS


class LimitReachedError(LexsentError):
    """A configured limit (e.g. `--max-collections`) is reached; nothing was changed, and waiting does not
    help: free something up or raise the limit (the message names it)."""

    kind = ErrorKind.LIMIT_REACHED


class UnauthenticatedError(LexsentError):
    kind = ErrorKind.UNAUTHENTICATED


class PermissionDeniedError(LexsentError):
    kind = ErrorKind.PERMISSION_DENIED


class RequestTimeoutError(LexsentError):
    """The request body did not arrive in time (a stalled or deliberately slow upload)."""

    kind = ErrorKind.REQUEST_TIMEOUT


class UnsupportedMediaTypeError(LexsentError):
    """An HTTP body that does not say it is JSON."""

    kind = ErrorKind.UNSUPPORTED_MEDIA_TYPE


class PayloadTooLargeError(LexsentError):
    kind = ErrorKind.PAYLOAD_TOO_LARGE


class OverloadedError(LexsentError):
    kind = ErrorKind.OVERLOADED


class UnavailableError(LexsentError):
    kind = ErrorKind.UNAVAILABLE


class DeadlineExceededError(LexsentError):
    """The request did not finish within its deadline."""

    kind = ErrorKind.TIMEOUT


class StorageFullError(LexsentError):
    """The disk is full; nothing was written and stored data is intact."""

    kind = ErrorKind.STORAGE_FULL


class StorageIOError(LexsentError):
    """Persisting failed with an I/O error other than a full disk; the write was not acknowledged."""

    kind = ErrorKind.INTERNAL


class StorageCorruptError(StorageIOError):
    """Stored data fails its checks where a crash cannot explain it; it is left exactly as found."""
