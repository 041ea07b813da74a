"""Collections over gRPC and through the Python client (both transports, sync and async), on a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from lexsent_client import AsyncClient, AsyncGrpcClient, Client, GrpcClient, LexsentClientError

from tests.server.harness import Running, running_server

RW, RO = "rw-key", "ro-key"


@pytest.fixture(scope="module")
def server(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data_dir = tmp_path_factory.mktemp("data")
    with running_server([tiny_bundle], api_key=RW, read_only_api_key=RO, data_dir=data_dir) as running:
        yield running


@pytest.fixture(params=["http", "grpc"])
def client(request: pytest.FixtureRequest, server: Running) -> Iterator[Client | GrpcClient]:
    if request.param == "http":
        opened: Client | GrpcClient = Client(server.http_url, api_key=RW)
    else:
        opened = GrpcClient(server.grpc_target, api_key=RW)
    with opened:
        yield opened


def test_round_trip(client: Client | GrpcClient) -> None:
    name = f"rt-{type(client).__name__.lower()}"
    info = client.create_collection(name, dim=8, index="hnsw", metric="ip")
    assert (info.name, info.dim, info.index, info.metric, info.count) == (name, 8, "hnsw", "ip", 0)
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((50, 8)).astype(np.float32)
    points = [
        {"id": i if i % 2 else f"s{i}", "vector": v.tolist(), "metadata": {"i": i, "even": i % 2 == 0}}
        for i, v in enumerate(vectors)
    ]
    assert client.upsert(name, points) == 50
    got = client.fetch(name, 3)
    assert got.id == 3 and got.metadata == {"i": 3, "even": False}
    assert np.asarray(got.vector, np.float32).tobytes() == vectors[3].tobytes()
    assert client.fetch(name, "s4", with_vector=False).vector is None
    hits = client.search(name, vector=vectors[7].tolist(), k=5, ef_search=200)
    assert hits[0].id == 7 and len(hits) == 5
    assert all(
        h.metadata is not None and h.metadata["even"]
        for h in client.search(name, vector=vectors[7].tolist(), k=5, filter={"even": True})
    )
    assert client.delete_points(name, [7, "nope"]) == 1
    assert client.get_collection(name).count == 49
    assert name in [c.name for c in client.list_collections()]
    client.delete_collection(name)
    with pytest.raises(LexsentClientError) as missing:
        client.get_collection(name)
    assert missing.value.status in (404, "NOT_FOUND")


@pytest.mark.parametrize("transport", ["http", "grpc"])
async def test_async_clients_match_the_sync_ones(transport: str, server: Running) -> None:
    """Same calls, same answers: the async twins share the sync clients' request builders."""
    name = f"async-{transport}"
    if transport == "http":
        sync: Client | GrpcClient = Client(server.http_url, api_key=RW)
        opened: AsyncClient | AsyncGrpcClient = AsyncClient(server.http_url, api_key=RW)
    else:
        sync, opened = GrpcClient(server.grpc_target, api_key=RW), AsyncGrpcClient(server.grpc_target, api_key=RW)
    texts = {"a": "hello world", "b": "bread and butter", "c": "the printer is out of paper"}
    async with opened as client:
        info = await client.create_collection(name, metric="cosine")
        assert (info.name, info.count, info.model) == (name, 0, "tiny-bert")
        points = [{"id": key, "text": text, "metadata": {"key": key}} for key, text in texts.items()]
        assert await client.upsert(name, points) == 3
        hits = await client.search(name, query="bread and butter", k=3)
        assert hits[0].id == "b" and hits[0].metadata == {"key": "b"}
        with sync:
            assert sync.search(name, query="bread and butter", k=3) == hits
            assert sync.fetch(name, "c") == await client.fetch(name, "c")
        assert (await client.fetch(name, "a", with_vector=False)).vector is None
        assert await client.delete_points(name, ["a", "zz"]) == 1
        assert (await client.get_collection(name)).count == 2
        assert name in [c.name for c in await client.list_collections()]
        await client.delete_collection(name)
        with pytest.raises(LexsentClientError) as missing:
            await client.fetch(name, "b")
        assert missing.value.status in (404, "NOT_FOUND")


def test_text_search_uses_the_bound_model(client: Client | GrpcClient) -> None:
    name = f"text-{type(client).__name__.lower()}"
    client.create_collection(name)
    client.upsert(name, [{"id": "a", "text": "hello world"}, {"id": "b", "text": "bread and butter"}])
    assert client.search(name, query="bread and butter", k=1)[0].id == "b"
    margin = client.search(name, query="bread and butter", k=2, scoring="margin")
    assert margin[0].id == "b"


@pytest.mark.parametrize(
    ("call", "http_status", "grpc_code"),
    [
        (lambda c: c.upsert("bad", [{"id": 1, "vector": [1.0, float("nan")]}]), 422, "INVALID_ARGUMENT"),
        (lambda c: c.upsert("bad", [{"id": 1, "vector": [1.0, 2.0, 3.0]}]), 422, "INVALID_ARGUMENT"),
        (lambda c: c.search("bad", vector=[1.0, 0.0], k=0), 422, "INVALID_ARGUMENT"),
        (lambda c: c.search("bad", vector=[1.0, 0.0], k=1_000_000), 422, "INVALID_ARGUMENT"),
        (lambda c: c.search("bad", vector=[1.0, 0.0], filter={"a": {"$near": 1}}), 422, "INVALID_ARGUMENT"),
        (lambda c: c.search("nope", vector=[1.0, 0.0]), 404, "NOT_FOUND"),
        (lambda c: c.create_collection("bad", dim=2), 409, "ALREADY_EXISTS"),
    ],
)
def test_errors_map_to_codes(client: Client | GrpcClient, call: object, http_status: int, grpc_code: str) -> None:
    if isinstance(client, Client) and "nan" in repr(call.__code__.co_consts):  # type: ignore[attr-defined]
        pytest.skip("httpx refuses to send NaN in JSON; tests/server/test_collections_http.py sends it raw")
    try:
        client.create_collection("bad", dim=2)
        client.upsert("bad", [{"id": "keep", "vector": [0.25, 0.5]}])
    except LexsentClientError:
        pass
    with pytest.raises(LexsentClientError) as caught:
        call(client)  # type: ignore[operator]
    assert caught.value.status == (http_status if isinstance(client, Client) else grpc_code)
    assert client.get_collection("bad").count == 1
    assert client.fetch("bad", "keep").vector == [0.25, 0.5]


def test_read_only_key_reads_but_cannot_write(server: Running) -> None:
    with GrpcClient(server.grpc_target, api_key=RW) as writer:
        writer.create_collection("ro", dim=2)
    with GrpcClient(server.grpc_target, api_key=RO) as reader:
        assert reader.get_collection("ro").count == 0
        assert reader.search("ro", vector=[1.0, 0.0]) == []
        with pytest.raises(LexsentClientError) as denied:
            reader.upsert("ro", [{"id": 1, "vector": [1.0, 0.0]}])
        assert denied.value.status == "PERMISSION_DENIED"
