"""MirrorBERT's input augmentation: one view of each item gets a random span of k tokens masked.

The span never covers [CLS]/[SEP]/padding, and at least one content token stays visible (a
three-piece word with k = 5 keeps one piece), so the two views remain views of the same item.
The other source of difference between the views is dropout, applied by the model in train mode.
"""

from __future__ import annotations

import torch


def mask_random_span(
    input_ids: torch.Tensor, attention: torch.Tensor, k: int, mask_id: int, gen: torch.Generator
) -> torch.Tensor:
    """Copy of `input_ids` with one random span of up to k content tokens per row set to `mask_id`."""
    out = input_ids.clone()
    if k <= 0:
        return out
    lengths = attention.sum(dim=1).tolist()
    for row, length in enumerate(lengths):
        content = int(length) - 2  # without [CLS] ... [SEP]
        span = min(k, content - 1)
        if span <= 0:
            continue
        start = 1 + int(torch.randint(0, content - span + 1, (), generator=gen))
        out[row, start : start + span] = mask_id
    return out
