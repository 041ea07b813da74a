"""MirrorBERT's input augmentation: one view of each item gets a random span of k units masked.

Two units. `char` is what the authors' released code does: k characters of the text are replaced by
the mask token, and texts shorter than 30 characters are left whole (dropout alone makes their views
differ). `token` masks k tokens after tokenisation; the span never covers [CLS]/[SEP]/padding and at
least one content token stays visible. On short UI strings a 5-token span hides half the text, a
5-character span a word or two. The other source of difference between the views is dropout.
"""

from __future__ import annotations

from enum import StrEnum

import torch

MIN_CHARS_TO_MASK = 30  # the authors' code leaves shorter texts unmasked


class SpanUnit(StrEnum):
    CHAR = "char"
    TOKEN = "token"


def mask_char_span(text: str, k: int, mask_token: str, gen: torch.Generator) -> str:
    """`text` with k consecutive characters at a random position replaced by `mask_token`."""
    if k <= 0 or len(text) < max(MIN_CHARS_TO_MASK, k + 1):
        return text
    start = int(torch.randint(0, len(text) - k, (), generator=gen))
    return f"{text[:start]} {mask_token} {text[start + k :]}".strip()


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
