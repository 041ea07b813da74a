"""Packed rows: the planner's budgets and order, and the arrays a packed graph is fed."""

from __future__ import annotations

import numpy as np
import pytest

from lexsent.packing import graph_feed, pack_rows, plan_runs
from lexsent.tokenizer import Tokenized


def _tok(ids: list[int]) -> Tokenized:
    return Tokenized(ids=ids, type_ids=[0] * len(ids), truncated=False)


def test_rows_fill_up_to_the_row_budget_longest_first() -> None:
    lengths = [3, 10, 4, 7, 2, 6]
    runs = plan_runs(lengths, max_row_tokens=12, max_run_tokens=12)
    assert runs == [[[1]], [[3]], [[5, 2]], [[0, 4]]]  # 10 | 7 | 6+4 | 3+2, one row per run: none over 12
    assert sorted(i for run in runs for row in run for i in row) == list(range(len(lengths)))


def test_a_run_takes_rows_while_rows_times_the_longest_fits_the_run_budget() -> None:
    runs = plan_runs([5] * 8, max_row_tokens=10, max_run_tokens=30)
    assert runs == [[[0, 1], [2, 3], [4, 5]], [[6, 7]]]  # three rows of 10 tokens = 30
    assert plan_runs([1] * 5, max_row_tokens=256, max_run_tokens=256, max_run_inputs=2) == [[[0, 1]], [[2, 3]], [[4]]]


def test_an_input_over_the_row_budget_gets_a_row_of_its_own() -> None:
    assert plan_runs([300, 5, 5], max_row_tokens=256, max_run_tokens=256) == [[[0]], [[1, 2]]]
    with pytest.raises(ValueError):
        plan_runs([1], max_row_tokens=0, max_run_tokens=1)


def test_packed_rows_hold_inputs_end_to_end_numbered_across_rows() -> None:
    feed = pack_rows([[_tok([101, 7, 102]), _tok([101, 102])], [_tok([101, 8, 9, 102])]], pad_id=0)
    np.testing.assert_array_equal(feed["input_ids"], [[101, 7, 102, 101, 102], [101, 8, 9, 102, 0]])
    np.testing.assert_array_equal(feed["segment_ids"], [[0, 0, 0, 1, 1], [2, 2, 2, 2, -1]])
    np.testing.assert_array_equal(feed["position_ids"], [[0, 1, 2, 0, 1], [0, 1, 2, 3, 0]])
    assert all(array.dtype == np.int64 for array in feed.values())


def test_the_feed_follows_the_graph_inputs() -> None:
    items = [_tok([101, 7, 102]), _tok([101, 102]), _tok([101, 5, 6, 7, 102])]
    padded = graph_feed(["input_ids", "attention_mask"], items, pad_id=0)
    assert set(padded) == {"input_ids", "attention_mask"}
    np.testing.assert_array_equal(padded["attention_mask"][1], [1, 1, 0, 0, 0])
    packed = graph_feed(["input_ids", "segment_ids", "position_ids"], items, pad_id=0)
    np.testing.assert_array_equal(packed["segment_ids"], [[0, 0, 0, 1, 1], [2, 2, 2, 2, 2]])
