"""Run HTTP (uvicorn) and gRPC (grpc.aio) in one process and one event loop, with a graceful drain.

SIGTERM/SIGINT: readiness turns false (HTTP 503, gRPC health NOT_SERVING), new requests get
503/UNAVAILABLE while the listeners stay open, in-flight requests finish (up to --drain-timeout; any
still running then are cut off with 503/UNAVAILABLE, `Lifecycle.drain`), then both listeners close and
the batch workers stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator

import uvicorn

from server.grpc.app import GrpcServer
from server.http.app import build_app
from server.service import Service

log = logging.getLogger("lexsent.server")


class _Uvicorn(uvicorn.Server):
    """uvicorn without its own signal handlers: shutdown is driven by `Runner.shutdown`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Runner:
    """Build inside the running event loop (grpc.aio binds to the loop it is created in)."""

    def __init__(self, service: Service) -> None:
        self.service = service
        s = service.settings
        config = uvicorn.Config(
            build_app(service),
            host=s.host,
            port=s.http_port,
            loop="none",
            lifespan="off",
            log_config=None,
            access_log=False,
            # After our drain (which cuts off what is left when --drain-timeout ends), not a second one.
            timeout_graceful_shutdown=1,
            ssl_certfile=str(s.tls_cert) if s.tls_cert else None,
            ssl_keyfile=str(s.tls_key) if s.tls_key else None,
        )
        self.http = _Uvicorn(config)
        self.grpc = GrpcServer(service)
        self._stop = asyncio.Event()

    def request_shutdown(self) -> None:
        self._stop.set()

    async def serve(self) -> None:
        """Serve until `request_shutdown` (or a signal), then drain and stop."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not main thread
                loop.add_signal_handler(sig, self.request_shutdown)
        self.service.start()
        await self.grpc.start()
        http_task = asyncio.create_task(self.http.serve())
        while not self.http.started:
            if http_task.done():
                await http_task  # re-raise the bind error
                raise RuntimeError("HTTP server exited before it started")
            await asyncio.sleep(0.01)
        s = self.service.settings
        scheme = "https" if s.tls else "http"
        log.info(
            "serving %s on %s://%s:%d and gRPC on %s:%d",
            ", ".join(self.service.embeddings.models.names),
            scheme,
            s.host,
            s.http_port,
            s.host,
            self.grpc.port,
        )
        await self._stop.wait()
        await self.shutdown(http_task)

    async def shutdown(self, http_task: asyncio.Task[None]) -> None:
        log.info("draining: %d requests in flight", self.service.core.lifecycle.in_flight)
        drain = asyncio.create_task(self.service.drain())
        await asyncio.sleep(0)  # let the drain flip the state first
        await self.grpc.follow(self.service.core.lifecycle.state)
        finished = await drain
        if not finished:
            log.warning("drain timeout: %d requests still in flight", self.service.core.lifecycle.in_flight)
        self.http.should_exit = True
        await asyncio.gather(http_task, self.grpc.stop(grace=1.0))
        await asyncio.to_thread(self.service.stop)
        log.info("stopped")
