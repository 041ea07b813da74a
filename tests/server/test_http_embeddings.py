"""`POST /v1/embeddings` and `GET /v1/models` through real clients against a real server."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest

import lexsent
import server.embeddings
from tests.server.harness import Running, running_server

TEXTS = ["The cat sits on the mat.", "A quick brown fox jumps over the lazy dog.", "Serving embeddings"]


@pytest.fixture(scope="module")
def minilm_server(default_bundle: Path, default_int8_bundle: Path) -> Iterator[Running]:
    with running_server([default_bundle, default_int8_bundle]) as running:
        yield running


@pytest.fixture(scope="module")
def minilm(default_bundle: Path) -> lexsent.Encoder:
    return lexsent.load(default_bundle, threads=2)


def test_openai_sdk_float_and_base64_match_lexsent_encode(
    minilm_server: Running, minilm: lexsent.Encoder, default_bundle: Path
) -> None:
    client = openai.OpenAI(base_url=f"{minilm_server.http_url}/v1", api_key="unused", max_retries=0)
    floats = client.embeddings.create(input=TEXTS, model=minilm.name, encoding_format="float")
    raw = client.embeddings.create(input=TEXTS, model=minilm.name, encoding_format="base64")
    decoded_by_sdk = client.embeddings.create(input=TEXTS, model=minilm.name)  # SDK asks base64, decodes
    as_float = np.array([d.embedding for d in floats.data], dtype=np.float32)
    as_b64 = np.stack([np.frombuffer(base64.b64decode(d.embedding), dtype="<f4") for d in raw.data])
    as_sdk = np.array([d.embedding for d in decoded_by_sdk.data], dtype=np.float32)

    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
            "encode",
            "--model",
            str(default_bundle),
            "--threads",
            "2",
            *TEXTS,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [json.loads(line) for line in cli.stdout.splitlines()]
    reference = np.array([r["embedding"] for r in rows], np.float32)

    assert as_float.shape == (3, 384)
    np.testing.assert_allclose(as_float, reference, atol=1e-6)
    np.testing.assert_array_equal(as_b64, as_float)  # base64 is lossless float32
    np.testing.assert_allclose(as_sdk, as_float, atol=1e-7)
    assert floats.model == minilm.name
    assert floats.usage.prompt_tokens == sum(len(t) for t in minilm.tokenize(TEXTS))
    card = client.models.retrieve(f"{minilm.name}-int8")  # GET /v1/models/{model}
    assert card.id == f"{minilm.name}-int8" and card.model_extra["precision"] == "int8"
    with pytest.raises(openai.NotFoundError, match="served models"):
        client.models.retrieve("gpt-4")


def test_model_routing_and_default(minilm_server: Running, minilm: lexsent.Encoder) -> None:
    url = f"{minilm_server.http_url}/v1/embeddings"
    default = httpx.post(url, json={"input": "hello"}).json()
    int8_name = f"{minilm.name}-int8"
    int8 = httpx.post(url, json={"input": "hello", "model": int8_name}).json()
    assert default["model"] == minilm.name and int8["model"] == int8_name
    a, b = np.array(default["data"][0]["embedding"]), np.array(int8["data"][0]["embedding"])
    assert not np.array_equal(a, b) and float(a @ b) > 0.95  # different graph, same meaning
    models = httpx.get(f"{minilm_server.http_url}/v1/models").json()["data"]
    assert [(m["id"], m["default"], m["precision"]) for m in models] == [
        (minilm.name, True, "fp32"),
        (int8_name, False, "int8"),
    ]
    assert models[0]["parity"] == minilm.manifest.parity.model_dump() and models[0]["parity"]["reference"] == "torch"
    assert models[1]["parity"]["reference"] == "fp32" and models[0]["architecture"] == "bert"
    missing = httpx.post(url, json={"input": "hello", "model": "gpt-4"})
    assert missing.status_code == 404 and "all-MiniLM-L6-v2" in missing.json()["error"]["message"]


def test_token_id_inputs_and_dimensions(tiny_server: Running, tiny_bundle: Path) -> None:
    encoder = lexsent.load(tiny_bundle, threads=1)
    ids = [t.ids for t in encoder.tokenize(["hello world", "good morning"])]
    url = f"{tiny_server.http_url}/v1/embeddings"
    by_text = np.array([d["embedding"] for d in httpx.post(url, json={"input": ["hello world"]}).json()["data"]])
    one_list = httpx.post(url, json={"input": ids[0]}).json()
    many = httpx.post(url, json={"input": ids}).json()
    np.testing.assert_allclose(np.array(one_list["data"][0]["embedding"]), by_text[0], atol=1e-6)
    assert len(many["data"]) == 2 and many["usage"]["prompt_tokens"] == len(ids[0]) + len(ids[1])

    short = httpx.post(url, json={"input": ["hello world"], "dimensions": 8}).json()["data"][0]["embedding"]
    expected = by_text[0, :8] / np.linalg.norm(by_text[0, :8])
    np.testing.assert_allclose(short, expected, atol=1e-6)
    too_many = httpx.post(url, json={"input": "x", "dimensions": encoder.dim + 1})
    assert too_many.status_code == 422 and f"dimension {encoder.dim}" in too_many.json()["error"]["message"]


def test_long_input_is_flagged_or_refused(
    tiny_server: Running, tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoder = lexsent.load(tiny_bundle, threads=1)
    long_text = "word " * (encoder.manifest.max_length * 2)
    url = f"{tiny_server.http_url}/v1/embeddings"
    cut = httpx.post(url, json={"input": [long_text, "short"]}).json()
    assert [d["truncated"] for d in cut["data"]] == [True, False]
    assert cut["data"][0]["tokens"] == encoder.manifest.max_length
    refused = httpx.post(url, json={"input": [long_text], "long_input": "error"})
    assert refused.status_code == 422 and "max_length" in refused.json()["error"]["message"]
    # A large request is tokenised in slices off the loop; errors still name the input's own position.
    monkeypatch.setattr(server.embeddings, "TOKENIZE_SLICE_CHARS", 500)
    many = ["hello there " * 4] * 300  # 14,400 characters: 29 slices
    sliced = httpx.post(url, json={"input": many}).json()["data"]
    np.testing.assert_allclose([d["embedding"] for d in sliced[::50]], encoder.encode(many[::50]), atol=1e-6)
    refused = httpx.post(url, json={"input": [*many, long_text], "long_input": "error"})
    assert refused.status_code == 422 and refused.json()["error"]["message"].startswith("input[300] has")
    blank = httpx.post(url, json={"input": [*many, " "]})
    assert blank.status_code == 422 and "input[300] is an empty string" in blank.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b'{"input": "\\ud800"}', 400, "surrogate"),  # a lone surrogate could not reach the tokenizer
        (b'{"input": "\xff"}', 400, "UTF-8"),
        (b"[1, 2]", 422, "JSON object"),
        (b'{"input": []}', 422, "empty"),
        (b'{"input": [""]}', 422, "empty string"),
        (b'{"input": ["a", 3]}', 422, "input"),
        (b'{"input": [[1, -5]]}', 422, "token id"),
        (b'{"input": "a", "encoding_format": "hex"}', 422, "encoding_format"),
        (b'{"input": "a", "dimensions": 0}', 422, "dimensions"),
        (b'{"input": "a", "dimensions": true}', 422, "dimensions"),  # not silently 1
        (b'{"input": "a", "dimensions": "3"}', 422, "dimensions"),
        (b'{"input": "a", "dimensions": 2.0}', 422, "dimensions"),
        (b'{"model": "x"}', 422, "input"),
    ],
)
def test_invalid_requests_get_typed_errors(tiny_server: Running, body: bytes, status: int, fragment: str) -> None:
    headers = {"content-type": "application/json"}
    response = httpx.post(f"{tiny_server.http_url}/v1/embeddings", content=body, headers=headers)
    assert response.status_code == status
    error = response.json()["error"]
    assert fragment in error["message"] and error["type"] in {"bad_request", "invalid_input"}


def test_request_id_is_echoed_or_assigned(tiny_server: Running) -> None:
    url = f"{tiny_server.http_url}/v1/embeddings"
    mine = httpx.post(url, json={"input": "a"}, headers={"x-request-id": "trace-42"})
    assert mine.headers["x-request-id"] == "trace-42"
    assert len(httpx.post(url, json={"input": "a"}).headers["x-request-id"]) == 32


def test_health_metrics_and_openapi(tiny_server: Running) -> None:
    base = tiny_server.http_url
    assert httpx.get(f"{base}/health/live").json() == {"status": "live"}
    assert httpx.get(f"{base}/health/ready").status_code == 200
    httpx.post(f"{base}/v1/embeddings", json={"input": ["a b c", "d"]})
    metrics = httpx.get(f"{base}/metrics").text
    ok = 'lexsent_requests_total{model="tiny-bert",operation="embeddings.embed",status="ok",transport="http"}'
    assert ok in metrics
    assert 'lexsent_request_seconds_count{operation="embeddings.embed",transport="http"}' in metrics
    assert "lexsent_batch_inputs_bucket" in metrics and "lexsent_request_seconds_bucket" in metrics
    schema = httpx.get(f"{base}/openapi.json").json()
    assert schema["openapi"].startswith("3.1")
    assert {"/v1/embeddings", "/v1/models", "/health/ready"} <= set(schema["paths"])
    assert "EmbedRequest" in schema["components"]["schemas"]


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_a_body_not_sent_as_json_is_415(tiny_server: Running, content_type: str | None) -> None:
    """What a page on another site can make a browser send without a CORS preflight: never accepted, so
    a keyless server on 127.0.0.1 cannot be written to (or made to work) from a web page."""
    headers = {"content-type": content_type} if content_type else {}
    response = httpx.post(f"{tiny_server.http_url}/v1/embeddings", content=b'{"input": "a"}', headers=headers)
    assert response.status_code == 415 and response.json()["error"]["type"] == "unsupported_media_type"
    assert "Content-Type: application/json" in response.json()["error"]["message"]
    typed = {"content-type": "application/json; charset=utf-8"}
    assert httpx.post(f"{tiny_server.http_url}/v1/embeddings", content=b'{"input": "a"}', headers=typed).is_success


def test_the_model_label_is_empty_only_where_no_model_is_used(tiny_server: Running) -> None:
    """docs/server.md, Metrics: the served model, `unknown` for a name not served, "" for an operation
    that uses none (listing the models) and for a request refused before its operation ran."""
    base = tiny_server.http_url
    assert httpx.get(f"{base}/v1/models").status_code == 200
    assert httpx.get(f"{base}/v1/models/tiny-bert").status_code == 200
    assert httpx.get(f"{base}/v1/models/nope").status_code == 404
    assert httpx.post(f"{base}/v1/embeddings", json={"input": "a", "model": "nope"}).status_code == 404
    assert httpx.post(f"{base}/v1/embeddings", json={"inputs": "a"}).status_code == 422  # refused by the schema
    counted = {
        line.split("{", 1)[1].split("}", 1)[0]
        for line in httpx.get(f"{base}/metrics").text.splitlines()
        if line.startswith("lexsent_requests_total{")
    }
    for labels in (
        'model="",operation="embeddings.list_models",status="ok"',
        'model="tiny-bert",operation="embeddings.list_models",status="ok"',
        'model="unknown",operation="embeddings.list_models",status="not_found"',
        'model="unknown",operation="embeddings.embed",status="not_found"',
        'model="",operation="embeddings.embed",status="invalid_input"',
    ):
        assert f'{labels},transport="http"' in counted, (labels, counted)
