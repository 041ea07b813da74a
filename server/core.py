"""`Core`: what every operation shares — auth, readiness/drain state, deadline, metrics, logs.

Concept services (embeddings, collections, mining) wrap each public operation in `Core.call`, so the
transports stay thin adapters: parse → call the concept service → serialise, with errors mapped by
`lexsent.errors.ErrorKind` alone. The transports enter each request through `Core.guard`, which checks
the API key before the body is read or parsed and counts and logs a request refused before it reaches
`call` (a bad key, body or schema), so every request is accounted once, whichever way it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TypeVar

from lexsent.errors import DeadlineExceededError, LexsentError, UnavailableError
from server.auth import Access, Authenticator, Operation
from server.lifecycle import Lifecycle
from server.logs import request_id
from server.metrics import NO_MODEL, Metrics
from server.settings import ServerSettings

T = TypeVar("T")
log = logging.getLogger("lexsent.server")
# Set by `Core.call` for the request being handled, so `Core.guard` knows the outcome is accounted.
_accounted: ContextVar[bool] = ContextVar("lexsent_accounted", default=False)
# Set by `Core.guard` ("http" or "grpc"), so `Core.call` labels the request's metrics with it.
_transport: ContextVar[str] = ContextVar("lexsent_transport", default="")
# The model a request's work found it uses, when `call` could not know it beforehand (`uses_model`).
_found_model: ContextVar[str | None] = ContextVar("lexsent_found_model", default=None)


def _internal(operation: Operation) -> LexsentError:
    """Log the exception being handled (with its traceback) and return what the client is told."""
    log.exception("%s failed", operation.name)
    return LexsentError(f"internal error; the server log has details under request id {request_id.get()}")


class Core:
    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.auth = Authenticator(settings.api_key, settings.read_only_api_key)
        self.metrics = Metrics()
        self.lifecycle = Lifecycle()

    async def guard(
        self,
        operation: Operation,
        token: str | None,
        handle: Callable[[], Awaitable[T]],
        *,
        transport: str,
        admit: bool = False,
    ) -> T:
        """A transport's entry for one request of `operation`: the key is checked before `handle` reads
        or parses anything, and a refusal raised before `handle` reaches `call` is counted and logged.
        `admit`: pass the request through `lifecycle.admit` first (gRPC; HTTP admits in its middleware,
        before the body is read, so an upload in progress at SIGTERM counts as in flight).
        `transport`: "http" or "grpc", a label of the request's metrics."""
        started = time.perf_counter()
        entered = _accounted.set(False)
        via = _transport.set(transport)
        try:
            async with self.lifecycle.admit() if admit else contextlib.nullcontext():
                self.auth.check(token, operation)
                return await handle()
        except LexsentError as exc:
            if not _accounted.get():
                self.refused(operation.name, transport, exc, started)
            raise
        except Exception as exc:  # a bug in a transport's conversion, before `call`: still one 500, logged
            error = _internal(operation)
            self.refused(operation.name, transport, error, started)
            raise error from exc
        finally:
            _transport.reset(via)
            _accounted.reset(entered)

    def refused(self, operation: str, transport: str, exc: LexsentError, started: float) -> None:
        """Count and log a request refused before `call` (also by the HTTP layer: size, drain, route)."""
        elapsed = time.perf_counter() - started
        asyncio.get_running_loop().call_soon(self._record, operation, transport, NO_MODEL, exc.type_name, elapsed)

    async def call(
        self, operation: Operation, token: str | None, work: Callable[[], Awaitable[T]], *, model: str = NO_MODEL
    ) -> T:
        """Run `work` as `operation` for the holder of `token`; every outcome is counted and logged once,
        labelled with `model` (the served model it uses; NO_MODEL for an operation that uses none).

        Admission (`lifecycle.admit`) is done earlier, by the transports as a request arrives, so a
        request whose body is still uploading when SIGTERM lands counts as in flight and completes.
        """
        start = time.perf_counter()
        status = "ok"
        _accounted.set(True)
        _found_model.set(None)
        try:
            self.auth.check(token, operation)
            self.metrics.in_flight.inc()
            try:
                async with self.lifecycle.deadline(self.settings.request_timeout):
                    return await work()
            except TimeoutError:
                if self.lifecycle.cut_off:
                    # A write already handed to a worker thread runs on, so it may have been applied.
                    # Not retryable then: clients must not repeat a create or delete that may have landed.
                    write = operation.access is Access.WRITE
                    outcome = "it may still have been applied" if write else "retry it"
                    raise UnavailableError(
                        f"the server shut down before {operation.name} finished (it had "
                        f"{self.settings.drain_timeout:g}s, --drain-timeout); {outcome}",
                        retryable=not write,
                    ) from None
                raise DeadlineExceededError(
                    f"{operation.name} took longer than the request timeout "
                    f"({self.settings.request_timeout:g}s, --request-timeout)"
                ) from None
            finally:
                self.metrics.in_flight.dec()
        except LexsentError as exc:
            status = exc.type_name
            raise
        except asyncio.CancelledError:  # the client went away (or the task was cancelled): not an "ok"
            status = "cancelled"
            raise
        except Exception as exc:
            status = "internal"
            raise _internal(operation) from exc
        finally:
            # Counted and logged on the loop's next turn: by then an HTTP route has written its response,
            # so this bookkeeping (about 0.2 ms at c=1, after inference has left the caches cold) stays
            # off the request's latency. The callback keeps this context, so the log line has its request id.
            elapsed = time.perf_counter() - start
            loop = asyncio.get_running_loop()
            used = _found_model.get() or model
            loop.call_soon(self._record, operation.name, _transport.get(), used, status, elapsed)

    @staticmethod
    def uses_model(name: str) -> None:
        """Label the running `call` with the served model its work turned out to use (a collection's model,
        known only once the collection is looked up), in place of the `model` it was called with; called
        by `EmbeddingsService.run`, the one way to a model."""
        _found_model.set(name)

    def _record(self, operation: str, transport: str, model: str, status: str, elapsed: float) -> None:
        metrics = self.metrics
        metrics.child(metrics.requests, operation, transport, model, status).inc()
        metrics.child(metrics.latency, operation, transport).observe(elapsed)
        fields = {"operation": operation, "transport": transport, "model": model, "status": status}
        log.info("%s %s", operation, status, extra={"fields": {**fields, "ms": round(elapsed * 1e3, 2)}})
