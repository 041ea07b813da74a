"""Collections over HTTP on a real server: keys, text and vector upserts, search, bad input → 4xx with
nothing changed, disk full → 507."""

from __future__ import annotations

import errno
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.server.harness import Running, running_server

RW, RO = "rw-key", "ro-key"
WRITE = {"authorization": f"Bearer {RW}"}
READ = {"authorization": f"Bearer {RO}"}


@pytest.fixture(scope="module")
def server(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data_dir = tmp_path_factory.mktemp("data")
    with running_server([tiny_bundle], api_key=RW, read_only_api_key=RO, data_dir=data_dir) as running:
        yield running


def call(server: Running, method: str, path: str, body: Any = None, headers: Any = WRITE) -> httpx.Response:
    content = None if body is None else json.dumps(body)  # json.dumps keeps NaN literals on purpose
    return httpx.request(
        method,
        f"{server.http_url}{path}",
        content=content,
        headers={**headers, "content-type": "application/json"},
        timeout=30,
    )


def test_keys_guard_writes(server: Running) -> None:
    body = {"name": "guarded", "dim": 2}
    assert call(server, "POST", "/v1/collections", body, headers={}).status_code == 401
    denied = call(server, "POST", "/v1/collections", body, headers=READ)
    assert denied.status_code == 403 and denied.json()["error"]["type"] == "permission_denied"
    assert call(server, "POST", "/v1/collections", body).status_code == 200
    assert call(server, "POST", "/v1/collections", body).status_code == 409
    points = {"points": [{"id": 1, "vector": [1.0, 0.0]}]}
    assert call(server, "POST", "/v1/collections/guarded/points", points, headers=READ).status_code == 403
    assert call(server, "POST", "/v1/collections/guarded/points", points).json() == {"count": 1}
    found = call(server, "POST", "/v1/collections/guarded/search", {"vector": [1, 0], "k": 1}, headers=READ)
    assert found.status_code == 200 and found.json()["results"][0]["id"] == 1
    assert call(server, "GET", "/v1/collections", headers=READ).status_code == 200
    assert call(server, "DELETE", "/v1/collections/guarded", headers=READ).status_code == 403
    assert call(server, "DELETE", "/v1/collections/guarded").status_code == 200
    assert call(server, "GET", "/v1/collections/guarded").status_code == 404


def test_text_points_and_text_search(server: Running, tiny_bundle: Path) -> None:
    created = call(server, "POST", "/v1/collections", {"name": "docs", "index": "hnsw"}).json()
    encoder = server.service.embeddings.models.get(None)
    assert created["model"] == encoder.name and created["model_fingerprint"] == encoder.fingerprint
    texts = ["the cat sat on the mat", "stock markets fell sharply", "a recipe for bread", "rain tomorrow"]
    points = [{"id": f"d{i}", "text": t, "metadata": {"i": i, "lang": "en"}} for i, t in enumerate(texts)]
    points.append({"id": 99, "vector": [0.5] * created["dim"], "metadata": {"i": 99}})
    assert call(server, "POST", "/v1/collections/docs/points", {"points": points}).json() == {"count": 5}
    for i, text in enumerate(texts):
        hits = call(server, "POST", "/v1/collections/docs/search", {"query": text, "k": 2}).json()["results"]
        assert hits[0]["id"] == f"d{i}" and math.isclose(hits[0]["score"], 1.0, abs_tol=1e-4)
        assert hits[0]["metadata"] == {"i": i, "lang": "en"}
    filtered = call(server, "POST", "/v1/collections/docs/search", {"query": "x", "k": 10, "filter": {"lang": "en"}})
    assert sorted(hit["id"] for hit in filtered.json()["results"]) == ["d0", "d1", "d2", "d3"]
    fetched = call(server, "GET", "/v1/collections/docs/points/99").json()
    assert fetched["id"] == 99 and fetched["vector"] == [0.5] * created["dim"]
    assert call(server, "GET", "/v1/collections/docs/points/d1?vector=false").json() == {
        "id": "d1",
        "metadata": {"i": 1, "lang": "en"},
    }
    removed = call(server, "POST", "/v1/collections/docs/points/delete", {"ids": ["d1", "nope"]})
    assert removed.json() == {"count": 1}
    assert call(server, "GET", "/v1/collections/docs/points/d1").status_code == 404
    assert call(server, "GET", "/v1/collections/docs").json()["count"] == 4
    metrics = server.service.core.metrics.registry
    for operation, model in (("collections.upsert", encoder.name), ("collections.search", encoder.name)):
        labels = {"operation": operation, "transport": "http", "model": model, "status": "ok"}
        assert metrics.get_sample_value("lexsent_requests_total", labels), labels  # text: under its model
    labels = {"operation": "collections.fetch", "transport": "http", "model": "", "status": "ok"}
    assert metrics.get_sample_value("lexsent_requests_total", labels)  # no text, no model


def test_ids_with_slashes_are_fetched_by_path(server: Running) -> None:
    call(server, "POST", "/v1/collections", {"name": "paths", "dim": 2, "index": "flat"})
    points = [{"id": "dir/file.txt", "vector": [1, 0]}, {"id": "dir", "vector": [0, 1]}, {"id": "7/", "vector": [1, 1]}]
    assert call(server, "POST", "/v1/collections/paths/points", {"points": points}).json() == {"count": 3}
    for path, point_id in [("dir/file.txt", "dir/file.txt"), ("dir%2Ffile.txt", "dir/file.txt"), ("dir", "dir")]:
        assert call(server, "GET", f"/v1/collections/paths/points/{path}?vector=false").json() == {
            "id": point_id,
            "metadata": None,
        }
    assert call(server, "GET", "/v1/collections/paths/points/7/").json()["id"] == "7/"
    assert call(server, "GET", "/v1/collections/paths/points/dir/other").status_code == 404


def _deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


DEEP_POINT = {"id": "deep", "vector": [1, 0, 0], "metadata": _deep(254)}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("POST", "/v1/collections/vec/points", {"points": [{"id": 1, "vector": [1, 2]}]}, 422, "dimension 2"),
        (
            "POST",
            "/v1/collections/vec/points",
            {"points": [{"id": 1, "vector": [1, float("nan"), 0]}]},
            400,  # NaN/Infinity literals are not JSON (RFC 8259); the parser refuses them
            "not valid JSON",
        ),
        (
            "POST",
            "/v1/collections/vec/points",
            {"points": [{"id": 1, "vector": [1, float("inf"), 0]}]},
            400,  # NaN/Infinity literals are not JSON (RFC 8259); the parser refuses them
            "not valid JSON",
        ),
        ("POST", "/v1/collections/vec/points", {"points": [{"id": 1, "text": "a"}]}, 422, "plain vectors"),
        ("POST", "/v1/collections/vec/points", {"points": [{"id": 1.5, "vector": [1, 0, 0]}]}, 422, "id"),
        ("POST", "/v1/collections/vec/points", {"points": []}, 422, "points"),
        (
            "POST",
            "/v1/collections/vec/points",
            {"points": [{"id": 4, "vector": [1, 0, 0]}, {"id": 4, "vector": [0, 1, 0]}]},
            422,
            "appears twice",
        ),
        (
            "POST",
            "/v1/collections/missing/points",
            {"points": [{"id": 1, "vector": [1, 0, 0]}]},
            404,
            "missing",
        ),
        ("POST", "/v1/collections/missing/search", {"vector": [1, 0, 0]}, 404, "does not exist"),
        ("POST", "/v1/collections/vec/search", {"vector": [1, 0, 0], "k": 0}, 422, "k must be"),
        ("POST", "/v1/collections/vec/search", {"vector": [1, 0, 0], "top_k": 1}, 422, "top_k: unknown field"),
        ("POST", "/v1/collections/vec/search", {"vector": [1, 0, 0], "k": 10**7}, 422, "k must be"),
        (
            "POST",
            "/v1/collections/vec/search",
            {"vector": [1, 0, 0], "filter": {"a": {"$x": 1}}},
            422,
            "operator",
        ),
        ("POST", "/v1/collections/vec/search", {"vector": [1, 0, 0], "filter": [1]}, 422, "filter"),
        ("POST", "/v1/collections/vec/search", {"vector": [1, 0]}, 422, "dimension 2"),
        ("POST", "/v1/collections/vec/search", {"k": 3}, 422, "exactly one of"),
        ("POST", "/v1/collections/vec/search", {"vector": [1, 0, 0], "scoring": "bm25"}, 422, "scoring"),
        ("POST", "/v1/collections", {"name": "../x", "dim": 3}, 422, "invalid collection name"),
        ("POST", "/v1/collections", {"name": "nl\n", "dim": 3}, 422, "invalid collection name"),
        ("POST", "/v1/collections", {"name": "t", "dim": True}, 422, "dim"),  # was a 1-dimensional collection
        ("POST", "/v1/collections/vec/search", {"vector": [1, 0, 0], "k": True}, 422, "k"),
        ("POST", "/v1/collections/vec/search", {"vector": ["1", 0, 0]}, 422, "vector"),
        ("POST", "/v1/collections/vec/points", {"points": [{"id": "s", "vector": [True, 0, 0]}]}, 422, "vector"),
        ("GET", "/v1/collections/vec/points/keep?vector=nope", None, 422, "vector='nope'"),
        # 254 levels parse and used to be stored, then every search returning the point was a 500
        ("POST", "/v1/collections/vec/points", {"points": [DEEP_POINT]}, 422, "deeper than 32"),
        ("POST", "/v1/collections", {"name": "y", "index": "lsh", "dim": 3}, 422, "index"),
        ("POST", "/v1/collections", {"name": "z", "model": "nope"}, 404, "not served"),
    ],
)
def test_bad_input_is_4xx_and_changes_nothing(
    server: Running, method: str, path: str, body: Any, status: int, message: str
) -> None:
    if call(server, "GET", "/v1/collections/vec").status_code == 404:
        call(server, "POST", "/v1/collections", {"name": "vec", "dim": 3, "index": "flat"})
        call(server, "POST", "/v1/collections/vec/points", {"points": [{"id": "keep", "vector": [1, 2, 3]}]})
    before = call(server, "GET", "/v1/collections").json()
    response = call(server, method, path, body)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]["message"]
    assert call(server, "GET", "/v1/collections").json() == before
    assert call(server, "GET", "/v1/collections/vec/points/keep").json()["vector"] == [1, 2, 3]


def test_disk_full_is_507_and_keeps_data(server: Running) -> None:
    call(server, "POST", "/v1/collections", {"name": "full", "dim": 2})
    call(server, "POST", "/v1/collections/full/points", {"points": [{"id": "a", "vector": [1, 0]}]})
    disk = server.service.collections.store.disk
    original = disk.write

    def no_space(fd: int, data: bytes | memoryview) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    disk.write = no_space
    try:
        response = call(server, "POST", "/v1/collections/full/points", {"points": [{"id": "b", "vector": [0, 1]}]})
    finally:
        disk.write = original
    assert response.status_code == 507 and response.json()["error"]["type"] == "storage_full"
    assert call(server, "GET", "/v1/collections/full").json()["count"] == 1
    assert call(server, "GET", "/v1/collections/full/points/b").status_code == 404
    vector = np.asarray(call(server, "GET", "/v1/collections/full/points/a").json()["vector"])
    assert vector.tolist() == [1, 0]


def test_text_errors_name_the_field_and_the_point(server: Running) -> None:
    """The tokenizer's messages are about "input[i]"; here they must say which point or that it is the query."""
    created = call(server, "POST", "/v1/collections", {"name": "named"}).json()
    vector = [1.0] + [0.0] * (created["dim"] - 1)
    points = [{"id": 1, "vector": vector}, {"id": 2, "text": "fine"}, {"id": 3, "text": "  "}]
    refused = call(server, "POST", "/v1/collections/named/points", {"points": points})
    assert refused.status_code == 422 and refused.json()["error"]["message"] == "points[2].text is an empty string"
    query = call(server, "POST", "/v1/collections/named/search", {"query": ""})
    assert query.status_code == 422 and query.json()["error"]["message"] == "query is an empty string"
    assert call(server, "GET", "/v1/collections/named").json()["count"] == 0


def test_text_points_count_against_the_client_batch_cap(tiny_bundle: Path) -> None:
    """Over the cap they were queued and refused with a 429 that no retry could ever cure."""
    with running_server([tiny_bundle], max_client_batch=2) as small:
        assert httpx.post(f"{small.http_url}/v1/collections", json={"name": "capped"}).status_code == 200
        points = [{"id": i, "text": f"text {i}"} for i in range(3)]
        refused = httpx.post(f"{small.http_url}/v1/collections/capped/points", json={"points": points})
        assert refused.status_code == 422 and "at most 2 per request (--max-client-batch)" in refused.text
        accepted = httpx.post(f"{small.http_url}/v1/collections/capped/points", json={"points": points[:2]})
        assert accepted.status_code == 200 and accepted.json()["count"] == 2
