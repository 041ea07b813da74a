"""bench/loadgen against a real server: the lean clients must get exactly what the real clients get,
and must fail loudly on a refused call, or a benchmark built on them would count errors as answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest

from bench.loadgen import GrpcUnary, KeepAlive
from server.proto_gen import embeddings_pb2 as pb
from server.proto_gen import embeddings_pb2_grpc as pb_grpc
from tests.server.harness import Running, running_server

TEXTS = ["hello world", "the quick brown fox", "lexsent", "a somewhat longer input sentence for the model"]
EMBED = "/lexsent.v1.Embeddings/Embed"


@pytest.fixture(scope="module")
def server(tiny_bundle: Path) -> Iterator[Running]:
    with running_server([tiny_bundle]) as running:
        yield running


def reference(server: Running, texts: list[str]) -> np.ndarray:
    stub = pb_grpc.EmbeddingsStub(grpc.insecure_channel(server.grpc_target))
    return np.array([list(e.values) for e in stub.Embed(pb.EmbedRequest(texts=pb.Texts(values=texts))).data])


def test_grpc_unary_multiplexes_calls_with_the_real_clients_answers(server: Running) -> None:
    async def run() -> list[bytes]:
        connection = await GrpcUnary.open(server.grpc_target)
        try:
            requests = [pb.EmbedRequest(texts=pb.Texts(values=[t])).SerializeToString() for t in TEXTS * 8]
            return await asyncio.gather(*(connection.call(EMBED, r) for r in requests))
        finally:
            connection.close()

    answers = asyncio.run(run())
    got = np.array([list(pb.EmbedResponse.FromString(a).data[0].values) for a in answers])
    np.testing.assert_allclose(got, np.tile(reference(server, TEXTS), (8, 1)), atol=1e-6)


def test_grpc_unary_reports_a_refused_call_and_keeps_the_connection(server: Running) -> None:
    async def run() -> None:
        connection = await GrpcUnary.open(server.grpc_target)
        try:
            with pytest.raises(RuntimeError, match="without a single uncompressed response message"):
                await connection.embed(["a"], "no-such-model")  # NOT_FOUND: trailers only, no message
            await connection.embed(TEXTS, "tiny-bert")  # checks one embedding per input
        finally:
            connection.close()

    asyncio.run(run())


def test_grpc_unary_fails_pending_calls_when_the_connection_drops(server: Running) -> None:
    async def run() -> None:
        connection = await GrpcUnary.open(server.grpc_target)
        call = asyncio.ensure_future(connection.embed(TEXTS, "tiny-bert"))
        await asyncio.sleep(0)  # the request is written; the answer has not been read yet
        assert connection.transport is not None
        connection.transport.abort()
        with pytest.raises(RuntimeError, match="connection failed"):
            await call
        with pytest.raises(RuntimeError, match="connection failed"):
            await connection.embed(TEXTS, "tiny-bert")

    asyncio.run(run())


def test_keep_alive_posts_in_turn_and_refuses_non_200(server: Running) -> None:
    async def run() -> tuple[list[bytes], str]:
        connection = await KeepAlive.open(server.http_url)
        try:
            bodies = [json.dumps({"input": [t]}).encode() for t in TEXTS]
            answers = [await connection.post("/v1/embeddings", b) for b in bodies]
            with pytest.raises(RuntimeError, match="HTTP 404") as refused:
                await connection.post("/v1/embeddings", json.dumps({"input": "a", "model": "nope"}).encode())
            return answers, str(refused.value)
        finally:
            connection.close()

    answers, refused = asyncio.run(run())
    got = np.array([json.loads(a)["data"][0]["embedding"] for a in answers])
    np.testing.assert_allclose(got, reference(server, TEXTS), atol=1e-6)
    assert "nope" in refused


def test_grpc_unary_survives_a_cancelled_call(server: Running) -> None:
    async def run() -> None:
        connection = await GrpcUnary.open(server.grpc_target)
        try:
            call = asyncio.ensure_future(connection.embed(TEXTS, "tiny-bert"))
            await asyncio.sleep(0)  # written, not yet answered
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            await connection.embed(TEXTS, "tiny-bert")  # its late answer must not break the connection
            assert connection.failure is None
        finally:
            connection.close()

    asyncio.run(run())
