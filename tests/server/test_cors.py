"""CORS is off unless origins are configured; then only those origins are allowed."""

from __future__ import annotations

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
        simple = httpx.post(
            f"{running.http_url}/v1/embeddings", json={"input": "a"}, headers={"origin": "https://app.example"}
        )
        assert simple.headers["access-control-allow-origin"] == "https://app.example"
        assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
