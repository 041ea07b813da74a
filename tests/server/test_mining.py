"""`POST /v1/mine` and `lexsent.v1.Mining/Mine` on a real server: planted pairs, transport parity, errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest

import lexsent
from lexsent.margin import mine
from server.proto_gen import mining_pb2 as pb
from server.proto_gen import mining_pb2_grpc as pb_grpc
from tests.cli.test_mine import DISTRACTORS_A, DISTRACTORS_B, PARAPHRASES, SENTENCES
from tests.server.harness import Running, eventually, running_server

SOURCE = SENTENCES[:8] + DISTRACTORS_A
TARGET = DISTRACTORS_B + PARAPHRASES[7::-1]  # reversed, so position != index
GOLD = {(i, len(DISTRACTORS_B) + 7 - i) for i in range(8)}


@pytest.fixture(scope="module")
def server(default_bundle: Path) -> Iterator[Running]:
    with running_server([default_bundle]) as running:
        yield running


def test_http_mine_finds_planted_pairs_like_the_library(server: Running, default_bundle: Path) -> None:
    response = httpx.post(f"{server.http_url}/v1/mine", json={"source": SOURCE, "target": TARGET, "threshold": 1.1})
    assert response.status_code == 200, response.text
    body = response.json()
    found = {(p["source"], p["target"]) for p in body["pairs"]}
    assert len(found & GOLD) >= 7 and len(found - GOLD) <= 1
    assert body["threshold"] == pytest.approx(1.1) and body["model"] == lexsent.load(default_bundle).name
    encoder = lexsent.load(default_bundle, threads=1)
    expected = mine(encoder.encode(SOURCE), encoder.encode(TARGET), threshold=1.1)
    assert [(p.source, p.target) for p in expected] == [(p["source"], p["target"]) for p in body["pairs"]]


def test_grpc_mine_matches_http(server: Running) -> None:
    stub = pb_grpc.MiningStub(grpc.insecure_channel(server.grpc_target))
    reply = stub.Mine(pb.MineRequest(source=SOURCE, target=TARGET, threshold=1.1, k=4))
    http = httpx.post(f"{server.http_url}/v1/mine", json={"source": SOURCE, "target": TARGET, "threshold": 1.1}).json()
    assert [(p.source, p.target) for p in reply.pairs] == [(p["source"], p["target"]) for p in http["pairs"]]
    assert [p.score for p in reply.pairs] == pytest.approx([p["score"] for p in http["pairs"]], rel=1e-5)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"source": [], "target": ["a"]}, 422),
        ({"source": ["a"], "target": ["b"], "k": 0}, 422),
        ({"source": ["a"], "target": ["b"], "scoring": "dot"}, 422),
        ({"source": ["a"], "target": ["b"], "model": "nope"}, 404),
        ({"source": "a", "target": ["b"]}, 422),
    ],
)
def test_http_mine_rejects_bad_requests(server: Running, body: dict[str, object], status: int) -> None:
    response = httpx.post(f"{server.http_url}/v1/mine", json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("request_", "fragment"),
    [
        (pb.MineRequest(source=[], target=["a"]), "source"),
        (pb.MineRequest(source=["a"], target=["b"], threshold=float("nan")), "finite number"),  # would keep every pair
        (pb.MineRequest(source=["a"], target=["b"], scoring=7), "scoring=7"),
    ],
)
def test_grpc_mine_bad_requests_are_invalid_arguments(server: Running, request_: object, fragment: str) -> None:
    stub = pb_grpc.MiningStub(grpc.insecure_channel(server.grpc_target))
    with pytest.raises(grpc.RpcError) as caught:
        stub.Mine(request_)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT and fragment in caught.value.details()


def test_an_empty_sentence_is_named_by_its_side(server: Running) -> None:
    response = httpx.post(f"{server.http_url}/v1/mine", json={"source": ["a", "b"], "target": ["c", " "]})
    assert response.status_code == 422 and response.json()["error"]["message"] == "target[1] is an empty string"


def test_an_unknown_model_name_never_becomes_a_metrics_label(server: Running) -> None:
    """Each distinct label is a series kept for the process's life: client text would grow it without bound."""
    registry = server.service.core.metrics.registry
    labels = {"operation": "mining.mine", "transport": "http", "model": "unknown", "status": "not_found"}
    before = registry.get_sample_value("lexsent_requests_total", labels) or 0.0
    response = httpx.post(f"{server.http_url}/v1/mine", json={"source": ["a"], "target": ["b"], "model": "made-up-7"})
    assert response.status_code == 404
    # recorded on the event loop's next turn
    assert eventually(lambda: registry.get_sample_value("lexsent_requests_total", labels) == before + 1)
    assert "made-up-7" not in httpx.get(f"{server.http_url}/metrics").text


def test_mined_sentences_count_as_embedded_tokens(server: Running) -> None:
    """Mining and collections reach the model through the same accounting as /v1/embeddings."""
    encoder = server.service.embeddings.models.get(None)
    registry = server.service.core.metrics.registry
    before = registry.get_sample_value("lexsent_tokens_total", {"model": encoder.name}) or 0.0
    response = httpx.post(f"{server.http_url}/v1/mine", json={"source": SOURCE, "target": TARGET})
    assert response.status_code == 200
    expected = sum(len(t) for t in encoder.tokenize(SOURCE + TARGET))
    assert registry.get_sample_value("lexsent_tokens_total", {"model": encoder.name}) == before + expected
