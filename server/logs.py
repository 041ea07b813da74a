"""Structured logs: one JSON object per line, carrying the id of the request being served.

Transports set `request_id` (from the caller's `x-request-id`, or a fresh one) before calling the
service, so every line logged while serving that request can be joined to it.
"""

from __future__ import annotations

import json
import logging
import sys
import uuid
from contextvars import ContextVar

from server.settings import LogFormat

request_id: ContextVar[str] = ContextVar("request_id", default="-")

REQUEST_ID_HEADER = "x-request-id"
_MAX_ID = 128


def new_request_id(supplied: str | None) -> str:
    """Reuse a caller's id when it is printable and short, so ids correlate across services."""
    if supplied and len(supplied) <= _MAX_ID and supplied.isprintable():
        return supplied
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": request_id.get(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(fmt: LogFormat, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt is LogFormat.JSON:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
