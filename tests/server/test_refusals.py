"""Requests refused before their service call — a bad key, body or schema, an over-size body, an
unknown route or method — are refused in that order (the key first, before the body is parsed), in the
API's error shape, and counted and logged like every other request, on both transports."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import grpc
import httpx
import pytest

from server.proto_gen import embeddings_pb2 as pb
from server.proto_gen import embeddings_pb2_grpc as pb_grpc
from tests.server.harness import Running, eventually, running_server

RW, RO = "rw-refusal-key", "ro-refusal-key"
AS_RW = {"authorization": f"Bearer {RW}"}
JSON = {"content-type": "application/json"}
AS_RO = {"authorization": f"Bearer {RO}"}


@pytest.fixture(scope="module")
def guarded(tiny_bundle: Path) -> Iterator[Running]:
    with running_server([tiny_bundle], api_key=RW, read_only_api_key=RO, max_body_bytes=2000) as running:
        yield running


def count(running: Running, operation: str, transport: str, status: str) -> float:
    labels = {"operation": operation, "transport": transport, "model": "", "status": status}
    return running.service.core.metrics.registry.get_sample_value("lexsent_requests_total", labels) or 0.0


def counted_once(running: Running, operation: str, transport: str, status: str, before: float) -> bool:
    """Bookkeeping runs on the server loop's next turn, after the response: wait for it briefly."""
    eventually(lambda: count(running, operation, transport, status) >= before + 1)
    return count(running, operation, transport, status) == before + 1


def test_the_key_is_checked_before_the_body(guarded: Running) -> None:
    url = f"{guarded.http_url}/v1/embeddings"
    for body in ({"content": b"not json"}, {"json": {"input": 5}}):
        refused = httpx.post(url, **body)  # type: ignore[arg-type]
        assert refused.status_code == 401 and refused.json()["error"]["type"] == "unauthenticated"
    assert httpx.post(url, content=b"not json", headers={**AS_RW, **JSON}).status_code == 400
    assert httpx.post(url, json={"input": 5}, headers=AS_RW).status_code == 422
    # A read-only key's bad write is refused for the key (403), not for its body (422).
    refused = httpx.post(f"{guarded.http_url}/v1/collections", json={"name": 5}, headers=AS_RO)
    assert refused.status_code == 403 and refused.json()["error"]["type"] == "permission_denied"

    stub = pb_grpc.EmbeddingsStub(grpc.insecure_channel(guarded.grpc_target))
    empty = pb.EmbedRequest(token_ids=pb.TokenIdsList())
    with pytest.raises(grpc.RpcError) as info:
        stub.Embed(empty)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as info:
        stub.Embed(empty, metadata=(("authorization", f"Bearer {RO}"),))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "token_ids is empty" in info.value.details()


def test_routing_errors_have_the_api_shape(guarded: Running) -> None:
    missing = httpx.get(f"{guarded.http_url}/v1/nope")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found"
    assert "/openapi.json" in missing.json()["error"]["message"]
    wrong = httpx.get(f"{guarded.http_url}/v1/embeddings", headers=AS_RW)
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert wrong.json()["error"] == {
        "type": "method_not_allowed",
        "message": "GET /v1/embeddings is not allowed; allowed: POST",
    }
    assert missing.headers["x-request-id"] and wrong.headers["x-request-id"]
    # Two routes share /v1/collections (GET lists, POST creates): Allow names both.
    both = httpx.delete(f"{guarded.http_url}/v1/collections", headers=AS_RW)
    assert both.status_code == 405 and both.headers["allow"] == "GET, HEAD, POST"


def test_refusals_are_counted_and_logged(guarded: Running, caplog: pytest.LogCaptureFixture) -> None:
    url = f"{guarded.http_url}/v1/embeddings"
    stub = pb_grpc.EmbeddingsStub(grpc.insecure_channel(guarded.grpc_target))
    cases = [
        ("embeddings.embed", "http", "unauthenticated", lambda: httpx.post(url, json={"input": "a"})),
        ("embeddings.embed", "http", "bad_request", lambda: httpx.post(url, content=b"{", headers={**AS_RW, **JSON})),
        ("embeddings.embed", "http", "invalid_input", lambda: httpx.post(url, json={"input": 5}, headers=AS_RW)),
        ("http", "http", "payload_too_large", lambda: httpx.post(url, content=b"x" * 3000, headers=AS_RW)),
        ("http", "http", "not_found", lambda: httpx.get(f"{guarded.http_url}/v1/nope")),
        ("http", "http", "method_not_allowed", lambda: httpx.delete(url)),
    ]

    def bad_policy() -> None:
        request = pb.EmbedRequest(texts=pb.Texts(values=["a"]), long_input=7)  # type: ignore[arg-type]
        with pytest.raises(grpc.RpcError) as info:
            stub.Embed(request, metadata=(("authorization", f"Bearer {RW}"),))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "long_input=7" in info.value.details()

    cases.append(("embeddings.embed", "grpc", "invalid_input", bad_policy))
    with caplog.at_level(logging.INFO, logger="lexsent.server"):
        for operation, transport, status, send in cases:
            before = count(guarded, operation, transport, status)
            send()
            assert counted_once(guarded, operation, transport, status, before), (operation, transport, status)
        # The server thread counts a request, then logs it: the last record may still be on its way.
        for operation, transport, status, _ in cases:
            expected = {"operation": operation, "transport": transport, "status": status}
            assert eventually(partial(logged_with, caplog, expected)), expected


def logged_with(caplog: pytest.LogCaptureFixture, expected: dict[str, str]) -> bool:
    logged = [getattr(r, "fields", {}) for r in list(caplog.records) if r.name == "lexsent.server"]
    return any(expected.items() <= f.items() for f in logged)
