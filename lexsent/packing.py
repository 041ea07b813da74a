"""Packed runs: several inputs laid end to end in one row, so a run computes no padding.

A batch of short inputs of mixed length, which is what a server gathers from concurrent requests,
pads every row to its longest: with 10–30-token inputs a quarter of the work is padding. A packed
graph (`PACKED_INPUTS`) instead takes one row of all the inputs' tokens, `segment_ids` saying which
input each token belongs to (attention stays within an input, pooling is per input) and
`position_ids` restarting at 0 for each, and returns one embedding per input. The exporter writes
such a graph for BERT-style encoders and checks it against the padded torch model (`exporter.export`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lexsent.padding import IntArray, pad_batch
from lexsent.tokenizer import Tokenized

PACKED_INPUTS = ["input_ids", "segment_ids", "position_ids"]
# A row's attention costs the square of its length, so rows stay at most this long whatever the run
# budget (CUDA's budget of 8,192 padded tokens would be a 8,192² mask as one row).
MAX_ROW_TOKENS = 512


def is_packed(inputs: Sequence[str]) -> bool:
    """Whether a graph with these inputs takes packed rows (else padded ones, `lexsent.padding`)."""
    return "segment_ids" in inputs


def pack_row(items: Sequence[Tokenized]) -> dict[str, IntArray]:
    """One row [1, total tokens] holding `items` end to end."""
    ids = np.concatenate([np.asarray(t.ids, dtype=np.int64) for t in items])
    segments = np.repeat(np.arange(len(items), dtype=np.int64), [len(t) for t in items])
    positions = np.concatenate([np.arange(len(t), dtype=np.int64) for t in items])
    return {"input_ids": ids[None], "segment_ids": segments[None], "position_ids": positions[None]}


def graph_feed(inputs: Sequence[str], items: Sequence[Tokenized], pad_id: int) -> dict[str, IntArray]:
    """The feed of one run of `items` for a graph taking `inputs`: a packed row or a padded batch."""
    feed = pack_row(items) if is_packed(inputs) else pad_batch(items, pad_id)
    return {name: feed[name] for name in inputs}


def plan_rows(lengths: Sequence[int], max_row_tokens: int, max_row_inputs: int = 256) -> list[list[int]]:
    """Group indices into rows of at most `max_row_tokens` tokens (attention costs the square of a row's
    length, so rows stay short) and `max_row_inputs` inputs, longest first. A row holds no padding, so
    a row left part-empty costs nothing; an input longer than the budget gets a row of its own."""
    if max_row_tokens <= 0 or max_row_inputs <= 0:
        raise ValueError("max_row_tokens and max_row_inputs must be positive")
    rows: list[list[int]] = []
    current: list[int] = []
    used = 0
    for i in sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True):
        if current and (used + lengths[i] > max_row_tokens or len(current) >= max_row_inputs):
            rows.append(current)
            current, used = [], 0
        current.append(i)
        used += lengths[i]
    if current:
        rows.append(current)
    return rows
