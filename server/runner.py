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
import socket
from collections.abc import Iterator

import uvicorn

from lexsent.errors import InvalidInputError
from server.grpc.app import GrpcServer
from server.http.app import build_app
from server.http.protocol import head_deadline_protocol
from server.service import Service
from server.settings import option

log = logging.getLogger("lexsent.server")


class _Uvicorn(uvicorn.Server):
    """uvicorn without its own signal handlers: shutdown is driven by `Runner.shutdown`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _listen(host: str, port: int, transport: str) -> socket.socket:
    """A socket bound the way uvicorn binds one (IPv6 when the host has a colon); listening starts when
    the server takes it. A failure names the settings to change and the reason."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:  # socket.gaierror included: a host that does not resolve
        sock.close()
        raise InvalidInputError(
            f"cannot listen for {transport} on {host}:{port} "
            f"({option('host')}, {option(transport.lower() + '_port')}): {exc.strerror or exc}"
        ) from None
    return sock


class Runner:
    """Build inside the running event loop (grpc.aio binds to the loop it is created in)."""

    def __init__(self, service: Service) -> None:
        """Check the TLS files and bind both ports now, so a setting that cannot work is one error (the
        CLI prints it as one line) before anything serves."""
        self.service = service
        s = service.settings
        config = uvicorn.Config(
            build_app(service),
            host=s.host,
            port=s.http_port,
            loop="none",
            http=head_deadline_protocol(s.request_timeout),
            lifespan="off",
            log_config=None,
            access_log=False,
            # After our drain (which cuts off what is left when --drain-timeout ends), not a second one.
            timeout_graceful_shutdown=1,
            ssl_certfile=str(s.tls_cert) if s.tls_cert else None,
            ssl_keyfile=str(s.tls_key) if s.tls_key else None,
        )
        try:
            config.load()  # reads the TLS files; grpc would only say "Failed to bind" about bad ones
        except OSError as exc:  # ssl.SSLError included
            raise InvalidInputError(
                f"{option('tls_cert')} {s.tls_cert}, {option('tls_key')} {s.tls_key}: "
                f"not a readable PEM certificate and its private key: {exc}"
            ) from None
        self.http = _Uvicorn(config)
        # Our own socket rather than uvicorn's, which logs a bind failure and calls sys.exit.
        self._socket = _listen(s.host, s.http_port, "HTTP")
        self.http_port: int = self._socket.getsockname()[1]
        try:
            # grpc says only "Failed to bind" (and logs its reason as a second line): ask the OS first.
            _listen(s.host, s.grpc_port, "gRPC").close()
            self.grpc = GrpcServer(service)
        except BaseException:
            self._socket.close()
            raise
        self._stop = asyncio.Event()

    def request_shutdown(self) -> None:
        self._stop.set()

    async def serve(self) -> None:
        """Serve until `request_shutdown` (or a signal), then drain and stop."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not main thread
                loop.add_signal_handler(sig, self.request_shutdown)
        try:
            self.service.start()  # before either port listens: a failure here serves nothing
        except BaseException:
            self._socket.close()
            raise
        await self.grpc.start()
        http_task = asyncio.create_task(self.http.serve(sockets=[self._socket]))
        while not self.http.started:
            if http_task.done():
                await http_task  # re-raise what stopped it
                raise RuntimeError("HTTP server exited before it started")
            await asyncio.sleep(0.01)
        s = self.service.settings
        scheme = "https" if s.tls else "http"
        log.info(
            "serving %s on %s://%s:%d and gRPC on %s:%d",
            ", ".join(self.service.embeddings.models.names),
            scheme,
            s.host,
            self.http_port,
            s.host,
            self.grpc.port,
        )
        await self._stop.wait()
        await self.shutdown(http_task)

    async def shutdown(self, http_task: asyncio.Task[None]) -> None:
        lifecycle = self.service.core.lifecycle
        log.info("draining: %d requests in flight", lifecycle.in_flight)
        drain = asyncio.create_task(self.service.drain())
        # Counted when --drain-timeout expires: by the time the drain returns, the requests it cut off
        # have ended. This timer is due no later than the drain's own, and the drain's code after its
        # timeout runs as a later callback, so the count comes before the cut-off.
        left: list[int] = []
        timer = asyncio.get_running_loop().call_later(
            self.service.settings.drain_timeout, lambda: left.append(lifecycle.in_flight)
        )
        await asyncio.sleep(0)  # let the drain flip the state first
        await self.grpc.follow(lifecycle.state)
        finished = await drain
        timer.cancel()
        if not finished:
            log.warning("drain timeout: %d requests still in flight, cut off", left[0])
        self.http.should_exit = True
        await asyncio.gather(http_task, self.grpc.stop(grace=1.0))
        await asyncio.to_thread(self.service.stop)
        log.info("stopped")
