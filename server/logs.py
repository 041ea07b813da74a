"""Structured logs: one JSON object per line, carrying the id of the request being served.

Transports set `request_id` (from the caller's `x-request-id`, or a fresh one) before calling the
service, so every line logged while serving that request can be joined to it.

Lines are formatted and written by a background thread (`BackgroundHandler`), several per write: a
per-request line formatted and flushed on the event loop cost it about a tenth of its time per request.
"""

from __future__ import annotations

import itertools
import json
import logging
import queue
import re
import secrets
import sys
import threading
from contextvars import ContextVar
from typing import TextIO

from server.settings import LogFormat

request_id: ContextVar[str] = ContextVar("request_id", default="-")

REQUEST_ID_HEADER = "x-request-id"
_CALLER_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")
# Fresh ids: a random per-process prefix and a counter, 32 hex digits like a UUID but without a system
# call per request. They only need to be unique (they are not secrets).
_ID_PREFIX = secrets.token_hex(8)
_ids = itertools.count(1)
# Records written per write() by the background handler, at most.
_WRITE_BATCH = 256


def new_request_id(supplied: str | None) -> str:
    """Reuse a caller's id when it is short and plain (letters, digits, `._:/+=-`: trace and UUID
    formats), so ids correlate across services; anything else (spaces, quotes, newlines) could forge
    fields in a log line, and gets a fresh id."""
    if supplied and _CALLER_ID.fullmatch(supplied):
        return supplied
    return f"{_ID_PREFIX}{next(_ids):016x}"


def _request_id(record: logging.LogRecord) -> str:
    """Stamped on the record by `BackgroundHandler.emit`; else the current request's."""
    return getattr(record, "request_id", None) or request_id.get()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": _request_id(record),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _value(value: object) -> str:
    """A field as one token: quoted (JSON string escapes) when it holds a space, quote, '=' or control
    character, so no value can pass for another field or line."""
    text = str(value)
    plain = text and text.isprintable() and not any(c in text for c in ' "=')
    return text if plain else json.dumps(text, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """For people reading a terminal: the message, then the request id and fields as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        fields = {"request_id": _request_id(record)}
        fields.update(getattr(record, "fields", {}))
        return f"{super().format(record)} " + " ".join(f"{key}={_value(value)}" for key, value in fields.items())


class BackgroundHandler(logging.Handler):
    """Queue records on the caller's thread (stamped with its request id); a daemon thread formats them
    and writes whatever has queued up in one write. `close` (run by `logging.shutdown` at exit) drains
    the queue first, so no line is lost on a normal exit."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        self._queue: queue.SimpleQueue[logging.LogRecord | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write, name="log-writer", daemon=True)
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        record.request_id = request_id.get()
        record.msg, record.args = record.getMessage(), None  # the arguments may change before the write
        self._queue.put(record)

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        super().close()

    def _write(self) -> None:
        while True:
            batch = [self._queue.get()]
            while batch[-1] is not None and len(batch) < _WRITE_BATCH and not self._queue.empty():
                batch.append(self._queue.get())
            lines = []
            for record in batch:
                if record is None:
                    continue
                try:
                    lines.append(self.format(record) + "\n")
                except Exception:  # a record that cannot be formatted must not stop the writer
                    self.handleError(record)
            if lines:
                self.stream.write("".join(lines))
                self.stream.flush()
            if batch[-1] is None:
                return


# Libraries whose INFO lines are chatter in a server log: onnxruntime's quantizer (run by the default
# model's first-run export) writes one per tensor, partly through loggers of its own.
QUIET_LIBRARIES = ("onnxruntime",)


def _warnings_and_up(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING


def configure(fmt: LogFormat, level: int = logging.INFO) -> None:
    """Every logger's lines go to one handler on the root logger, from `level` up, except INFO and below
    from `QUIET_LIBRARIES` and from code that logs on the root logger itself (`logging.info(...)`: the
    quantizer again, ~40 lines per model). lexsent's loggers, and uvicorn's, are named, so unaffected: a
    filter on the root logger sees only the records logged on it, not those propagated from below."""
    handler = BackgroundHandler(sys.stderr)
    if fmt is LogFormat.JSON:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    if _warnings_and_up not in root.filters:
        root.addFilter(_warnings_and_up)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
