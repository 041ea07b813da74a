"""A real lexsent server (uvicorn + grpc.aio) on free loopback ports, run in a background thread.

In-process so tests can look at the service (metrics, queue) and slow a model down on purpose; the
SIGTERM test uses a real `lexsent serve` subprocess instead.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from server.launch import free_port
from server.models import ModelRegistry
from server.runner import Runner
from server.service import Service
from server.settings import ServerSettings


@dataclass
class Running:
    service: Service
    runner: Runner
    loop: asyncio.AbstractEventLoop
    settings: ServerSettings

    @property
    def http_url(self) -> str:
        scheme = "https" if self.settings.tls else "http"
        return f"{scheme}://127.0.0.1:{self.settings.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.settings.grpc_port}"


@contextmanager
def running_server(models: list[Path], **options: Any) -> Iterator[Running]:
    with tempfile.TemporaryDirectory(prefix="lexsent-test-") as scratch:
        options.setdefault("data_dir", Path(scratch))  # collections lock their directory: one per server
        with _serve(models, options) as running:
            yield running


@contextmanager
def _serve(models: list[Path], options: dict[str, Any]) -> Iterator[Running]:
    settings = ServerSettings(
        model=models, http_port=free_port(), grpc_port=free_port(), threads=2, drain_timeout=5, **options
    )
    registry = ModelRegistry.load(
        settings.model, threads=2, max_run_tokens=settings.max_run_tokens, long_input=settings.long_input
    )
    service = Service(settings, registry)
    loop = asyncio.new_event_loop()
    box: dict[str, Any] = {}

    async def main() -> None:
        box["runner"] = Runner(service)
        await box["runner"].serve()

    def target() -> None:
        try:
            loop.run_until_complete(main())
        except BaseException as exc:  # surfaced to the test below
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while True:
        if "error" in box:
            raise box["error"]
        try:
            scheme = "https" if settings.tls else "http"
            url = f"{scheme}://127.0.0.1:{settings.http_port}/health/ready"
            if httpx.get(url, verify=False).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("server did not become ready in 30 s")
        time.sleep(0.05)
    try:
        yield Running(service, box["runner"], loop, settings)
    finally:
        loop.call_soon_threadsafe(box["runner"].request_shutdown)
        thread.join(timeout=30)


class Gate:
    """Stands in front of a model's `Encoder.run` so a test can hold batches (queue fills up) on purpose."""

    def __init__(self, running: Running, model: str) -> None:
        self.batcher = running.service.embeddings.batchers[model]
        self.encoder = self.batcher.encoder
        self.entered = threading.Event()
        self.release = threading.Event()

    def run(self, items: Any, abandoned: Any = None) -> Any:
        self.entered.set()
        self.release.wait(timeout=30)
        return self.encoder.run(items, abandoned)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.encoder, name)

    def __enter__(self) -> Gate:
        self.batcher.encoder = self  # type: ignore[assignment]
        return self

    def __exit__(self, *_: object) -> None:
        self.release.set()
        self.batcher.encoder = self.encoder


def read_response(sock: socket.socket) -> str:
    """One whole HTTP/1.1 response from a raw socket: the head and `content-length` bytes of body, which
    may arrive in separate segments (one `recv` can return the head alone)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data.decode()
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        0,
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return (head + b"\r\n\r\n" + body).decode()


def eventually(check: Callable[[], bool], seconds: float = 5) -> bool:
    """Poll `check` for up to `seconds`; its last answer. For what the server does on its loop's next
    turn after a reply (metrics, the log line), which a client can see only some time after its answer."""
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        time.sleep(0.01)
    return check()


async def eventually_async(check: Callable[[], bool], seconds: float = 5) -> bool:
    """`eventually` for a test running on an event loop, which must keep turning while it polls."""
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return check()
