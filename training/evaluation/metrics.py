"""Retrieval and correlation metrics (numpy only), checked in tests against hand-computed values.

Ties in retrieval are broken pessimistically (a relevant item tied with an irrelevant one ranks
after it), so a model that maps everything to one vector scores worst, not best. Non-finite scores
(NaN or infinite vectors) rank below every finite one, for the same reason: `x >= NaN` is false, so
left as they are they would put a broken model's relevant item first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lexsent.errors import InvalidInputError

Matrix = npt.NDArray[np.float32]


def l2_normalise(x: Matrix) -> Matrix:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):  # a NaN row stays NaN, and the metrics rank it worst
        return np.asarray(x / np.maximum(norms, 1e-12), dtype=np.float32)


@dataclass(frozen=True)
class Retrieval:
    p_at_1: float
    mrr: float


def _worst_if_not_finite(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(array), array, -np.inf)


def first_relevant_ranks(scores: Matrix, relevant: Sequence[set[int]], exclude: Sequence[int | None]) -> list[int]:
    """1-based rank of the best-ranked relevant candidate per query row (excluded column ignored)."""
    ranks = []
    for i, row in enumerate(_worst_if_not_finite(scores)):
        if not relevant[i]:
            raise InvalidInputError(f"query {i} has no relevant candidate, so it has no rank")
        irrelevant = np.ones(row.shape[0], dtype=bool)
        irrelevant[sorted(relevant[i])] = False
        if exclude[i] is not None:
            irrelevant[exclude[i]] = False
        best = row[sorted(relevant[i])].max()
        ranks.append(1 + int(np.sum(row[irrelevant] >= best)))
    return ranks


def retrieval(
    queries: Matrix,
    candidates: Matrix,
    relevant: Sequence[set[int]],
    exclude: Sequence[int | None] | None = None,
) -> Retrieval:
    if not len(relevant):
        raise InvalidInputError("no queries to score")
    scores = l2_normalise(queries) @ l2_normalise(candidates).T
    ranks = first_relevant_ranks(scores, relevant, exclude or [None] * len(relevant))
    return Retrieval(p_at_1=float(np.mean([r == 1 for r in ranks])), mrr=float(np.mean([1.0 / r for r in ranks])))


def average_ranks(values: Sequence[float]) -> npt.NDArray[np.float64]:
    """Ranks 1..n with ties sharing their average rank (as Spearman requires); non-finite values tie lowest."""
    array = _worst_if_not_finite(values)
    order = np.argsort(array, kind="mergesort")
    ranks = np.empty(len(array), dtype=np.float64)
    i = 0
    while i < len(array):
        j = i
        while j + 1 < len(array) and array[order[j + 1]] == array[order[i]]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    if len(a) != len(b) or len(a) < 2:
        raise InvalidInputError(
            f"Spearman needs two equally long lists of at least 2 values, got {len(a)} and {len(b)}"
        )
    ra, rb = average_ranks(a), average_ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = float(np.sqrt((ra**2).sum() * (rb**2).sum()))
    return float((ra * rb).sum() / denom) if denom else 0.0


def pair_cosines(a: Matrix, b: Matrix) -> list[float]:
    return [float(x) for x in np.sum(l2_normalise(a) * l2_normalise(b), axis=1)]
