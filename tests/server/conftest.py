from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.harness import Running, running_server


@pytest.fixture(scope="module")
def tiny_server(tiny_bundle: Path) -> Iterator[Running]:
    with running_server([tiny_bundle]) as running:
        yield running
