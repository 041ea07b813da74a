"""Packed rows: the planner's budget and order, and the arrays a packed graph is fed."""

from __future__ import annotations

import numpy as np
import pytest

from lexsent.packing import graph_feed, pack_row, plan_rows
from lexsent.tokenizer import Tokenized


def _tok(ids: list[int]) -> Tokenized:
    return Tokenized(ids=ids, type_ids=[0] * len(ids), truncated=False)


def test_rows_fill_up_to_the_token_budget_longest_first() -> None:
    lengths = [3, 10, 4, 7, 2, 6]
    rows = plan_rows(lengths, max_row_tokens=12)
    assert rows == [[1], [3], [5, 2], [0, 4]]  # 10 | 7 | 6+4 | 3+2, in order: no row over 12 tokens
    assert sorted(i for row in rows for i in row) == list(range(len(lengths)))


def test_an_input_over_the_budget_gets_a_row_of_its_own_and_rows_cap_their_inputs() -> None:
    assert plan_rows([300, 5, 5], max_row_tokens=256) == [[0], [1, 2]]
    assert plan_rows([1] * 5, max_row_tokens=256, max_row_inputs=2) == [[0, 1], [2, 3], [4]]
    with pytest.raises(ValueError):
        plan_rows([1], max_row_tokens=0)


def test_a_packed_row_holds_the_inputs_end_to_end_with_positions_restarting() -> None:
    feed = pack_row([_tok([101, 7, 102]), _tok([101, 102]), _tok([101, 8, 9, 102])])
    np.testing.assert_array_equal(feed["input_ids"], [[101, 7, 102, 101, 102, 101, 8, 9, 102]])
    np.testing.assert_array_equal(feed["segment_ids"], [[0, 0, 0, 1, 1, 2, 2, 2, 2]])
    np.testing.assert_array_equal(feed["position_ids"], [[0, 1, 2, 0, 1, 0, 1, 2, 3]])
    assert all(array.dtype == np.int64 for array in feed.values())


def test_the_feed_follows_the_graph_inputs() -> None:
    items = [_tok([101, 7, 102]), _tok([101, 102])]
    padded = graph_feed(["input_ids", "attention_mask"], items, pad_id=0)
    assert set(padded) == {"input_ids", "attention_mask"}
    np.testing.assert_array_equal(padded["attention_mask"], [[1, 1, 1], [1, 1, 0]])
    packed = graph_feed(["input_ids", "segment_ids", "position_ids"], items, pad_id=0)
    assert packed["input_ids"].shape == (1, 5)
