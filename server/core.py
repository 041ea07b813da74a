"""`Core`: what every operation shares — auth, readiness/drain state, deadline, metrics, logs.

Concept services (embeddings, collections, mining) wrap each public operation in `Core.call`, so the
transports stay thin adapters: parse → call the concept service → serialise, with errors mapped by
`lexsent.errors.ErrorKind` alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from lexsent.errors import DeadlineExceededError, LexsentError
from server.auth import Authenticator, Operation
from server.lifecycle import Lifecycle
from server.logs import request_id
from server.metrics import Metrics
from server.settings import ServerSettings

T = TypeVar("T")
log = logging.getLogger("lexsent.server")


class Core:
    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.auth = Authenticator(settings.api_key, settings.read_only_api_key)
        self.metrics = Metrics()
        self.lifecycle = Lifecycle()

    async def call(
        self, operation: Operation, token: str | None, work: Callable[[], Awaitable[T]], *, model: str = ""
    ) -> T:
        """Run `work` as `operation` for the holder of `token`; every outcome is counted and logged once.

        Admission (`lifecycle.admit`) is done earlier, by the transports as a request arrives, so a
        request whose body is still uploading when SIGTERM lands counts as in flight and completes.
        """
        start = time.perf_counter()
        status = "ok"
        try:
            self.auth.check(token, operation)
            self.metrics.in_flight.inc()
            try:
                async with asyncio.timeout(self.settings.request_timeout):
                    return await work()
            except TimeoutError:
                raise DeadlineExceededError(
                    f"{operation.name} took longer than the request timeout "
                    f"({self.settings.request_timeout:g}s, --request-timeout)"
                ) from None
            finally:
                self.metrics.in_flight.dec()
        except LexsentError as exc:
            status = exc.type_name
            raise
        except Exception as exc:
            status = "internal"
            log.exception("%s failed", operation.name)
            raise LexsentError(
                f"internal error; the server log has details under request id {request_id.get()}"
            ) from exc
        finally:
            # Counted and logged on the loop's next turn: by then an HTTP route has written its response,
            # so this bookkeeping (about 0.2 ms at c=1, after inference has left the caches cold) stays
            # off the request's latency. The callback keeps this context, so the log line has its request id.
            elapsed = time.perf_counter() - start
            asyncio.get_running_loop().call_soon(self._record, operation.name, model, status, elapsed)

    def _record(self, operation: str, model: str, status: str, elapsed: float) -> None:
        metrics = self.metrics
        metrics.child(metrics.requests, operation, model, status).inc()
        metrics.child(metrics.latency, operation).observe(elapsed)
        log.info(
            "%s %s",
            operation,
            status,
            extra={"fields": {"operation": operation, "model": model, "status": status, "ms": round(elapsed * 1e3, 2)}},
        )
