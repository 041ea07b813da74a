"""Schemathesis generates requests from `/openapi.json` (valid and invalid) against a real server:
no route may answer 5xx. Bounded: a fixed number of examples per operation, no shrinking deadline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error

from server.http.app import openapi_document
from tests.server.harness import Running, running_server

schema = schemathesis.openapi.from_dict(openapi_document())


@pytest.fixture(scope="module")
def fuzzed(tiny_bundle: Path) -> Iterator[Running]:
    with running_server([tiny_bundle], max_client_batch=64, max_body_bytes=64 * 1024) as running:
        yield running


def test_served_schema_is_the_generated_one(fuzzed: Running) -> None:
    assert httpx.get(f"{fuzzed.http_url}/openapi.json").json() == openapi_document()


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors(case: schemathesis.Case, fuzzed: Running) -> None:
    case.call_and_validate(base_url=fuzzed.http_url, checks=[not_a_server_error], timeout=30)
