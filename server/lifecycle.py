"""Readiness and graceful drain: one state machine both transports consult.

On SIGTERM the state turns DRAINING: readiness reports false, new requests are refused with an
UNAVAILABLE-kind error (503 / UNAVAILABLE), and the runner waits for in-flight requests to finish
(up to the drain timeout) before closing the listeners. Requests still running when the timeout ends
are cut off: their deadlines (registered by `Core.call`) fire at once, so each still gets a proper
503 / UNAVAILABLE answer instead of being killed by the HTTP server's own shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import Enum

from lexsent.errors import UnavailableError

CUT_OFF_GRACE = 1.0  # seconds the cut-off requests get to write their 503s before the listeners close


class State(Enum):
    STARTING = "starting"
    READY = "ready"
    DRAINING = "draining"


class Lifecycle:
    def __init__(self) -> None:
        self.state = State.STARTING
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._deadlines: set[asyncio.Timeout] = set()
        self.cut_off = False  # the drain ran out and the requests still running were ended

    @property
    def ready(self) -> bool:
        return self.state is State.READY

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def mark_ready(self) -> None:
        self.state = State.READY

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """Count a request as in flight; refuse it unless the server is ready."""
        if self.state is not State.READY:
            raise UnavailableError(f"server is {self.state.value}; retry on another instance or later")
        self._in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    @asynccontextmanager
    async def deadline(self, seconds: float) -> AsyncIterator[None]:
        """`asyncio.timeout(seconds)` that a drain running out fires at once: the block raises TimeoutError
        either way, and `cut_off` tells the caller which it was. Used for a request's work (`Core.call`)
        and for the upload of its body before that (`read_json`), so neither outlives the drain."""
        async with asyncio.timeout(seconds) as timeout:
            self._deadlines.add(timeout)
            try:
                yield
            finally:
                self._deadlines.discard(timeout)

    async def drain(self, timeout: float) -> bool:
        """Stop admitting; wait for in-flight requests. True when all finished in time; otherwise the
        tracked requests still running are cut off and get a moment to send their answers."""
        self.state = State.DRAINING
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            pass
        self.cut_off = True
        now = asyncio.get_running_loop().time()
        for deadline in self._deadlines:
            deadline.reschedule(now)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), CUT_OFF_GRACE)
        return False
