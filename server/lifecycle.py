"""Readiness and graceful drain: one state machine both transports consult.

On SIGTERM the state turns DRAINING: readiness reports false, new requests are refused with an
UNAVAILABLE-kind error (503 / UNAVAILABLE), and the runner waits for in-flight requests to finish
(up to the drain timeout) before closing the listeners.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import Enum

from lexsent.errors import UnavailableError


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

    async def drain(self, timeout: float) -> bool:
        """Stop admitting; wait for in-flight requests. True when all finished in time."""
        self.state = State.DRAINING
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True
