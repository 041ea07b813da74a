"""bench/serve's load cell: the timed window holds the full concurrency from its first to its last call,
counts exactly the requested calls, and uses each text once."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence

from bench.serve import WARM_UP, load, texts_needed


class FakeServer:
    """A send that takes `seconds` per call and records how many calls were in flight as each ended."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.in_flight = 0
        self.ends: list[tuple[float, int]] = []  # (time, calls in flight just before this one ended)
        self.sent: list[str] = []

    async def send(self, texts: Sequence[str]) -> None:
        self.sent.extend(texts)
        self.in_flight += 1
        await asyncio.sleep(self.seconds)
        self.ends.append((time.perf_counter(), self.in_flight))
        self.in_flight -= 1


def test_the_window_holds_the_concurrency_and_counts_the_requested_calls() -> None:
    concurrency, requests, per_request = 4, 40, 2
    fake = FakeServer(0.01)
    texts = [f"text {i}" for i in range(texts_needed(concurrency, requests, per_request))]
    cell = asyncio.run(load(fake.send, texts, concurrency, requests, os.getpid(), per_request))

    assert len(cell.latencies) == requests
    assert sorted(fake.sent) == sorted(texts)  # every text sent once, none twice
    # The warm-up calls run one at a time; then every call that ends inside the window (the completions
    # after the first `concurrency` up to the window's last) ends with `concurrency` calls in flight.
    timed = fake.ends[WARM_UP + concurrency : WARM_UP + concurrency + requests]
    assert {flight for _, flight in timed} == {concurrency}
    # Throughput is over the window only: `concurrency` calls per 10 ms, give or take the scheduler.
    assert 0.6 * concurrency * per_request / 0.01 < cell.rate < 1.05 * concurrency * per_request / 0.01
    assert all(0.0095 < latency < 0.1 for latency in cell.latencies)
