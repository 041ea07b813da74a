"""The Host check against DNS rebinding: a keyless server on 127.0.0.1 answers only loopback names."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from server.http.hosts import HostCheck
from server.settings import ServerSettings
from tests.server.harness import running_server


@pytest.mark.parametrize(
    ("bind", "allowed", "host", "answered"),
    [
        ("127.0.0.1", [], "127.0.0.1:8080", True),
        ("127.0.0.1", [], "localhost:8080", True),
        ("127.0.0.1", [], "[::1]:8080", True),
        ("127.0.0.1", [], "app.localhost", True),
        ("127.0.0.1", [], "rebind.evil.example:8080", False),  # a name pointed at 127.0.0.1 by its owner
        ("127.0.0.1", [], "10.0.0.7:8080", False),
        ("127.0.0.1", ["api.example.org"], "API.example.org:443", True),  # behind a proxy that keeps Host
        # A list adds to the loopback names (local tools, the container's HEALTHCHECK), never replaces them
        ("127.0.0.1", ["api.example.org"], "localhost:8080", True),
        ("127.0.0.1", ["api.example.org"], "127.0.0.1:8080", True),
        ("127.0.0.1", ["api.example.org"], "[::1]:8080", True),
        ("127.0.0.1", ["api.example.org"], "rebind.evil.example", False),
        ("127.0.0.1", ["*"], "anything.example", True),
        ("0.0.0.0", [], "lexsent.svc.cluster.local:8080", True),  # a container: any name unless listed
        ("0.0.0.0", ["lexsent.internal"], "other.internal", False),
        ("0.0.0.0", ["lexsent.internal"], "lexsent.internal:8080", True),
        ("0.0.0.0", ["lexsent.internal"], "127.0.0.1:8080", True),
        ("0.0.0.0", ["lexsent.internal"], "localhost", True),
        ("0.0.0.0", ["lexsent.internal"], "127.evil.example", False),  # a name, not an address
    ],
)
def test_which_hosts_are_answered(bind: str, allowed: list[str], host: str, answered: bool) -> None:
    assert HostCheck(ServerSettings(host=bind, allowed_hosts=allowed)).allows(host) is answered


def test_a_rebinding_page_gets_400_and_no_data(tiny_bundle: Path) -> None:
    with running_server([tiny_bundle]) as running:
        url = f"{running.http_url}/v1/models"
        refused = httpx.get(url, headers={"host": "rebind.evil.example"})
        assert refused.status_code == 400 and "--allowed-hosts / LEXSENT_ALLOWED_HOSTS" in refused.text
        assert "tiny-bert" not in refused.text
        assert httpx.get(url).status_code == 200  # httpx sends Host: 127.0.0.1:PORT


def test_a_host_list_keeps_loopback_names_working(tiny_bundle: Path) -> None:
    """`lexsent ingest`'s default --url, the client examples and the container's probe all use 127.0.0.1."""
    with running_server([tiny_bundle], allowed_hosts=["api.example.org"]) as running:
        url = f"{running.http_url}/v1/models"
        for host in (f"127.0.0.1:{running.settings.http_port}", "localhost", "api.example.org"):
            assert httpx.get(url, headers={"host": host}).status_code == 200, host
        refused = httpx.get(url, headers={"host": "rebind.evil.example"})
        assert refused.status_code == 400
        assert "it answers loopback names (localhost, 127.0.0.1, ::1) and api.example.org" in refused.text
