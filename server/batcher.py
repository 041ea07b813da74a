"""Dynamic batching across concurrent requests, a few worker threads per model.

Requests hand in already-tokenised inputs; a free worker takes every waiting job that fits the token
budget, runs them as one `Encoder.run` call (which sorts by length and splits by padded size), and
hands each job its rows. While one batch runs, the next one accumulates, so batches grow with load and
a lone request pays no waiting time. Two workers (`--batch-workers`, the default) keep a second batch
in onnxruntime while the first runs, sharing the session's intra-op threads, which short batches leave
idle between operators (docs/server.md has the measurements). A worker starts a batch at once when no
other batch runs; while one does, it waits until the queue holds as many inputs as the smallest running
batch (or a full token budget), or until a batch ends, but only while the recent arrival rate says the
queue will get there within `max_wait` (--batch-wait) of its oldest job's arrival. Started on the first job, a second
batch was a third the size of the first (one or two inputs at concurrency 16: every hand-off of the GIL
let a worker take the queue), and small runs cost more CPU per input. Without the rate test and the time
bound, a lone request waited behind a bulk client's batch (`python -m bench.mixed`: p50 15 → 366 ms).
The queue is bounded in inputs; a request that would overflow it fails at once with `OverloadedError`
(429 / RESOURCE_EXHAUSTED) instead of waiting behind it.

Jobs carry plain event-loop futures, and a finished batch reaches the loop as one callback that settles
all of its jobs: one wake-up per batch rather than per request, and no per-request
`concurrent.futures.Future` (whose lock and condition cost the event loop more than the hand-off itself).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from lexsent.encoder import Encoder, RunAbandonedError, Vectors
from lexsent.errors import OverloadedError, UnavailableError
from lexsent.tokenizer import Tokenized
from server.metrics import Metrics

log = logging.getLogger(__name__)
# Weight of the newest gap between arrivals in the moving average of seconds per queued input.
_GAP_WEIGHT = 0.2


@dataclass
class _Job:
    items: Sequence[Tokenized]
    tokens: int
    future: asyncio.Future[Vectors]  # bound to the awaiting request's event loop
    queued_at: float  # time.monotonic()


def _settle(results: list[tuple[_Job, Vectors | Exception]]) -> None:
    """On the jobs' event loop: hand each job its rows or the batch's error, skipping cancelled jobs."""
    for job, result in results:
        if job.future.done():
            continue
        if isinstance(result, Exception):
            job.future.set_exception(result)
        else:
            job.future.set_result(result)


class Batcher:
    def __init__(
        self,
        encoder: Encoder,
        *,
        max_batch_tokens: int,
        max_queue: int,
        metrics: Metrics,
        workers: int = 2,
        max_wait: float,
    ) -> None:
        """`max_wait`: the longest a queued job waits for its batch to fill while another batch runs (a
        batch ending frees it sooner), what a request may pay for a fuller batch; 0 starts it at once."""
        self.encoder = encoder
        self.max_batch_tokens = max_batch_tokens
        self.max_queue = max_queue
        self.max_wait = max_wait
        self._metrics = metrics
        self._jobs: deque[_Job] = deque()
        self._queued = 0  # inputs in `_jobs`
        self._queued_tokens = 0
        self._running: list[int] = []  # inputs of each batch a worker is running
        self._gap = 0.0  # moving average of seconds between queued inputs (0: no arrivals yet)
        self._last_arrival: float | None = None
        self._cond = threading.Condition()
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._work, name=f"batcher-{encoder.name}-{i}", daemon=True) for i in range(workers)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Finish queued jobs, then end the workers."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join()

    def require_room(self, inputs: int) -> None:
        """Refuse `inputs` more if the queue cannot take them. `run` checks under the lock; callers also
        check before tokenising, so a full queue answers 429 without spending CPU on the request."""
        if self._stopping:
            raise UnavailableError("server is shutting down")
        if self._queued + inputs > self.max_queue:
            raise OverloadedError(
                f"model {self.encoder.name!r} has {self._queued} inputs queued (limit {self.max_queue}); "
                "retry with backoff"
            )

    async def run(self, items: Sequence[Tokenized]) -> Vectors:
        now = time.monotonic()
        job = _Job(items, sum(len(t) for t in items), asyncio.get_running_loop().create_future(), now)
        with self._cond:
            self.require_room(len(items))
            if self._last_arrival is not None:
                self._gap += _GAP_WEIGHT * ((now - self._last_arrival) / len(items) - self._gap)
            self._last_arrival = now
            self._jobs.append(job)
            self._queued += len(items)
            self._queued_tokens += job.tokens
            self._metrics.child(self._metrics.queue_depth, self.encoder.name).set(self._queued)
            self._cond.notify()
        # Cancelling the awaiting task (timeout, client gone) cancels the future: the job leaves the queue
        # (so its inputs stop counting against --max-queue) if it has not started, and its rows are
        # discarded, or the rest of its batch not computed, if it has.
        try:
            return await job.future
        except asyncio.CancelledError:
            self._withdraw(job)
            raise

    def _withdraw(self, job: _Job) -> None:
        with self._cond:
            try:
                self._jobs.remove(job)
            except ValueError:
                return  # a worker has it already
            self._queued -= len(job.items)
            self._queued_tokens -= job.tokens
            self._metrics.child(self._metrics.queue_depth, self.encoder.name).set(self._queued)

    def _hold(self) -> float | None:
        """Seconds a free worker should wait before starting a batch (the rule in the module docstring):
        0 to start now, None to wait for the next job."""
        if not self._jobs:
            return None
        if self._stopping or not self._running:
            return 0.0
        missing = min(self._running) - self._queued
        if missing <= 0 or self._queued_tokens >= self.max_batch_tokens:
            return 0.0
        left = self._jobs[0].queued_at + self.max_wait - time.monotonic()
        return left if left > 0 and missing * self._gap <= left else 0.0

    def _take(self) -> tuple[list[_Job], int] | None:
        """The next batch's live jobs and its size in inputs (counted in `_running` until `_done`)."""
        with self._cond:
            while (hold := self._hold()) != 0.0:
                if self._stopping and not self._jobs:
                    return None
                self._cond.wait(hold)
            taken = [self._jobs.popleft()]
            tokens = taken[0].tokens
            while self._jobs and tokens + self._jobs[0].tokens <= self.max_batch_tokens:
                job = self._jobs.popleft()
                taken.append(job)
                tokens += job.tokens
            inputs = sum(len(j.items) for j in taken)
            self._queued -= inputs
            self._queued_tokens -= tokens
            self._running.append(inputs)
            self._metrics.child(self._metrics.queue_depth, self.encoder.name).set(self._queued)
        # Reading another thread's future state is a benign race: a job cancelled just after this check
        # is computed and its rows dropped by `_settle`.
        return [job for job in taken if not job.future.cancelled()], inputs

    def _done(self, inputs: int) -> None:
        with self._cond:
            self._running.remove(inputs)
            self._cond.notify()  # a worker waiting for this batch to end may start one now

    def _work(self) -> None:
        while (taken := self._take()) is not None:
            jobs, inputs = taken
            try:
                self._run(jobs)
            finally:
                self._done(inputs)

    def _run(self, jobs: list[_Job]) -> None:
        if not jobs:
            return
        items = [item for job in jobs for item in job.items]
        name = self.encoder.name
        metrics = self._metrics
        metrics.child(metrics.batch_inputs, name).observe(len(items))
        metrics.child(metrics.batch_tokens, name).observe(sum(len(t) for t in items))
        try:
            # A job is cancelled when its request timed out, its client left or a drain ran out: once all
            # are, the rest of a large batch is not computed (a stopping server need not wait for it).
            vectors = self.encoder.run(items, abandoned=lambda: all(job.future.cancelled() for job in jobs))
        except RunAbandonedError:
            _deliver([(job, UnavailableError("the request was cancelled")) for job in jobs])
            return
        except Exception as exc:  # onnxruntime failures must reach the callers, not kill the worker
            log.exception("batch of %d inputs failed on model %s", len(items), name)
            _deliver([(job, exc) for job in jobs])
            return
        results: list[tuple[_Job, Vectors | Exception]] = []
        start = 0
        for job in jobs:
            results.append((job, vectors[start : start + len(job.items)]))
            start += len(job.items)
        _deliver(results)


def _deliver(results: list[tuple[_Job, Vectors | Exception]]) -> None:
    """One callback per event loop (in practice the server's only one) settles the whole batch."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, Vectors | Exception]]] = {}
    for job, result in results:
        by_loop.setdefault(job.future.get_loop(), []).append((job, result))
    for loop, mine in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, mine)
        except RuntimeError:  # that loop has closed: nobody is waiting for these rows
            continue
