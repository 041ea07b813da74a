"""Batch sampling of the multilingual trainers: deterministic per step, language shares as configured."""

from __future__ import annotations

from collections import Counter

import pytest

from training.multilingual.examples import LanguageSampler

# Three "languages" of 9000, 900 and 100 sentences (indices are disjoint ranges).
GROUPS = [list(range(0, 9000)), list(range(9000, 9900)), list(range(9900, 10000))]


def _shares(sampler: LanguageSampler, steps: int = 200, batch: int = 64) -> list[float]:
    counts: Counter[int] = Counter()
    for step in range(steps):
        for i in sampler(batch, step, seed=13):
            counts[0 if i < 9000 else 1 if i < 9900 else 2] += 1
    total = sum(counts.values())
    return [counts[g] / total for g in range(3)]


def test_batches_depend_on_seed_and_step_only() -> None:
    a, b = LanguageSampler(GROUPS, 0.5), LanguageSampler(GROUPS, 0.5)
    assert a(64, 7, seed=13) == b(64, 7, seed=13)
    assert a(64, 7, seed=13) != a(64, 8, seed=13) != a(64, 7, seed=14)
    assert len(a(64, 7, seed=13)) == 64


@pytest.mark.parametrize(("alpha", "expected"), [(1.0, [0.9, 0.09, 0.01]), (0.0, [1 / 3, 1 / 3, 1 / 3])])
def test_language_shares_follow_alpha(alpha: float, expected: list[float]) -> None:
    for share, want in zip(_shares(LanguageSampler(GROUPS, alpha)), expected, strict=True):
        assert share == pytest.approx(want, abs=0.02)


def test_smaller_alpha_gives_the_small_language_more_and_empty_groups_are_ignored() -> None:
    half = _shares(LanguageSampler([*GROUPS, []], 0.5))
    # sqrt sizes 94.9 : 30 : 10 -> the 100-sentence language gets ~7.4 % instead of 1 %.
    assert half[2] == pytest.approx(10 / (94.87 + 30 + 10), abs=0.015)
