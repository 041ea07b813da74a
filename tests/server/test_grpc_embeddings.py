"""`lexsent.v1.Embeddings` over a real gRPC channel: parity with HTTP and the encoder, codes, health."""

from __future__ import annotations

from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

import lexsent
from server.proto_gen import embeddings_pb2 as pb
from server.proto_gen import embeddings_pb2_grpc as pb_grpc
from tests.server.harness import Running, eventually

TEXTS = ["hello world", "the quick brown fox", "lexsent"]
ONE = pb.Texts(values=["a"])


@pytest.fixture
def stub(tiny_server: Running) -> pb_grpc.EmbeddingsStub:
    return pb_grpc.EmbeddingsStub(grpc.insecure_channel(tiny_server.grpc_target))


def test_embed_matches_encoder(stub: pb_grpc.EmbeddingsStub, tiny_bundle: Path, tiny_server: Running) -> None:
    registry = tiny_server.service.core.metrics.registry
    labels = {"operation": "embeddings.embed", "transport": "grpc", "model": "tiny-bert", "status": "ok"}
    before = registry.get_sample_value("lexsent_requests_total", labels) or 0.0
    encoder = lexsent.load(tiny_bundle, threads=1)
    response, call = stub.Embed.with_call(
        pb.EmbedRequest(texts=pb.Texts(values=TEXTS)), metadata=(("x-request-id", "grpc-7"),)
    )
    vectors = np.array([list(e.values) for e in response.data], dtype=np.float32)
    np.testing.assert_allclose(vectors, encoder.encode(TEXTS), atol=1e-6)
    assert response.model == "tiny-bert"
    assert [e.tokens for e in response.data] == [len(t) for t in encoder.tokenize(TEXTS)]
    assert response.usage.prompt_tokens == sum(e.tokens for e in response.data)
    assert ("x-request-id", "grpc-7") in tuple(call.trailing_metadata())  # echoed where the error type goes
    # counted on the server loop's next turn, after the reply
    assert eventually(lambda: registry.get_sample_value("lexsent_requests_total", labels) == before + 1)

    ids = [t.ids for t in encoder.tokenize(TEXTS[:1])]
    by_ids = stub.Embed(pb.EmbedRequest(token_ids=pb.TokenIdsList(values=[pb.TokenIds(ids=i) for i in ids])))
    np.testing.assert_allclose(list(by_ids.data[0].values), vectors[0], atol=1e-6)
    short = stub.Embed(pb.EmbedRequest(texts=pb.Texts(values=TEXTS[:1]), dimensions=4)).data[0].values
    np.testing.assert_allclose(short, vectors[0, :4] / np.linalg.norm(vectors[0, :4]), atol=1e-6)


@pytest.mark.parametrize(
    ("request_", "code", "fragment"),
    [
        (pb.EmbedRequest(), grpc.StatusCode.INVALID_ARGUMENT, "empty"),
        (
            pb.EmbedRequest(texts=pb.Texts(values=["a"]), model="nope"),
            grpc.StatusCode.NOT_FOUND,
            "not served",
        ),
        (
            pb.EmbedRequest(texts=pb.Texts(values=["a"]), dimensions=10_000),
            grpc.StatusCode.INVALID_ARGUMENT,
            "exceeds",
        ),
        (
            pb.EmbedRequest(texts=pb.Texts(values=["word " * 5000]), long_input=pb.LONG_INPUT_POLICY_ERROR),
            grpc.StatusCode.INVALID_ARGUMENT,
            "max_length",
        ),
    ],
)
def test_errors_map_to_codes(
    stub: pb_grpc.EmbeddingsStub, request_: pb.EmbedRequest, code: grpc.StatusCode, fragment: str
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        stub.Embed(request_, metadata=(("x-request-id", "bad-1"),))
    assert info.value.code() == code and fragment in info.value.details()
    assert ("x-request-id", "bad-1") in tuple(info.value.trailing_metadata())


def test_list_models_health_and_reflection(
    stub: pb_grpc.EmbeddingsStub, tiny_server: Running, tiny_bundle: Path
) -> None:
    models = stub.ListModels(pb.ListModelsRequest()).models
    assert [(m.name, m.is_default, m.dim) for m in models] == [("tiny-bert", True, models[0].dim)]
    manifest = lexsent.Bundle.open(tiny_bundle).manifest
    assert models[0].parity.max_abs_diff == manifest.parity.max_abs_diff and models[0].parity.reference == "torch"
    assert models[0].architecture == "bert" and dict(models[0].evaluation) == manifest.evaluation
    channel = grpc.insecure_channel(tiny_server.grpc_target)
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "lexsent.v1.Embeddings"):
        status = health.Check(health_pb2.HealthCheckRequest(service=service)).status
        assert status == health_pb2.HealthCheckResponse.SERVING
    reflect = reflection_pb2_grpc.ServerReflectionStub(channel)
    answer = next(reflect.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
    names = {s.name for s in answer.list_services_response.service}
    assert {"lexsent.v1.Embeddings", "grpc.health.v1.Health"} <= names


def invalid_input_count(running: Running) -> float:
    registry = running.service.core.metrics.registry
    return sum(
        sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name == "lexsent_requests_total"
        and sample.labels.get("operation") == "embeddings.embed"
        and sample.labels.get("status") == "invalid_input"
    )


@pytest.mark.parametrize(
    "body",
    [b"\x0a\x04\x0a\x02\xff\xfe", b"\x0a\x05\x0a"],  # a text that is not UTF-8; a message cut short
    ids=["bad-utf8", "truncated"],
)
def test_malformed_message_is_invalid_argument(tiny_server: Running, body: bytes) -> None:
    before = invalid_input_count(tiny_server)
    raw = grpc.insecure_channel(tiny_server.grpc_target).unary_unary("/lexsent.v1.Embeddings/Embed")
    with pytest.raises(grpc.RpcError) as refused:
        raw(body, metadata=(("x-request-id", "raw-1"),))
    error = refused.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert "not a valid embeddings.embed message" in error.details()
    trailer = tuple(error.trailing_metadata())
    assert ("lexsent-error-type", "invalid_input") in trailer and ("x-request-id", "raw-1") in trailer
    assert eventually(lambda: invalid_input_count(tiny_server) == before + 1)
