from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lexsent.batching import plan_batches


@given(st.lists(st.integers(1, 300), max_size=200), st.integers(1, 4096), st.integers(1, 64))
def test_plan_covers_each_index_once_within_budget(lengths: list[int], budget: int, size: int) -> None:
    batches = plan_batches(lengths, budget, size)
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= size
        padded = len(batch) * max(lengths[i] for i in batch)
        assert padded <= budget or len(batch) == 1  # only a lone over-long input may exceed the budget


def test_plan_groups_similar_lengths() -> None:
    lengths = [5, 100, 6, 101, 7, 99]
    # Longest first: 101 and 100 fill 2×101; a third row would pad to 303 > 300.
    assert plan_batches(lengths, 300, 8) == [[3, 1], [5, 4, 2], [0]]
    assert plan_batches(lengths, 1000, 2) == [[3, 1], [5, 4], [2, 0]]


def test_plan_rejects_bad_budget() -> None:
    with pytest.raises(ValueError):
        plan_batches([1], 0)
