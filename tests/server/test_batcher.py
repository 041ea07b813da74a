"""Batcher: concurrent jobs share one encoder run, each gets its own rows, cancelled jobs are skipped,
and a failed run reaches every caller without stopping the worker."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import numpy as np
import pytest

from lexsent.encoder import Vectors
from lexsent.tokenizer import Tokenized
from server.batcher import Batcher
from server.metrics import Metrics


class GatedEncoder:
    """Rows are [first id, len]; the first run blocks until `gate` is set, so later jobs pile up."""

    name = "fake"

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.started = threading.Event()
        self.runs: list[list[int]] = []
        self.fail = False

    def run(self, items: Sequence[Tokenized]) -> Vectors:
        self.started.set()
        self.gate.wait(10)
        self.runs.append([t.ids[0] for t in items])
        if self.fail:
            raise RuntimeError("onnxruntime exploded")
        return np.array([[t.ids[0], len(t.ids)] for t in items], dtype=np.float32)


def item(first: int, length: int = 3) -> Tokenized:
    return Tokenized(ids=[first] + [0] * (length - 1), type_ids=[0] * length, truncated=False)


@pytest.fixture
def batcher() -> tuple[Batcher, GatedEncoder]:
    encoder = GatedEncoder()
    b = Batcher(encoder, max_batch_tokens=1000, max_queue=100, metrics=Metrics())  # type: ignore[arg-type]
    b.start()
    yield b, encoder
    encoder.gate.set()
    b.stop()


async def test_waiting_jobs_share_a_run_and_get_their_own_rows(batcher: tuple[Batcher, GatedEncoder]) -> None:
    b, encoder = batcher
    first = asyncio.create_task(b.run([item(1)]))
    await asyncio.to_thread(encoder.started.wait, 10)  # the worker is busy with job 1
    rest = [asyncio.create_task(b.run([item(10 * k), item(10 * k + 1, 5)])) for k in range(2, 6)]
    await asyncio.sleep(0.05)
    encoder.gate.set()
    assert (await first).tolist() == [[1, 3]]
    for k, task in zip(range(2, 6), rest, strict=True):
        assert (await task).tolist() == [[10 * k, 3], [10 * k + 1, 5]]
    assert encoder.runs == [[1], [20, 21, 30, 31, 40, 41, 50, 51]]


async def test_a_cancelled_queued_job_is_not_run(batcher: tuple[Batcher, GatedEncoder]) -> None:
    b, encoder = batcher
    first = asyncio.create_task(b.run([item(1)]))
    await asyncio.to_thread(encoder.started.wait, 10)
    gone = asyncio.create_task(b.run([item(2)]))
    kept = asyncio.create_task(b.run([item(3)]))
    await asyncio.sleep(0.05)
    gone.cancel()
    await asyncio.sleep(0)
    encoder.gate.set()
    await first
    assert (await kept).tolist() == [[3, 3]]
    assert gone.cancelled()
    assert encoder.runs == [[1], [3]]


async def test_a_failed_run_reaches_every_caller_and_the_worker_goes_on(
    batcher: tuple[Batcher, GatedEncoder],
) -> None:
    b, encoder = batcher
    encoder.fail = True
    encoder.gate.set()
    results = await asyncio.gather(b.run([item(1)]), b.run([item(2)]), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) and "exploded" in str(r) for r in results)
    encoder.fail = False
    assert (await b.run([item(7)])).tolist() == [[7, 3]]
