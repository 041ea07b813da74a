"""CORS is off unless origins are configured; then only those origins are allowed."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.server.harness import Running, running_server

PREFLIGHT = {"origin": "https://app.example", "access-control-request-method": "POST"}


def preflight(running: Running, origin: str) -> httpx.Response:
    headers = {**PREFLIGHT, "origin": origin, "access-control-request-headers": "authorization,content-type"}
    return httpx.options(f"{running.http_url}/v1/embeddings", headers=headers)


def test_cors_off_by_default(tiny_server: Running) -> None:
    response = httpx.post(f"{tiny_server.http_url}/v1/embeddings", json={"input": "a"}, headers=PREFLIGHT)
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-origin" not in preflight(tiny_server, "https://app.example").headers


def test_cors_allows_only_configured_origins(tiny_bundle: Path) -> None:
    with running_server([tiny_bundle], cors_origins=["https://app.example"]) as running:
        allowed = preflight(running, "https://app.example")
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
        denied = preflight(running, "https://evil.example")
        assert denied.status_code == 400 and "access-control-allow-origin" not in denied.headers
        error = denied.json()["error"]  # the project's error body, not starlette's plain text
        assert error["type"] == "bad_request"
        assert "origin 'https://evil.example'" in error["message"] and "--cors-origins" in error["message"]
        labels = {"operation": "http", "transport": "http", "model": "", "status": "bad_request"}
        registry = running.service.core.metrics.registry
        deadline = time.monotonic() + 2  # counted on the server loop's next turn, after the answer went out
        while registry.get_sample_value("lexsent_requests_total", labels) != 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert registry.get_sample_value("lexsent_requests_total", labels) == 1
        simple = httpx.post(
            f"{running.http_url}/v1/embeddings", json={"input": "a"}, headers={"origin": "https://app.example"}
        )
        assert simple.headers["access-control-allow-origin"] == "https://app.example"
        assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
