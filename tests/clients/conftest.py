"""The client is its own distribution (clients/python); import it from the tree when not installed."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.harness import Running, running_server

CLIENT_SRC = Path(__file__).resolve().parents[2] / "clients" / "python"
if str(CLIENT_SRC) not in sys.path:
    sys.path.insert(0, str(CLIENT_SRC))


@pytest.fixture(scope="module")
def tiny_server(tiny_bundle: Path) -> Iterator[Running]:
    with running_server([tiny_bundle], api_key="client-key") as running:
        yield running
