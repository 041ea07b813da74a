"""uvicorn's httptools protocol with a deadline for the request head (slow-header defence).

uvicorn times out only an idle keep-alive connection after a response. A connection that sends
nothing, or trickles header lines a byte at a time, stays open for ever and holds a file descriptor: a
few hundred of them use up the process's descriptors and the listener starts dropping connections.
Here the request line and headers must arrive within `--request-timeout` of the connection opening or
of the request's first byte; otherwise the client gets 408 and the connection is closed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

log = logging.getLogger("lexsent.server")


def _timeout_response(seconds: float) -> bytes:
    body = orjson.dumps(
        {
            "error": {
                "type": "request_timeout",
                "message": f"the request headers did not arrive within {seconds:g}s (--request-timeout); "
                "send the whole request head at once",
            }
        }
    )
    head = b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body)
    return STATUS_LINE[408] + head + body


class HeadDeadlineProtocol(HttpToolsProtocol):
    """Closes a connection whose request head is not complete `head_timeout` seconds after it opened or
    after the request's first byte. Subclassed per server by `head_deadline_protocol`."""

    head_timeout: float = 60.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        if self._head_deadline is None:
            self._head_deadline = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined request's head is late while an earlier answer is still being written: close
            # after that answer rather than interleave a 408 with it.
            self.cycle.keep_alive = False
            return
        log.info("closed a connection from %s: request head not complete in %gs", self.client, self.head_timeout)
        self.transport.write(_timeout_response(self.head_timeout))
        self.transport.close()


def head_deadline_protocol(seconds: float) -> type[HeadDeadlineProtocol]:
    """The protocol class for one server, its deadline fixed (uvicorn builds one instance per connection)."""
    return type("HeadDeadlineProtocol", (HeadDeadlineProtocol,), {"head_timeout": seconds})
