"""lexsent-client against a real server: HTTP and gRPC, sync and async, typed results and errors, retries."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from lexsent_client import AsyncClient, AsyncGrpcClient, Client, GrpcClient, LexsentClientError, Retry

import lexsent
from tests.server.harness import Gate, Running

TEXTS = ["hello world", "typed clients", "a third input"]
KEY = "client-key"


@pytest.fixture(scope="module")
def expected(tiny_bundle: Path) -> np.ndarray:
    return lexsent.load(tiny_bundle, threads=1).encode(TEXTS)


def test_sync_clients_agree_with_encoder(tiny_server: Running, expected: np.ndarray) -> None:
    with (
        Client(tiny_server.http_url, api_key=KEY) as http,
        GrpcClient(tiny_server.grpc_target, api_key=KEY) as rpc,
    ):
        for client in (http, rpc):
            result = client.embed(TEXTS)
            np.testing.assert_allclose(np.array(result.vectors), expected, atol=1e-6)
            assert result.model == "tiny-bert" and result.truncated == [False] * 3
            assert sum(result.token_counts) == result.prompt_tokens > 0
            assert [m.name for m in client.models()] == ["tiny-bert"]
            info = client.models()[0]  # the manifest's fields, the same over both transports
            manifest = lexsent.Bundle.open(tiny_server.settings.model[0]).manifest
            assert info.architecture == manifest.architecture and info.evaluation == manifest.evaluation
            assert info.parity.reference == manifest.parity.reference
            assert info.parity.max_abs_diff == pytest.approx(manifest.parity.max_abs_diff)
            long = " ".join(["word"] * 600)  # over the tiny model's max_length
            assert client.embed(long, long_input="truncate").truncated == [True]
            with pytest.raises(LexsentClientError) as refused:
                client.embed(long, long_input="error")
            assert refused.value.status in (422, "INVALID_ARGUMENT") and "max_length" in refused.value.message
        assert len(http.embed("one", dimensions=4).vectors[0]) == 4
        ids = [2, 5, 7, 3]  # one flat token-id list: the same vector over both transports
        np.testing.assert_allclose(rpc.embed(ids).vectors, http.embed(ids).vectors, atol=1e-6)
        assert rpc.embed(ids).token_counts == [4]
        assert http.embed(TEXTS[0]).vectors == [pytest.approx(list(expected[0]), abs=1e-6)]


async def test_async_clients_agree_with_encoder(tiny_server: Running, expected: np.ndarray) -> None:
    async with AsyncClient(tiny_server.http_url, api_key=KEY) as http:
        np.testing.assert_allclose((await http.embed(TEXTS)).vectors, expected, atol=1e-6)
    async with AsyncGrpcClient(tiny_server.grpc_target, api_key=KEY) as rpc:
        np.testing.assert_allclose((await rpc.embed(TEXTS)).vectors, expected, atol=1e-6)
        assert (await rpc.models())[0].is_default


def test_errors_are_typed(tiny_server: Running) -> None:
    with Client(tiny_server.http_url, api_key="wrong") as http, GrpcClient(tiny_server.grpc_target) as rpc:
        with pytest.raises(LexsentClientError) as info:
            http.embed("x")
        assert info.value.status == 401 and info.value.type == "unauthenticated"
        with pytest.raises(LexsentClientError) as info:
            rpc.embed("x")
        assert info.value.status == "UNAUTHENTICATED"
    with Client(tiny_server.http_url, api_key=KEY) as http, pytest.raises(LexsentClientError) as info:
        http.embed("x", model="missing")
    assert info.value.status == 404 and "not served" in info.value.message


def test_retries_on_429_until_capacity_frees(tiny_bundle: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tests.server.harness import running_server

    # One batch worker: the gated first request holds it, so the second one fills the queue.
    with running_server([tiny_bundle], max_queue=1, max_client_batch=1, batch_workers=1) as running:
        # Full-jitter delays can be short: 19 of them (about 1.8 s expected) outlast the 0.3 s hold below
        # by far; 8 (about 0.6 s) ran out before it in one loaded CI run.
        retry = Retry(attempts=20, base_delay=0.05, max_delay=0.2)
        with Gate(running, "tiny-bert") as gate, ThreadPoolExecutor(3) as pool:
            first = pool.submit(Client(running.http_url).embed, "holds the worker")
            assert gate.entered.wait(5)
            second = pool.submit(Client(running.http_url).embed, "fills the queue")
            while gate.batcher._queued < 1:
                time.sleep(0.01)
            with (
                Client(running.http_url, retry=Retry(attempts=1)) as impatient,
                pytest.raises(LexsentClientError) as info,
            ):
                impatient.embed("refused")
            assert info.value.status == 429
            patient = pool.submit(Client(running.http_url, retry=retry).embed, "retried")
            time.sleep(0.3)  # the patient client meets a full queue and backs off
            gate.release.set()
            assert first.result().vectors and second.result().vectors and patient.result().vectors
        overloaded = running.service.core.metrics.registry.get_sample_value(
            "lexsent_requests_total",
            {"operation": "embeddings.embed", "transport": "http", "model": "tiny-bert", "status": "overloaded"},
        )
        assert overloaded is not None and overloaded >= 2  # the impatient refusal plus at least one retry


def test_oversized_grpc_message_is_not_retried(tiny_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """RESOURCE_EXHAUSTED for a message over the size limit fails again however long one waits; only the
    server's retryable trailer (a full queue) makes the client back off and retry."""
    import lexsent_client.grpc as grpc_client

    from tests.server.harness import running_server

    pauses: list[float] = []
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:  # the client's backoff runs in this thread; the server's threads may sleep too
        if threading.current_thread() is threading.main_thread():
            pauses.append(seconds)
        real_sleep(seconds)

    with running_server([tiny_bundle], max_body_bytes=2000) as running, GrpcClient(running.grpc_target) as rpc:
        monkeypatch.setattr(grpc_client.time, "sleep", sleep)
        with pytest.raises(LexsentClientError) as info:
            rpc.embed(["a" * 3000])
        assert info.value.status == "RESOURCE_EXHAUSTED" and pauses == []


@pytest.mark.parametrize(
    ("delay", "retry_after", "expected"),
    [
        (0.05, "1", 1.0),  # the server asks for longer than the jittered backoff
        (0.05, "30", 5.0),  # never past max_delay
        (2.0, "1", 2.0),  # the backoff is already longer
        (0.05, None, 0.05),
        (0.05, "Wed, 21 Oct 2026 07:28:00 GMT", 0.05),  # an HTTP-date is not followed
        (0.05, "-3", 0.05),
        (0.05, "nan", 0.05),
    ],
)
def test_retry_waits_at_least_what_retry_after_asks(delay: float, retry_after: str | None, expected: float) -> None:
    assert Retry(max_delay=5.0).wait(delay, retry_after) == expected
