"""Retry with exponential backoff and full jitter on overload (429) and unavailability (503), waiting at
least what the server's `Retry-After` asks for (up to `max_delay`)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Retry:
    attempts: int = 5
    base_delay: float = 0.1
    max_delay: float = 5.0

    def delays(self) -> Iterator[float]:
        """Sleep before each retry; `attempts - 1` values."""
        for n in range(self.attempts - 1):
            yield random.uniform(0, min(self.max_delay, self.base_delay * 2**n))

    def wait(self, delay: float, retry_after: str | None) -> float:
        """`delay`, or the server's `Retry-After` seconds when longer, never past `max_delay` (an HTTP-date
        or a malformed value is ignored)."""
        try:
            asked = float(retry_after) if retry_after is not None else 0.0
        except ValueError:
            asked = 0.0
        if not 0.0 <= asked < float("inf"):
            asked = 0.0
        return min(self.max_delay, max(delay, asked))
