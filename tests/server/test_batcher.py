"""Batcher: concurrent jobs share one encoder run, each gets its own rows, cancelled jobs are skipped,
a failed run reaches every caller without stopping the worker, and a second batch waits until it is as
large as the one running, but no longer than `max_wait`."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pytest

from lexsent.encoder import RunAbandonedError, Vectors
from lexsent.errors import OverloadedError
from lexsent.tokenizer import Tokenized
from server.batcher import Batcher
from server.metrics import Metrics
from tests.server.harness import eventually_async


class GatedEncoder:
    """Rows are [first id, len]; runs block until `gate` is set, so later jobs pile up."""

    name = "fake"

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.started = threading.Event()
        self.runs: list[list[int]] = []
        self.fail = False
        self.lock = threading.Lock()
        self.active = 0
        self.most_active = 0

    def run(self, items: Sequence[Tokenized], abandoned: Callable[[], bool] | None = None) -> Vectors:
        with self.lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        self.started.set()
        self.gate.wait(10)
        with self.lock:
            self.active -= 1
            self.runs.append([t.ids[0] for t in items])
        if abandoned is not None and abandoned():  # as the real encoder asks between its runs
            raise RunAbandonedError("stopped")
        if self.fail:
            raise RuntimeError("onnxruntime exploded")
        return np.array([[t.ids[0], len(t.ids)] for t in items], dtype=np.float32)


def item(first: int, length: int = 3) -> Tokenized:
    return Tokenized(ids=[first] + [0] * (length - 1), type_ids=[0] * length, truncated=False)


def start(workers: int, max_batch_tokens: int = 1000, max_wait: float = 60) -> tuple[Batcher, GatedEncoder]:
    """`max_wait` is long by default, so the batch-size rule alone decides when a second batch starts."""
    encoder = GatedEncoder()
    b = Batcher(
        encoder,  # type: ignore[arg-type]
        max_batch_tokens=max_batch_tokens,
        max_queue=100,
        metrics=Metrics(),
        workers=workers,
        max_wait=max_wait,
    )
    b.start()
    return b, encoder


@contextlib.contextmanager
def two_workers(max_batch_tokens: int = 1000, max_wait: float = 60) -> Iterator[tuple[Batcher, GatedEncoder]]:
    b, encoder = start(workers=2, max_batch_tokens=max_batch_tokens, max_wait=max_wait)
    try:
        yield b, encoder
    finally:
        encoder.gate.set()
        b.stop()


async def running(b: Batcher, encoder: GatedEncoder, items: list[Tokenized]) -> asyncio.Task[Vectors]:
    """Start a batch of `items` and wait until it is inside the gated encoder."""
    task = asyncio.create_task(b.run(items))
    await asyncio.to_thread(encoder.started.wait, 10)
    return task


@pytest.fixture
def batcher() -> Iterator[tuple[Batcher, GatedEncoder]]:
    """One worker, so a gated batch holds back everything behind it."""
    b, encoder = start(workers=1)
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


async def test_a_cancelled_queued_job_frees_its_queue_room(batcher: tuple[Batcher, GatedEncoder]) -> None:
    b, encoder = batcher
    first = asyncio.create_task(b.run([item(1)]))
    await asyncio.to_thread(encoder.started.wait, 10)
    big = asyncio.create_task(b.run([item(i) for i in range(100)]))  # fills the queue (limit 100)
    await asyncio.sleep(0.05)
    with pytest.raises(OverloadedError):
        await b.run([item(5)])
    big.cancel()
    await asyncio.sleep(0)
    assert b._queued == 0  # room again at once, not when a worker gets round to dropping it
    after = asyncio.create_task(b.run([item(7)]))
    await asyncio.sleep(0.05)
    encoder.gate.set()
    await first
    assert (await after).tolist() == [[7, 3]] and encoder.runs == [[1], [7]]


async def test_a_running_batch_whose_callers_all_left_is_abandoned(batcher: tuple[Batcher, GatedEncoder]) -> None:
    b, encoder = batcher
    alone = asyncio.create_task(b.run([item(1)]))
    await asyncio.to_thread(encoder.started.wait, 10)
    alone.cancel()  # a timeout, a client that left, or a drain that ran out
    await asyncio.sleep(0)
    encoder.gate.set()
    assert (await b.run([item(2)])).tolist() == [[2, 3]]  # the worker went on to the next job
    assert alone.cancelled() and encoder.runs == [[1], [2]]


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


async def test_a_second_worker_runs_the_next_batch_while_the_first_is_busy() -> None:
    with two_workers() as (b, encoder):
        first = await running(b, encoder, [item(1)])
        second = asyncio.create_task(b.run([item(2)]))
        assert await eventually_async(lambda: encoder.most_active == 2)  # both batches inside the encoder at once
        encoder.gate.set()
        assert (await first).tolist() == [[1, 3]] and (await second).tolist() == [[2, 3]]


async def test_a_second_batch_waits_until_it_is_as_large_as_the_running_one() -> None:
    with two_workers() as (b, encoder):
        first = await running(b, encoder, [item(1), item(2), item(3)])
        early = [asyncio.create_task(b.run([item(i)])) for i in (4, 5)]
        await asyncio.sleep(0.3)  # time enough for the idle worker to start a batch of two, were it allowed
        assert encoder.most_active == 1
        third = asyncio.create_task(b.run([item(6)]))
        assert await eventually_async(lambda: encoder.most_active == 2)  # three queued: as large as the running batch
        encoder.gate.set()
        assert [(await t).tolist() for t in (first, *early, third)] == [
            [[1, 3], [2, 3], [3, 3]],
            [[4, 3]],
            [[5, 3]],
            [[6, 3]],
        ]
        assert sorted(encoder.runs) == [[1, 2, 3], [4, 5, 6]]


async def test_a_smaller_batch_starts_once_the_running_one_ends() -> None:
    with two_workers() as (b, encoder):
        first = await running(b, encoder, [item(1), item(2)])
        second = asyncio.create_task(b.run([item(3)]))
        await asyncio.sleep(0.3)
        assert encoder.most_active == 1 and not second.done()
        encoder.gate.set()
        assert (await second).tolist() == [[3, 3]]
        await first
        assert encoder.runs == [[1, 2], [3]]


async def test_a_second_batch_that_fills_the_token_budget_starts_at_once() -> None:
    with two_workers(max_batch_tokens=10) as (b, encoder):
        first = await running(b, encoder, [item(1), item(2), item(3)])  # 9 tokens
        second = asyncio.create_task(b.run([item(4, length=10)]))  # one input, but a whole budget
        assert await eventually_async(lambda: encoder.most_active == 2)
        encoder.gate.set()
        assert (await second).tolist() == [[4, 10]]
        await first


async def test_a_lone_job_behind_a_long_batch_starts_after_max_wait() -> None:
    with two_workers(max_wait=0.05) as (b, encoder):
        first = await running(b, encoder, [item(1), item(2), item(3)])  # a bulk batch that does not end
        lone = asyncio.create_task(b.run([item(4)]))
        assert await eventually_async(lambda: encoder.most_active == 2, seconds=2)  # not held until the gate opens
        encoder.gate.set()
        assert (await lone).tolist() == [[4, 3]]
        await first


async def test_a_job_that_arrives_too_slowly_to_fill_a_batch_in_time_starts_at_once() -> None:
    with two_workers(max_wait=1.0) as (b, encoder):
        first = await running(b, encoder, [item(i) for i in range(1, 51)])  # a bulk batch of 50
        loop = asyncio.get_running_loop()
        began = loop.time()
        early = asyncio.create_task(b.run([item(51)]))
        await asyncio.sleep(0.2)
        late = asyncio.create_task(b.run([item(52)]))  # one input per 0.2 s: 48 more would take ~10 s
        assert await eventually_async(lambda: encoder.most_active == 2)
        assert loop.time() - began < 0.8  # started on the rate, before the 1 s bound ran out
        encoder.gate.set()
        assert [(await t).tolist() for t in (early, late)] == [[[51, 3]], [[52, 3]]]
        await first


async def test_no_wait_starts_a_second_batch_at_once() -> None:
    with two_workers(max_wait=0.0) as (b, encoder):  # --batch-wait 0; with a long bound this job is held
        first = await running(b, encoder, [item(1), item(2)])  # (test_a_smaller_batch_starts_once_...)
        second = asyncio.create_task(b.run([item(3)]))
        assert await eventually_async(lambda: encoder.most_active == 2, seconds=2)
        encoder.gate.set()
        assert (await second).tolist() == [[3, 3]]
        await first
