"""bench/mixed's phases against a real server: the prober gets answers in both phases and the bulk
client's inputs are counted, so the benchmark's numbers come from requests that succeeded."""

from __future__ import annotations

import argparse
import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.mixed import phase
from tests.server.harness import Running, running_server


@pytest.fixture(scope="module")
def server(tiny_bundle: Path) -> Iterator[Running]:
    with running_server([tiny_bundle]) as running:
        yield running


def test_a_phase_probes_alone_and_under_bulk_load(server: Running) -> None:
    texts = (f"text number {i}" for i in itertools.count())
    args = argparse.Namespace(bulk=16, seconds=0.5)
    alone = asyncio.run(phase(server.http_url, "tiny-bert", texts, args, bulk=False))
    loaded = asyncio.run(phase(server.http_url, "tiny-bert", texts, args, bulk=True))
    assert alone.requests > 0 and alone.bulk_rate == 0.0 and not alone.bulk
    assert loaded.requests > 0 and loaded.bulk_rate > 0 and loaded.bulk
    assert 0 < alone.p50_ms <= alone.p90_ms <= alone.p99_ms


def test_a_refused_probe_fails_the_phase(server: Running) -> None:
    texts = (f"text number {i}" for i in itertools.count())
    with pytest.raises(RuntimeError, match="404"):
        asyncio.run(phase(server.http_url, "no-such-model", texts, argparse.Namespace(bulk=4, seconds=0.2), bulk=False))
