"""API keys: 401 without/with a wrong key, the read-only key reads but may not write, on both transports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from pydantic import SecretStr

from lexsent.errors import PermissionDeniedError, UnauthenticatedError
from server.auth import Access, Authenticator, Operation, bearer_token
from server.proto_gen import embeddings_pb2 as pb
from server.proto_gen import embeddings_pb2_grpc as pb_grpc
from tests.server.harness import Running, running_server

RW, RO = "rw-secret-key", "ro-secret-key"
WRITE = Operation("test.write", Access.WRITE)
READ = Operation("test.read", Access.READ)


@pytest.fixture(scope="module")
def guarded(tiny_bundle: Path) -> Iterator[Running]:
    with running_server([tiny_bundle], api_key=RW, read_only_api_key=RO) as running:
        yield running


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"authorization": "Bearer wrong"}, 401),
        ({"authorization": f"Basic {RW}"}, 401),
        ({"authorization": f"Bearer {RO}"}, 200),
        ({"authorization": f"Bearer {RW}"}, 200),
    ],
)
def test_http_keys(guarded: Running, headers: dict[str, str], status: int) -> None:
    response = httpx.post(f"{guarded.http_url}/v1/embeddings", json={"input": "a"}, headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response.json()["error"]["type"] == "unauthenticated"
    assert httpx.get(f"{guarded.http_url}/v1/models", headers=headers).status_code == status


def test_probes_stay_open(guarded: Running) -> None:
    for path in ("/health/live", "/health/ready", "/metrics", "/openapi.json"):
        assert httpx.get(f"{guarded.http_url}{path}").status_code == 200


def test_grpc_keys(guarded: Running) -> None:
    stub = pb_grpc.EmbeddingsStub(grpc.insecure_channel(guarded.grpc_target))
    request = pb.EmbedRequest(texts=pb.Texts(values=["a"]))
    with pytest.raises(grpc.RpcError) as info:
        stub.Embed(request)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as info:
        stub.Embed(request, metadata=(("authorization", "Bearer nope"),))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert stub.Embed(request, metadata=(("authorization", f"Bearer {RO}"),)).data


def test_read_only_key_may_not_write() -> None:
    auth = Authenticator(SecretStr(RW), SecretStr(RO))
    auth.check(RW, WRITE)
    auth.check(RO, READ)
    with pytest.raises(PermissionDeniedError, match=r"read-only .* test\.write"):
        auth.check(RO, WRITE)
    with pytest.raises(UnauthenticatedError):
        auth.check(None, READ)
    Authenticator(None, None).check(None, WRITE)  # no key configured: open


def test_bearer_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token(None) is None
