"""BERT-family masking strategies: token, whole-word, and SpanBERT-style geometric spans.

All three pick ~15% of a sequence's maskable tokens (not [CLS]/[SEP]/padding) and apply BERT's
80/10/10 rule ([MASK] / random token / unchanged). They differ in the *unit* chosen: single
sub-word tokens, whole words (all word pieces of a word), or spans of whole words whose length is
drawn from Geometric(p=0.2) clipped at 10 (SpanBERT). Every draw uses the caller's generator, so
masking is reproducible and resumable.
"""

from __future__ import annotations

from enum import StrEnum

import torch

IGNORE = -100


class Masking(StrEnum):
    TOKEN = "token"
    WHOLE_WORD = "whole-word"
    SPAN = "span"


def _geometric(gen: torch.Generator, p: float, cap: int) -> int:
    u = float(torch.rand((), generator=gen))
    length = 1
    while u > p and length < cap:  # P(L = l) = (1-p)^(l-1) p
        u = float(torch.rand((), generator=gen))
        length += 1
    return length


def _units(word_ids: list[int | None], masking: Masking) -> list[list[int]]:
    """Groups of token positions that are masked together."""
    if masking is Masking.TOKEN:
        return [[i] for i, w in enumerate(word_ids) if w is not None]
    groups: dict[int, list[int]] = {}
    for i, w in enumerate(word_ids):
        if w is not None:
            groups.setdefault(w, []).append(i)
    return list(groups.values())


def choose_positions(
    word_ids: list[int | None], masking: Masking, gen: torch.Generator, rate: float = 0.15
) -> list[int]:
    units = _units(word_ids, masking)
    n_tokens = sum(len(u) for u in units)
    if not units:
        return []
    budget = max(1, round(rate * n_tokens))
    chosen: set[int] = set()
    if masking is Masking.SPAN:
        attempts = 0
        while len(chosen) < budget and attempts < 50:
            attempts += 1
            length = min(_geometric(gen, 0.2, 10), len(units))
            start = int(torch.randint(0, len(units) - length + 1, (), generator=gen))
            span = [pos for unit in units[start : start + length] for pos in unit]
            if len(chosen) + len(span) <= budget or not chosen:
                chosen.update(span)
    else:
        for index in torch.randperm(len(units), generator=gen).tolist():
            if len(chosen) >= budget:
                break
            chosen.update(units[index])
    return sorted(chosen)


def mask_batch(
    input_ids: torch.Tensor,
    word_ids: list[list[int | None]],
    masking: Masking,
    gen: torch.Generator,
    mask_id: int,
    vocab_size: int,
    first_regular_id: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(masked input ids, labels with IGNORE everywhere except the chosen positions)."""
    inputs = input_ids.clone()
    labels = torch.full_like(input_ids, IGNORE)
    for row, words in enumerate(word_ids):
        positions = choose_positions(words, masking, gen)
        if not positions:
            continue
        index = torch.tensor(positions)
        labels[row, index] = input_ids[row, index]
        action = torch.rand(len(positions), generator=gen)
        randoms = torch.randint(first_regular_id, vocab_size, (len(positions),), generator=gen)
        replaced = torch.where(action < 0.8, torch.full_like(randoms, mask_id), input_ids[row, index])
        replaced = torch.where((action >= 0.8) & (action < 0.9), randoms, replaced)
        inputs[row, index] = replaced
    return inputs, labels
