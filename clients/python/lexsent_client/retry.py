"""Retry with exponential backoff and full jitter on overload (429) and unavailability (503)."""

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
