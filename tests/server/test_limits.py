"""Limits answer fast and precisely: 413 before buffering, 422 over the batch cap, 429 when the queue
is full, 504 past the request timeout (408 for a body that stops arriving) — on both transports."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from lexsent.tokenizer import TextTokenizer, Tokenized
from server.proto_gen import embeddings_pb2 as pb
from server.proto_gen import embeddings_pb2_grpc as pb_grpc
from tests.server.harness import Gate, Running, eventually, read_response, running_server


@pytest.fixture(scope="module")
def limited(tiny_bundle: Path) -> Iterator[Running]:
    # One batch worker: a gated batch holds it, so the next request waits in the queue.
    with running_server(
        [tiny_bundle], max_body_bytes=2000, max_client_batch=4, max_queue=4, request_timeout=3.0, batch_workers=1
    ) as running:
        yield running


def embed_url(running: Running) -> str:
    return f"{running.http_url}/v1/embeddings"


def test_body_limit_refused_from_header_and_while_streaming(limited: Running) -> None:
    big = b'{"input": "' + b"a" * 3000 + b'"}'
    declared = httpx.post(embed_url(limited), content=big)
    assert declared.status_code == 413 and "2000-byte limit" in declared.json()["error"]["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        yield b'{"input": "'
        for _ in range(10):
            yield b"a" * 500
        yield b'"}'

    streamed = httpx.post(embed_url(limited), content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    with pytest.raises(grpc.RpcError) as info:
        stub = pb_grpc.EmbeddingsStub(grpc.insecure_channel(limited.grpc_target))
        stub.Embed(pb.EmbedRequest(texts=pb.Texts(values=["a" * 3000])))
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_client_batch_cap_names_the_cap(limited: Running) -> None:
    response = httpx.post(embed_url(limited), json={"input": ["a"] * 5})
    assert response.status_code == 422 and "retry-after" not in response.headers  # no retry cures it
    assert "at most 4" in response.json()["error"]["message"]
    assert httpx.post(embed_url(limited), json={"input": ["a"] * 4}).status_code == 200


def test_full_queue_answers_429_at_once_and_queued_work_completes(
    limited: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {"input": ["one", "two", "three", "four"]}
    tokenised: list[int] = []
    tokenize = TextTokenizer.__call__

    def counting(self: TextTokenizer, texts: Sequence[object], *args: Any, **kwargs: Any) -> list[Tokenized]:
        tokenised.append(len(texts))
        return tokenize(self, texts, *args, **kwargs)

    monkeypatch.setattr(TextTokenizer, "__call__", counting)
    stub = pb_grpc.EmbeddingsStub(grpc.insecure_channel(limited.grpc_target))
    with Gate(limited, "tiny-bert") as gate, ThreadPoolExecutor(2) as pool:
        running = pool.submit(httpx.post, embed_url(limited), json=body, timeout=10)
        assert gate.entered.wait(5)  # the worker holds batch A; the queue is empty again
        queued = pool.submit(httpx.post, embed_url(limited), json=body, timeout=10)
        eventually(lambda: gate.batcher._queued >= 4)
        start = time.monotonic()
        refused = httpx.post(embed_url(limited), json=body)
        assert refused.status_code == 429 and time.monotonic() - start < 0.5
        assert "limit 4" in refused.json()["error"]["message"]
        assert refused.headers["retry-after"] == "1"  # what the OpenAI SDK waits before it retries
        with pytest.raises(grpc.RpcError) as info:
            stub.Embed(pb.EmbedRequest(texts=pb.Texts(values=body["input"])))
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert ("lexsent-retryable", "1") in info.value.trailing_metadata()  # a full queue: worth a retry
        assert tokenised == [4, 4]  # the refused requests were not tokenised
        gate.release.set()
        assert running.result().status_code == 200 and queued.result().status_code == 200


def test_request_timeout_gives_504_and_server_recovers(limited: Running) -> None:
    with Gate(limited, "tiny-bert") as gate:
        response = httpx.post(embed_url(limited), json={"input": "slow"}, timeout=10)
        assert response.status_code == 504 and "request timeout" in response.json()["error"]["message"]
        gate.release.set()
    assert httpx.post(embed_url(limited), json={"input": "fast"}).status_code == 200


def test_a_stalled_upload_gets_408_after_the_request_timeout(limited: Running) -> None:
    """A body that stops arriving (slowloris) does not hold its connection beyond --request-timeout."""
    head = "POST /v1/embeddings HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 100"
    with socket.create_connection(("127.0.0.1", limited.settings.http_port), timeout=10) as sock:
        start = time.monotonic()
        sock.sendall(f"{head}\r\n\r\n".encode() + b'{"input": "stal')
        reply = read_response(sock)
    assert reply.startswith("HTTP/1.1 408") and 2.5 < time.monotonic() - start < 6
    assert "did not arrive within 3s" in reply and "15 bytes were received" in reply
    assert httpx.post(embed_url(limited), json={"input": "after"}).status_code == 200


def _trickle_until_answered(sock: socket.socket, first: bytes) -> tuple[str, float]:
    """Send `first`, then one header line every 0.5 s until the server answers; the answer and its delay."""
    start = time.monotonic()
    sock.sendall(first)
    sock.settimeout(0.5)
    while time.monotonic() - start < 10:
        try:
            return sock.recv(4096).decode(), time.monotonic() - start
        except TimeoutError:
            sock.sendall(b"x-slow: 1\r\n")
    raise AssertionError("the server never answered a request head trickled for 10 s")


def test_a_trickled_request_head_gets_408_and_the_connection_closes(limited: Running) -> None:
    """Header lines that keep arriving, but never end, do not hold the connection past --request-timeout."""
    with socket.create_connection(("127.0.0.1", limited.settings.http_port), timeout=10) as sock:
        reply, waited = _trickle_until_answered(sock, b"POST /v1/embeddings HTTP/1.1\r\nhost: localhost\r\n")
        assert reply.startswith("HTTP/1.1 408") and 2.5 < waited < 6
        assert "request headers did not arrive within 3s" in reply and "connection: close" in reply
        sock.settimeout(5)
        assert sock.recv(4096) == b""  # closed by the server
    assert httpx.post(embed_url(limited), json={"input": "after"}).status_code == 200


def test_a_connection_that_sends_nothing_is_closed_after_the_request_timeout(limited: Running) -> None:
    with socket.create_connection(("127.0.0.1", limited.settings.http_port), timeout=10) as sock:
        start = time.monotonic()
        reply = read_response(sock)
        assert reply.startswith("HTTP/1.1 408") and 2.5 < time.monotonic() - start < 6
        assert sock.recv(4096) == b""


def test_the_next_request_on_a_keep_alive_connection_has_its_own_head_deadline(limited: Running) -> None:
    """The deadline restarts with each request's first byte: a connection open longer than the timeout
    still serves, and a late head on it still gets 408."""
    get = b"GET /health/live HTTP/1.1\r\nhost: localhost\r\n\r\n"
    with socket.create_connection(("127.0.0.1", limited.settings.http_port), timeout=10) as sock:
        for _ in range(3):  # 4.5 s of requests on one connection, each well inside its own deadline
            sock.sendall(get)
            reply = b""
            while not reply.endswith(b'{"status":"live"}'):
                reply += sock.recv(4096)
            assert reply.startswith(b"HTTP/1.1 200")
            time.sleep(1.5)
        reply, waited = _trickle_until_answered(sock, b"GET /health/live HTTP/1.1\r\n")
        assert reply.startswith("HTTP/1.1 408") and 2.5 < waited < 6


async def test_64_concurrent_requests_match_single_requests(tiny_server: Running) -> None:
    texts = [f"request number {i} " + "word " * (i % 13) for i in range(64)]
    url = embed_url(tiny_server)
    async with httpx.AsyncClient(timeout=30) as client:
        singles = [(await client.post(url, json={"input": t})).json()["data"][0]["embedding"] for t in texts]
        registry = tiny_server.service.core.metrics.registry
        batches_before = registry.get_sample_value("lexsent_batch_inputs_count", {"model": "tiny-bert"}) or 0
        responses = await asyncio.gather(*(client.post(url, json={"input": t}) for t in texts))
    batches = registry.get_sample_value("lexsent_batch_inputs_count", {"model": "tiny-bert"}) - batches_before
    assert all(r.status_code == 200 for r in responses)
    together = [r.json()["data"][0]["embedding"] for r in responses]
    assert batches < 64  # requests really were batched together
    for single, batched in zip(singles, together, strict=True):
        assert max(abs(a - b) for a, b in zip(single, batched, strict=True)) < 1e-6


def test_a_large_request_whose_client_leaves_is_cancelled(tiny_server: Running) -> None:
    """The batch of a client that hung up is not computed to the end, and the request counts as cancelled."""
    registry = tiny_server.service.core.metrics.registry
    labels = {"operation": "embeddings.embed", "transport": "http", "model": "tiny-bert", "status": "cancelled"}
    before = registry.get_sample_value("lexsent_requests_total", labels) or 0.0
    body = json.dumps({"input": [f"input number {i}" for i in range(40)]}).encode()
    head = (
        "POST /v1/embeddings HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}"
    )
    with Gate(tiny_server, "tiny-bert") as gate:
        with socket.create_connection(("127.0.0.1", tiny_server.settings.http_port)) as sock:
            sock.sendall(f"{head}\r\n\r\n".encode() + body)
            assert gate.entered.wait(5)  # the batch is in the worker
        # the client has gone: cancelled while the batch is still held
        assert eventually(lambda: registry.get_sample_value("lexsent_requests_total", labels) == before + 1)
        assert tiny_server.service.core.lifecycle.in_flight == 0
    assert (
        httpx.post(f"{tiny_server.http_url}/v1/embeddings", json={"input": ["still serving"] * 40}).status_code == 200
    )


def test_a_huge_single_input_does_not_stall_the_event_loop(tiny_server: Running) -> None:
    """`Tokenizer.encode` holds the GIL for the whole text, so tokenising one 1 MB input in a worker
    thread still froze every other request (health probes too) for seconds; `encode_batch` releases it."""
    text = "antidisestablishmentarianism " * 36_000  # about 1 MB, one input
    with httpx.Client(timeout=60) as client, ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        big = pool.submit(client.post, embed_url(tiny_server), json={"input": text})
        probes: list[float] = []
        while not big.done():
            sent = time.monotonic()
            assert client.get(f"{tiny_server.http_url}/health/live").status_code == 200
            probes.append(time.monotonic() - sent)
        took = time.monotonic() - started
        assert big.result().status_code == 200
    assert took > 0.3 and max(probes) < took / 3, (took, max(probes), len(probes))
