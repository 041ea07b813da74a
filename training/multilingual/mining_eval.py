"""Bitext-mining F1 on held-out pairs: shuffled translations hidden among distractors.

Per language the test pairs are split in two halves (dev, test). In each half 60% of the pairs stay
aligned; of the rest, one fifth keep only their xx side and one fifth only their English side, so
those sentences have no partner (distractors). The English side is shuffled. Pairs are mined with
`lexsent.margin.mine` (max strategy) under cosine and under ratio-margin scoring; each scoring's
threshold is the F1-best one on the dev half, and F1 is reported on the test half.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lexsent.margin import DEFAULT_K, MinedPair, Scoring, mine

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class MiningTask:
    source: Vectors
    target: Vectors
    gold: frozenset[tuple[int, int]]


@dataclass(frozen=True)
class MiningResult:
    scoring: Scoring
    threshold: float
    precision: float
    recall: float
    f1: float


def make_task(xx: Vectors, en: Vectors, seed: int) -> MiningTask:
    """Rows i of xx and en are translations; keep 60% aligned, 20% xx-only and 20% en-only, shuffled."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(xx))
    n_aligned = int(0.6 * len(xx))
    aligned, rest = order[:n_aligned], order[n_aligned:]
    xx_only, en_only = rest[: len(rest) // 2], rest[len(rest) // 2 :]
    source_rows = np.concatenate([aligned, xx_only])
    target_rows = rng.permutation(np.concatenate([aligned, en_only]))
    target_pos = {int(row): pos for pos, row in enumerate(target_rows)}
    gold = frozenset((i, target_pos[int(row)]) for i, row in enumerate(source_rows[:n_aligned]))
    return MiningTask(xx[source_rows], en[target_rows], gold)


def _sweep(pairs: Sequence[MinedPair], gold: frozenset[tuple[int, int]]) -> list[tuple[float, float, float, float]]:
    """(threshold, precision, recall, f1) for every cut of the best-first pair list."""
    out, correct = [], 0
    for n, pair in enumerate(pairs, start=1):
        correct += (pair.source, pair.target) in gold
        precision, recall = correct / n, correct / len(gold)
        f1 = 2 * precision * recall / (precision + recall) if correct else 0.0
        out.append((pair.score, precision, recall, f1))
    return out


def _at(pairs: Sequence[MinedPair], gold: frozenset[tuple[int, int]], threshold: float) -> tuple[float, float, float]:
    kept = [p for p in pairs if p.score >= threshold]
    correct = sum((p.source, p.target) in gold for p in kept)
    precision = correct / len(kept) if kept else 0.0
    recall = correct / len(gold)
    f1 = 2 * precision * recall / (precision + recall) if correct else 0.0
    return precision, recall, f1


def evaluate_mining(xx: Vectors, en: Vectors, seed: int = 7) -> list[MiningResult]:
    half = len(xx) // 2
    dev = make_task(xx[:half], en[:half], seed)
    test = make_task(xx[half:], en[half:], seed + 1)
    results = []
    for scoring in Scoring:
        dev_pairs = mine(dev.source, dev.target, k=DEFAULT_K, threshold=-np.inf, scoring=scoring)
        best = max(_sweep(dev_pairs, dev.gold), key=lambda row: row[3])
        test_pairs = mine(test.source, test.target, k=DEFAULT_K, threshold=-np.inf, scoring=scoring)
        results.append(MiningResult(scoring, best[0], *_at(test_pairs, test.gold, best[0])))
    return results
