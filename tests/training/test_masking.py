from __future__ import annotations

import pytest
import torch

from training.mirror.augment import mask_random_span
from training.mirror.loss import info_nce
from training.mlm.masking import IGNORE, Masking, choose_positions, mask_batch

# [CLS] the un ##believ ##able cat sat on the mat [SEP] [PAD]
WORDS: list[int | None] = [None, 0, 1, 1, 1, 2, 3, 4, 5, 6, None, None]


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_token_masking_picks_fifteen_percent_of_content_tokens() -> None:
    words: list[int | None] = [None, *range(40), None]
    positions = choose_positions(words, Masking.TOKEN, _gen())
    assert len(positions) == 6  # round(0.15 * 40)
    assert all(1 <= p <= 40 for p in positions)


@pytest.mark.parametrize("seed", range(20))
def test_whole_word_masking_never_splits_a_word(seed: int) -> None:
    positions = set(choose_positions(WORDS, Masking.WHOLE_WORD, _gen(seed)))
    assert positions
    pieces = {2, 3, 4}
    assert pieces <= positions or not pieces & positions
    assert not positions & {0, 10, 11}


@pytest.mark.parametrize("seed", range(20))
def test_span_masking_masks_contiguous_whole_words(seed: int) -> None:
    words: list[int | None] = [None, *[w for w in range(30) for _ in range(2)], None]
    positions = choose_positions(words, Masking.SPAN, _gen(seed))
    assert positions
    masked_words = {words[p] for p in positions}
    assert all(words.count(w) == sum(words[p] == w for p in positions) for w in masked_words)


def test_mask_batch_labels_only_chosen_positions_and_is_reproducible() -> None:
    ids = torch.arange(100, 112).unsqueeze(0)
    a_inputs, a_labels = mask_batch(ids, [WORDS], Masking.WHOLE_WORD, _gen(3), 4, 200, 5)
    b_inputs, b_labels = mask_batch(ids, [WORDS], Masking.WHOLE_WORD, _gen(3), 4, 200, 5)
    assert torch.equal(a_inputs, b_inputs) and torch.equal(a_labels, b_labels)
    chosen = a_labels != IGNORE
    assert torch.equal(a_labels[chosen], ids[chosen])
    assert torch.equal(a_inputs[~chosen], ids[~chosen])


def test_mirror_span_masks_k_tokens_of_one_row_and_keeps_specials() -> None:
    ids = torch.tensor([[2, 10, 11, 12, 13, 14, 15, 16, 3], [2, 20, 21, 3, 0, 0, 0, 0, 0]])
    attention = (ids != 0).long()
    out = mask_random_span(ids, attention, 5, 4, _gen())
    assert (out[0] == 4).sum() == 5
    masked = (out[0] == 4).nonzero().flatten().tolist()
    assert masked == list(range(masked[0], masked[0] + 5))
    assert (out[1] == 4).sum() == 1  # two content tokens: one stays visible
    assert out[:, 0].tolist() == [2, 2] and out[0, 8] == 3 and out[1, 3] == 3


def test_info_nce_matches_hand_computed_value() -> None:
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    b = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    t = 0.5
    # row 0 (a0): positive b0 cos 1; negatives a1 cos 0, b1 cos 0
    expected = -torch.log(torch.exp(torch.tensor(2.0)) / (torch.exp(torch.tensor(2.0)) + 2))
    assert info_nce(a, b, t).item() == pytest.approx(expected.item(), rel=1e-6)


def test_mirror_char_span_replaces_k_characters_and_leaves_short_texts_whole() -> None:
    from training.mirror.augment import MIN_CHARS_TO_MASK, mask_char_span

    short = "Open the file"
    assert len(short) < MIN_CHARS_TO_MASK and mask_char_span(short, 5, "[MASK]", _gen()) == short
    text = "Could not connect to the printer on the network"
    for seed in range(20):
        out = mask_char_span(text, 5, "[MASK]", _gen(seed))
        # exactly 5 consecutive characters hidden, somewhere in the text
        spans = [s for s in range(len(text) - 5) if out == f"{text[:s]} [MASK] {text[s + 5 :]}".strip()]
        assert len(spans) == 1
    assert mask_char_span(text, 5, "[MASK]", _gen(3)) == mask_char_span(text, 5, "[MASK]", _gen(3))
    assert mask_char_span(text, 0, "[MASK]", _gen()) == text
