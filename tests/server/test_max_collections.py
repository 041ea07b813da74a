"""--max-collections on a real server: each open collection holds a file descriptor, so creates past the
limit are refused (HTTP 409 `limit_reached`, gRPC RESOURCE_EXHAUSTED, not retryable) before anything is
written, over both transports, and the collections found at a restart count."""

from __future__ import annotations

import logging
from pathlib import Path

import grpc
import httpx
import pytest
from lexsent_client import Client, GrpcClient, LexsentClientError

from server.proto_gen import collections_pb2 as cpb
from server.proto_gen import collections_pb2_grpc
from tests.server.harness import running_server

RW = "rw-key"
WRITE = {"authorization": f"Bearer {RW}"}
MESSAGE = (
    "collection 'third' was not created: 2 collections exist, and the limit is 2 "
    "(--max-collections / LEXSENT_MAX_COLLECTIONS); delete a collection, or restart the server with a higher limit"
)


def create(url: str, name: str) -> httpx.Response:
    return httpx.post(f"{url}/v1/collections", json={"name": name, "dim": 2}, headers=WRITE, timeout=30)


def stored(data_dir: Path) -> list[str]:
    root = data_dir / "collections"
    return sorted(p.name for p in root.iterdir() if p.name != ".lock")


def test_http_and_grpc_creates_stop_at_the_limit_and_a_restart_counts_the_stored_ones(
    tiny_bundle: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with running_server([tiny_bundle], api_key=RW, data_dir=tmp_path, max_collections=2) as server:
        assert create(server.http_url, "first").status_code == 200
        stub = collections_pb2_grpc.CollectionsStub(grpc.insecure_channel(server.grpc_target))
        stub.Create(cpb.CreateCollectionRequest(name="second", dim=2), metadata=(("authorization", f"Bearer {RW}"),))

        refused = create(server.http_url, "third")
        assert refused.status_code == 409
        assert refused.json() == {"error": {"type": "limit_reached", "message": MESSAGE}}

        with pytest.raises(grpc.RpcError) as caught:
            stub.Create(cpb.CreateCollectionRequest(name="third", dim=2), metadata=(("authorization", f"Bearer {RW}"),))
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and caught.value.details() == MESSAGE
        trailers = dict(caught.value.trailing_metadata())
        assert trailers["lexsent-error-type"] == "limit_reached" and "lexsent-retryable" not in trailers

        for client, status in [
            (Client(server.http_url, api_key=RW), 409),
            (GrpcClient(server.grpc_target, api_key=RW), "RESOURCE_EXHAUSTED"),
        ]:
            with client, pytest.raises(LexsentClientError) as failed:
                client.create_collection("third", dim=2)
            assert (failed.value.status, failed.value.type, failed.value.message) == (status, "limit_reached", MESSAGE)

        assert stored(tmp_path) == ["first", "second"]  # nothing of 'third', not even a temporary directory
        assert httpx.delete(f"{server.http_url}/v1/collections/first", headers=WRITE).status_code == 200
        assert create(server.http_url, "third").status_code == 200  # a deletion frees a place

    with running_server([tiny_bundle], api_key=RW, data_dir=tmp_path, max_collections=2) as server:
        refused = create(server.http_url, "fourth")
        assert (
            refused.status_code == 409
            and "2 collections exist, and the limit is 2" in refused.json()["error"]["message"]
        )

    with (
        caplog.at_level(logging.WARNING, logger="lexsent.server"),
        running_server([tiny_bundle], api_key=RW, data_dir=tmp_path, max_collections=1) as server,
    ):
        names = [c["name"] for c in httpx.get(f"{server.http_url}/v1/collections", headers=WRITE).json()["collections"]]
        assert names == ["second", "third"]  # more than the limit are stored: all still served
        assert create(server.http_url, "fourth").status_code == 409
    assert any(
        "2 collections are stored, more than --max-collections / LEXSENT_MAX_COLLECTIONS (1)" in r.getMessage()
        for r in caplog.records
    )

    with running_server([tiny_bundle], api_key=RW, data_dir=tmp_path, max_collections=3) as server:
        assert create(server.http_url, "fourth").status_code == 200
    assert stored(tmp_path) == ["fourth", "second", "third"]
