"""Token-budget batch planning: sort by length so padding stays small, cap padded tokens per batch."""

from __future__ import annotations

from collections.abc import Sequence


def plan_batches(lengths: Sequence[int], max_batch_tokens: int, max_batch_size: int = 256) -> list[list[int]]:
    """Group indices into batches whose padded size (rows × longest row) fits `max_batch_tokens`.

    Indices are visited longest first, so each batch holds inputs of similar length. An input longer
    than the budget still gets a batch of its own: the budget bounds batching, not input length.
    """
    if max_batch_tokens <= 0 or max_batch_size <= 0:
        raise ValueError("max_batch_tokens and max_batch_size must be positive")
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        width = max(longest, lengths[i])
        if current and ((len(current) + 1) * width > max_batch_tokens or len(current) >= max_batch_size):
            batches.append(current)
            current, width = [], lengths[i]
        current.append(i)
        longest = width
    if current:
        batches.append(current)
    return batches
