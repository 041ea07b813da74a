"""Ratio-margin scoring (Artetxe & Schwenk 2019) for cross-lingual retrieval and bitext mining.

Raw cosine is biased by "hubs": some vectors sit close to everything, so a nearest neighbour is not
necessarily a translation. The ratio margin divides the cosine of a candidate pair by the mean cosine of
each side's k nearest neighbours in the other set, so a pair only scores high when it stands out from
both neighbourhoods:

    margin(x, y) = cos(x, y) / (sum_{z in NN_k(x)} cos(x, z) / 2k + sum_{z in NN_k(y)} cos(y, z) / 2k)

One implementation, torch-free (numpy + FAISS exact inner product), shared by collection search
(`scoring: "margin"`), `lexsent mine` and the Tatoeba evaluation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import faiss
import numpy as np
import numpy.typing as npt

from lexsent.errors import InvalidInputError

Matrix = npt.NDArray[np.float32]
DEFAULT_K = 4
# Used when a model carries no tuned threshold (`mining.threshold_<scoring>` in its manifest evaluation).
FALLBACK_THRESHOLDS = {"cosine": 0.6, "margin": 1.06}


class Scoring(StrEnum):
    """How a candidate pair is scored: raw cosine, or cosine relative to both neighbourhoods."""

    COSINE = "cosine"
    MARGIN = "margin"


class MiningStrategy(StrEnum):
    """How candidate pairs are selected from the two directions.

    FORWARD: best target for every source; BACKWARD: best source for every target; INTERSECT: pairs
    that are each other's best (mutual); MAX: the union of both directions, then greedily one-to-one by
    descending score (the LASER "max" strategy).
    """

    FORWARD = "forward"
    BACKWARD = "backward"
    INTERSECT = "intersect"
    MAX = "max"


def default_threshold(scoring: Scoring, evaluation: dict[str, float]) -> float:
    """The model's F1-tuned mining threshold (recorded by `lexsent eval --task mining`), else a fallback."""
    return float(evaluation.get(f"mining.threshold_{scoring.value}", FALLBACK_THRESHOLDS[scoring.value]))


@dataclass(frozen=True)
class MinedPair:
    source: int
    target: int
    score: float


def normalize(vectors: npt.ArrayLike) -> Matrix:
    """Row-wise L2 normalisation into a fresh contiguous float32 array (zero rows stay zero)."""
    array = np.array(vectors, dtype=np.float32, copy=True, ndmin=2)
    if array.ndim != 2:
        raise InvalidInputError(f"expected a 2-D array of vectors, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise InvalidInputError("vectors contain NaN or infinite values")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    np.divide(array, norms, out=array, where=norms > 0)
    return np.ascontiguousarray(array)


def _check_pair(x: Matrix, y: Matrix) -> None:
    if x.shape[0] == 0 or y.shape[0] == 0:
        raise InvalidInputError("margin scoring needs at least one vector on each side")
    if x.shape[1] != y.shape[1]:
        raise InvalidInputError(f"dimension mismatch: {x.shape[1]} vs {y.shape[1]}")


def knn(queries: Matrix, keys: Matrix, k: int) -> tuple[Matrix, npt.NDArray[np.int64]]:
    """Exact top-k cosine neighbours of each (normalised) query among (normalised) keys."""
    index = faiss.IndexFlatIP(keys.shape[1])
    index.add(keys)
    scores, ids = index.search(queries, min(k, keys.shape[0]))
    return scores.astype(np.float32), ids.astype(np.int64)


def neighbourhood_mean(queries: Matrix, keys: Matrix, k: int = DEFAULT_K) -> Matrix:
    """Mean cosine of each query's k nearest keys: the per-vector denominator term of the margin."""
    if k < 1:
        raise InvalidInputError(f"k must be >= 1, got {k}")
    scores, _ = knn(queries, keys, k)
    means: Matrix = scores.mean(axis=1, dtype=np.float32)
    return means


def ratio_margin(cosines: npt.ArrayLike, x_mean: npt.ArrayLike, y_mean: npt.ArrayLike) -> Matrix:
    """Margin of cosines given each side's neighbourhood means (broadcasts: pairs, rows or full matrices)."""
    denominator = (np.asarray(x_mean, dtype=np.float32) + np.asarray(y_mean, dtype=np.float32)) / 2
    # A denominator <= 0 only happens for degenerate (e.g. zero) vectors; clamp so scores stay finite.
    return (np.asarray(cosines, dtype=np.float32) / np.maximum(denominator, 1e-6)).astype(np.float32)


def margin_matrix(x: npt.ArrayLike, y: npt.ArrayLike, k: int = DEFAULT_K) -> Matrix:
    """Full [len(x), len(y)] margin matrix; fine for evaluation-sized sets (thousands)."""
    xs, ys = normalize(x), normalize(y)
    _check_pair(xs, ys)
    x_mean = neighbourhood_mean(xs, ys, k)
    y_mean = neighbourhood_mean(ys, xs, k)
    return ratio_margin(xs @ ys.T, x_mean[:, None], y_mean[None, :])


def cosine_search(
    queries: npt.ArrayLike, keys: npt.ArrayLike, candidates: int = 16
) -> tuple[Matrix, npt.NDArray[np.int64]]:
    """Top candidates per query by plain cosine; same shape of answer as :func:`margin_search`."""
    qs, ks = normalize(queries), normalize(keys)
    _check_pair(qs, ks)
    if candidates < 1:
        raise InvalidInputError(f"candidates must be >= 1, got {candidates}")
    return knn(qs, ks, candidates)


def margin_search(
    queries: npt.ArrayLike,
    keys: npt.ArrayLike,
    k: int = DEFAULT_K,
    candidates: int = 16,
    key_means: npt.ArrayLike | None = None,
) -> tuple[Matrix, npt.NDArray[np.int64]]:
    """Top candidates per query re-ranked by margin; returns (scores, ids) sorted by descending margin.

    `key_means` lets a caller that holds a large, slowly changing key set (a collection) pass
    precomputed neighbourhood means of the keys instead of recomputing them against the queries.
    Without it, each key's neighbourhood is taken among the queries (the bitext-mining definition).
    """
    qs, ks = normalize(queries), normalize(keys)
    _check_pair(qs, ks)
    if candidates < 1:
        raise InvalidInputError(f"candidates must be >= 1, got {candidates}")
    cos, ids = knn(qs, ks, max(candidates, k))
    q_mean = cos[:, : min(k, cos.shape[1])].mean(axis=1)
    k_mean = neighbourhood_mean(ks, qs, k) if key_means is None else np.asarray(key_means, np.float32)
    if k_mean.shape != (ks.shape[0],):
        raise InvalidInputError(f"key_means must have shape ({ks.shape[0]},), got {k_mean.shape}")
    scores = ratio_margin(cos, q_mean[:, None], k_mean[ids])
    order = np.argsort(-scores, axis=1, kind="stable")
    return np.take_along_axis(scores, order, axis=1), np.take_along_axis(ids, order, axis=1)


def mine(
    source: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    k: int = DEFAULT_K,
    threshold: float = 1.0,
    strategy: MiningStrategy = MiningStrategy.MAX,
    scoring: Scoring = Scoring.MARGIN,
    candidates: int = 16,
) -> list[MinedPair]:
    """Aligned (source, target) index pairs scoring at least `threshold`, best first.

    Pairs are taken greedily by descending score, so cutting the list at a higher threshold gives
    the same result as mining with that threshold (thresholds can be tuned on one mining run).
    Each sentence appears in at most one returned pair. 1.0 means "no better than the neighbourhood
    average"; the best cut depends on the encoder and is tuned on held-out pairs (see docs/multilingual.md).
    """
    if math.isnan(threshold):  # NaN compares false with every score: it would keep every pair (-inf keeps all)
        raise InvalidInputError("threshold must be a number, not NaN")
    xs, ys = normalize(source), normalize(target)
    _check_pair(xs, ys)
    if scoring is Scoring.MARGIN:
        forward_scores, forward_ids = margin_search(xs, ys, k, candidates)
        backward_scores, backward_ids = margin_search(ys, xs, k, candidates)
    else:
        forward_scores, forward_ids = cosine_search(xs, ys, candidates)
        backward_scores, backward_ids = cosine_search(ys, xs, candidates)
    forward = {(i, int(forward_ids[i, 0])): float(forward_scores[i, 0]) for i in range(xs.shape[0])}
    backward = {(int(backward_ids[j, 0]), j): float(backward_scores[j, 0]) for j in range(ys.shape[0])}
    if strategy is MiningStrategy.FORWARD:
        chosen = forward
    elif strategy is MiningStrategy.BACKWARD:
        chosen = backward
    elif strategy is MiningStrategy.INTERSECT:
        chosen = {pair: score for pair, score in forward.items() if pair in backward}
    else:
        chosen = {**backward, **forward}
    used_source: set[int] = set()
    used_target: set[int] = set()
    pairs: list[MinedPair] = []
    for (i, j), score in sorted(chosen.items(), key=lambda item: (-item[1], item[0])):
        if score < threshold or i in used_source or j in used_target:
            continue
        used_source.add(i)
        used_target.add(j)
        pairs.append(MinedPair(i, j, score))
    return pairs
