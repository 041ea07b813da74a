"""Fixtures for the client tests; the client is its own distribution, installed by `make test`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.harness import Running, running_server


@pytest.fixture(scope="module")
def tiny_server(tiny_bundle: Path) -> Iterator[Running]:
    with running_server([tiny_bundle], api_key="client-key") as running:
        yield running
