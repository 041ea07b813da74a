"""Which refusals the clients repeat: a draining server's retryable answer, never a cut-off write.

Fake servers stand in for the real one (whose cut-off answers tests/server/test_shutdown.py checks), so
each answer's markers are exact and the number of attempts the client makes can be counted."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import pytest
from lexsent_client import Client, GrpcClient, LexsentClientError, Retry

RETRY = Retry(attempts=4, base_delay=0.01, max_delay=0.01)


@contextmanager
def http_server(status: int, headers: dict[str, str]) -> Iterator[tuple[str, list[str]]]:
    calls: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            calls.append(self.path)
            body = b'{"error": {"type": "unavailable", "message": "the server shut down"}}'
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send_response(status)
            for key, value in {"content-type": "application/json", **headers}.items():
                self.send_header(key, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", calls
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("status", "headers", "attempts"),
    [
        (503, {}, 1),  # a write cut off at shutdown: may have been applied, so not repeated
        (503, {"retry-after": "0"}, 4),  # draining: a retry reaches the next server
        (429, {"retry-after": "0"}, 4),  # a full queue
    ],
)
def test_http_client_repeats_only_what_the_server_marks_retryable(
    status: int, headers: dict[str, str], attempts: int
) -> None:
    with (
        http_server(status, headers) as (url, calls),
        Client(url, retry=RETRY) as client,
        pytest.raises(LexsentClientError),
    ):
        client.create_collection("docs")
    assert calls == ["/v1/collections"] * attempts


@contextmanager
def grpc_server(trailer: tuple[tuple[str, str], ...]) -> Iterator[tuple[str, list[bytes]]]:
    calls: list[bytes] = []

    def embed(request: bytes, context: grpc.ServicerContext) -> bytes:
        calls.append(request)
        context.set_trailing_metadata(trailer)
        context.abort(grpc.StatusCode.UNAVAILABLE, "the server shut down")
        raise AssertionError("unreachable: abort raises")

    handler = grpc.method_handlers_generic_handler(
        "lexsent.v1.Embeddings", {"Embed": grpc.unary_unary_rpc_method_handler(embed)}
    )
    server = grpc.server(futures.ThreadPoolExecutor(2), handlers=(handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", calls
    finally:
        server.stop(None)


@pytest.mark.parametrize(
    ("trailer", "attempts"),
    [
        ((("lexsent-error-type", "unavailable"),), 1),  # the server's own answer, not marked retryable
        ((("lexsent-error-type", "unavailable"), ("lexsent-retryable", "1")), 4),
        ((), 4),  # no lexsent trailers: a proxy or a connection failure, before any server code ran
    ],
)
def test_grpc_client_repeats_only_what_the_server_marks_retryable(
    trailer: tuple[tuple[str, str], ...], attempts: int
) -> None:
    with (
        grpc_server(trailer) as (target, calls),
        GrpcClient(target, retry=RETRY) as client,
        pytest.raises(LexsentClientError),
    ):
        client.embed("hello")
    assert len(calls) == attempts


def test_grpc_client_waits_what_the_retryable_trailer_asks() -> None:
    trailer = (("lexsent-error-type", "overloaded"), ("lexsent-retryable", "1"))
    retry = Retry(attempts=2, base_delay=0.01, max_delay=5.0)
    with grpc_server(trailer) as (target, calls), GrpcClient(target, retry=retry) as client:
        started = time.monotonic()
        with pytest.raises(LexsentClientError):
            client.embed("hello")
        elapsed = time.monotonic() - started
    assert len(calls) == 2 and 1.0 <= elapsed < 3.0  # one pause of the trailer's 1 s, not the 0.01 s jitter
