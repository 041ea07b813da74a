"""Collections over gRPC and through the Python client (both transports, sync and async), on a real server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from lexsent_client import AsyncClient, AsyncGrpcClient, Client, GrpcClient, LexsentClientError, Retry

import server.grpc.collections as grpc_collections
from server.launch import free_port
from server.proto_gen import collections_pb2 as cpb
from server.proto_gen import collections_pb2_grpc, mining_pb2_grpc
from server.proto_gen import mining_pb2 as mpb
from tests.server.harness import Running, eventually, running_server

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


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.search("typed", query="hello", vector=[1.0, 0.0]),
        lambda c: c.upsert("typed", [{"id": "both", "text": "hello", "vector": [1.0, 0.0]}]),
        lambda c: c.search("typed", vector=[1.0, 0.0], nprobe=0),
        lambda c: c.search("typed", vector=[1.0, 0.0], scoring="best"),
        lambda c: c.create_collection("typed-2", dim=2, index="pq"),
    ],
)
def test_what_grpc_cannot_express_is_refused_as_http_refuses_it(client: Client | GrpcClient, call: object) -> None:
    """A proto oneof keeps only its last field and 0 means "unset", so the gRPC client refuses locally
    what the HTTP server answers with 422: the caller sees the same error type either way."""
    with contextlib.suppress(LexsentClientError):  # made by the first case
        client.create_collection("typed", dim=2)
    with pytest.raises(LexsentClientError) as refused:
        call(client)  # type: ignore[operator]
    assert refused.value.type == "invalid_input"
    assert client.get_collection("typed").count == 0
    with pytest.raises(LexsentClientError) as missing:
        client.get_collection("typed-2")
    assert missing.value.type == "not_found"  # the server's type over gRPC too, not the code's name


def test_unknown_enum_numbers_and_bad_json_are_invalid_arguments(server: Running) -> None:
    channel = grpc.insecure_channel(server.grpc_target)
    stub = collections_pb2_grpc.CollectionsStub(channel)
    metadata = (("authorization", f"Bearer {RW}"),)
    deep = "[" * 100_000 + "]" * 100_000
    for call, fragment in [
        (lambda: stub.Create(cpb.CreateCollectionRequest(name="enum", dim=2, index=9), metadata=metadata), "index=9"),
        (lambda: stub.Search(cpb.SearchRequest(collection="x", scoring=5), metadata=metadata), "scoring=5"),
        (
            lambda: stub.Search(cpb.SearchRequest(collection="x", filter_json=deep), metadata=metadata),
            "filter_json is not valid JSON",
        ),
        (
            lambda: mining_pb2_grpc.MiningStub(channel).Mine(
                mpb.MineRequest(source=["a"], target=["b"], strategy=9), metadata=metadata
            ),
            "strategy=9",
        ),
    ]:
        with pytest.raises(grpc.RpcError) as info:
            call()
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and fragment in info.value.details()
        assert ("lexsent-error-type", "invalid_input") in info.value.trailing_metadata()
    with pytest.raises(grpc.RpcError) as info:
        stub.Get(cpb.GetCollectionRequest(name="n" * 20_000), metadata=metadata)
    assert info.value.code() != grpc.StatusCode.RESOURCE_EXHAUSTED  # the real status, not a lost one
    assert len(info.value.details().encode()) < 2200 and "more characters" in info.value.details()


def test_a_conversion_bug_is_one_logged_internal_error(server: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(message: object) -> object:
        raise RuntimeError("conversion bug")

    monkeypatch.setattr(grpc_collections, "to_search", broken)
    labels = {"operation": "collections.search", "transport": "grpc", "model": "", "status": "internal"}
    registry = server.service.core.metrics.registry
    before = registry.get_sample_value("lexsent_requests_total", labels) or 0.0
    with GrpcClient(server.grpc_target, api_key=RW) as client, pytest.raises(LexsentClientError) as info:
        client.search("anything", vector=[1.0])
    assert info.value.status == "INTERNAL" and "request id" in info.value.message
    assert eventually(lambda: registry.get_sample_value("lexsent_requests_total", labels) == before + 1)


def test_dot_ids_are_fetched_over_http(server: Running) -> None:
    with Client(server.http_url, api_key=RW) as client:
        client.create_collection("dots", dim=2)
        client.upsert("dots", [{"id": ".", "vector": [1.0, 0.0]}, {"id": "..", "vector": [0.0, 1.0]}])
        assert client.fetch("dots", ".").vector == [1.0, 0.0]
        assert client.fetch("dots", "..").vector == [0.0, 1.0]


def test_grpc_answers_over_4_mib_are_received(server: Running) -> None:
    blob = "x" * 65_000  # under the 64 KiB metadata limit
    with GrpcClient(server.grpc_target, api_key=RW) as client:
        client.create_collection("big", dim=2)
        for start in range(0, 70, 10):
            points = [{"id": i, "vector": [1.0, i / 70], "metadata": {"blob": blob}} for i in range(start, start + 10)]
            client.upsert("big", points)
        hits = client.search("big", vector=[1.0, 0.5], k=70)  # about 4.6 MB of metadata in one answer
    assert len(hits) == 70 and all(h.metadata == {"blob": blob} for h in hits)


def test_async_grpc_client_made_outside_a_loop_works_inside_one(server: Running) -> None:
    client = AsyncGrpcClient(server.grpc_target, api_key=RW)  # no event loop is running here

    async def use() -> int:
        async with client:
            return len(await client.list_collections())

    assert asyncio.run(use()) >= 0
    assert asyncio.run(use()) >= 0  # and again in a second loop, after close


def test_an_unreachable_server_is_a_transport_error() -> None:
    with (
        GrpcClient(f"127.0.0.1:{free_port()}", retry=Retry(attempts=1), timeout=5) as client,
        pytest.raises(LexsentClientError) as info,
    ):
        client.models()
    assert info.value.type == "unavailable" and isinstance(info.value.__cause__, grpc.RpcError)
