"""Packed runs: several inputs laid end to end in each row, so a run computes (almost) no padding.

A batch of short inputs of mixed length, which is what a server gathers from concurrent requests,
pads every row to its longest: with 10–30-token inputs a quarter of the work is padding. A packed
graph (`PACKED_INPUTS`) instead takes rows that each hold several inputs' tokens, `segment_ids` saying
which input each token belongs to (attention stays within an input, pooling is per input; -1 marks a
short row's tail) and `position_ids` restarting at 0 for each, and returns one embedding per input. The exporter writes
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


def pack_rows(rows: Sequence[Sequence[Tokenized]], pad_id: int) -> dict[str, IntArray]:
    """Rows [len(rows), longest row's tokens], each holding its inputs end to end. Inputs are numbered
    across rows in order (the graph returns their vectors in that order); a short row's tail is padding,
    segment -1, which belongs to no input."""
    width = max(sum(len(t) for t in row) for row in rows)
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    segments = np.full((len(rows), width), -1, dtype=np.int64)
    positions = np.zeros((len(rows), width), dtype=np.int64)
    number = 0
    for r, row in enumerate(rows):
        start = 0
        for tok in row:
            stop = start + len(tok)
            ids[r, start:stop] = tok.ids
            segments[r, start:stop] = number
            positions[r, start:stop] = np.arange(len(tok))
            start, number = stop, number + 1
    return {"input_ids": ids, "segment_ids": segments, "position_ids": positions}


def graph_feed(inputs: Sequence[str], items: Sequence[Tokenized], pad_id: int) -> dict[str, IntArray]:
    """The feed of one run of `items` (vectors come back in their order) for a graph taking `inputs`: a
    padded batch, or two packed rows, each half of `items`, so a check of a packed graph on it covers
    inputs sharing a row, rows of different lengths and a row's padding."""
    if not is_packed(inputs):
        feed = pad_batch(items, pad_id)
    else:
        half = (len(items) + 1) // 2
        feed = pack_rows([items[:half], items[half:]] if len(items) > 1 else [items], pad_id)
    return {name: feed[name] for name in inputs}


def plan_runs(
    lengths: Sequence[int], max_row_tokens: int, max_run_tokens: int, max_run_inputs: int = 256
) -> list[list[list[int]]]:
    """Runs of rows of input indices. Rows hold at most `max_row_tokens` tokens (attention costs the
    square of a row's length, so rows stay short), filled longest first, so they come out nearly full and
    of similar length; a run takes rows while rows × its longest row stays within `max_run_tokens` (the
    padded-token budget a padded batch has too) and its inputs within `max_run_inputs`. On CPU the
    budget is one row; with CUDA's, a run is many. An input longer than a row gets a row of its own."""
    if min(max_row_tokens, max_run_tokens, max_run_inputs) <= 0:
        raise ValueError("max_row_tokens, max_run_tokens and max_run_inputs must be positive")
    rows: list[list[int]] = []
    used: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True):
        if rows and used[-1] + lengths[i] <= max_row_tokens and len(rows[-1]) < max_run_inputs:
            rows[-1].append(i)
            used[-1] += lengths[i]
        else:
            rows.append([i])
            used.append(lengths[i])
    runs: list[list[list[int]]] = []
    longest = inputs = 0
    for row, tokens in zip(rows, used, strict=True):
        width = max(longest, tokens)
        if runs and (len(runs[-1]) + 1) * width <= max_run_tokens and inputs + len(row) <= max_run_inputs:
            runs[-1].append(row)
            longest, inputs = width, inputs + len(row)
        else:
            runs.append([row])
            longest, inputs = tokens, len(row)
    return runs
