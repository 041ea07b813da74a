"""Dynamic batching across concurrent requests, one worker thread per model.

Requests hand in already-tokenised inputs; the worker takes every waiting job that fits the token
budget, runs them as one `Encoder.run` call (which sorts by length and splits by padded size), and
hands each job its rows. No timer is involved: while one batch runs, the next one accumulates, so a
lone request pays no waiting time. The queue is bounded in inputs; a request that would overflow it
fails at once with `OverloadedError` (429 / RESOURCE_EXHAUSTED) instead of waiting behind it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from lexsent.encoder import Encoder, Vectors
from lexsent.errors import OverloadedError, UnavailableError
from lexsent.tokenizer import Tokenized
from server.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass
class _Job:
    items: Sequence[Tokenized]
    tokens: int
    future: concurrent.futures.Future[Vectors] = field(default_factory=concurrent.futures.Future)


class Batcher:
    def __init__(self, encoder: Encoder, *, max_batch_tokens: int, max_queue: int, metrics: Metrics) -> None:
        self.encoder = encoder
        self.max_batch_tokens = max_batch_tokens
        self.max_queue = max_queue
        self._metrics = metrics
        self._jobs: deque[_Job] = deque()
        self._queued = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name=f"batcher-{encoder.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Finish queued jobs, then end the worker."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join()

    async def run(self, items: Sequence[Tokenized]) -> Vectors:
        job = _Job(items, sum(len(t) for t in items))
        with self._cond:
            if self._stopping:
                raise UnavailableError("server is shutting down")
            if self._queued + len(items) > self.max_queue:
                raise OverloadedError(
                    f"model {self.encoder.name!r} has {self._queued} inputs queued (limit {self.max_queue}); "
                    "retry with backoff"
                )
            self._jobs.append(job)
            self._queued += len(items)
            self._metrics.queue_depth.labels(self.encoder.name).set(self._queued)
            self._cond.notify()
        # Cancelling the awaiting task (timeout, client gone) cancels the job if it has not started.
        return await asyncio.wrap_future(job.future)

    def _take(self) -> list[_Job] | None:
        with self._cond:
            while not self._jobs:
                if self._stopping:
                    return None
                self._cond.wait()
            taken = [self._jobs.popleft()]
            tokens = taken[0].tokens
            while self._jobs and tokens + self._jobs[0].tokens <= self.max_batch_tokens:
                job = self._jobs.popleft()
                taken.append(job)
                tokens += job.tokens
            self._queued -= sum(len(j.items) for j in taken)
            self._metrics.queue_depth.labels(self.encoder.name).set(self._queued)
        return [job for job in taken if job.future.set_running_or_notify_cancel()]

    def _work(self) -> None:
        while (jobs := self._take()) is not None:
            if not jobs:
                continue
            items = [item for job in jobs for item in job.items]
            name = self.encoder.name
            self._metrics.batch_inputs.labels(name).observe(len(items))
            self._metrics.batch_tokens.labels(name).observe(sum(len(t) for t in items))
            try:
                vectors = self.encoder.run(items)
            except Exception as exc:  # onnxruntime failures must reach the callers, not kill the worker
                log.exception("batch of %d inputs failed on model %s", len(items), name)
                for job in jobs:
                    job.future.set_exception(exc)
                continue
            start = 0
            for job in jobs:
                job.future.set_result(vectors[start : start + len(job.items)])
                start += len(job.items)
