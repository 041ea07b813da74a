from __future__ import annotations

import numpy as np
import pytest

from lexsent.errors import InvalidInputError
from training.evaluation.metrics import average_ranks, retrieval, spearman


def test_retrieval_matches_hand_computed_ranks() -> None:
    queries = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)
    candidates = np.array([[1, 0], [0.6, 0.8], [-1, 0]], dtype=np.float32)
    # cosines: q0 → [1, .6, -1]; q1 → [0, .8, 0]; q2 → [.707, .990, -.707]
    # gold: q0→c0 (rank 1), q1→c0 (rank 2, tied with c2 → pessimistic 3), q2→c2 (rank 3)
    result = retrieval(queries, candidates, [{0}, {0}, {2}])
    assert result.p_at_1 == pytest.approx(1 / 3)
    assert result.mrr == pytest.approx((1 + 1 / 3 + 1 / 3) / 3)


def test_retrieval_excludes_the_query_itself_and_accepts_any_relevant() -> None:
    vectors = np.array([[1, 0], [0.9, 0.1], [0, 1]], dtype=np.float32)
    result = retrieval(vectors, vectors, [{1}, {0, 2}, {1}], exclude=[0, 1, 2])
    assert result.p_at_1 == 1.0
    assert result.mrr == 1.0


def test_constant_embeddings_score_worst_not_best() -> None:
    vectors = np.ones((4, 3), dtype=np.float32)
    result = retrieval(vectors, vectors, [{i} for i in range(4)])
    assert result.p_at_1 == 0.0
    assert result.mrr == pytest.approx(0.25)


def test_spearman_with_ties_matches_hand_computation() -> None:
    assert average_ranks([10, 20, 20, 30]).tolist() == [1, 2.5, 2.5, 4]
    a, b = [1, 2, 3, 4, 5], [5, 6, 7, 8, 7]
    # ranks b = [1, 2, 3.5, 5, 3.5]; d = a_rank - b_rank = [0, 0, -.5, -1, 1.5]
    # centred ranks a = [-2, -1, 0, 1, 2], b = [-2, -1, .5, 2, .5]: Σab = 8, Σa² = 10, Σb² = 9.5
    assert spearman(a, b) == pytest.approx(8 / np.sqrt(10 * 9.5))  # 0.8208
    assert spearman(a, [-x for x in a]) == pytest.approx(-1.0)


def test_nan_embeddings_score_worst_not_best() -> None:
    """`x >= NaN` is false, so unguarded a NaN score would put every relevant item first (P@1 = MRR = 1)."""
    vectors = np.full((4, 3), np.nan, dtype=np.float32)
    result = retrieval(vectors, vectors, [{i} for i in range(4)])
    assert result.p_at_1 == 0.0
    assert result.mrr == pytest.approx(0.25)
    finite = np.eye(3, dtype=np.float32)
    broken = finite.copy()
    broken[0] = np.inf  # inf / inf normalises to NaN: its relevant item scores NaN and ranks last
    assert retrieval(broken, finite, [{0}, {1}, {2}]).p_at_1 == pytest.approx(2 / 3)


def test_spearman_ranks_nan_lowest_not_highest() -> None:
    nan = float("nan")
    assert spearman([nan, nan, nan, nan], [1, 2, 3, 4]) == 0.0  # collapsed: no correlation, not 1.0
    assert average_ranks([2.0, nan, 1.0, nan]).tolist() == [4, 1.5, 3, 1.5]
    assert spearman([nan, 1, 2], [0, 1, 2]) == pytest.approx(1.0)
    assert spearman([1, 2, nan], [1, 2, 3]) == pytest.approx(-0.5)


def test_nothing_to_score_is_refused_not_nan() -> None:
    with pytest.raises(InvalidInputError, match="no queries"):
        retrieval(np.zeros((0, 2), np.float32), np.eye(2, dtype=np.float32), [])
    with pytest.raises(InvalidInputError, match="no relevant candidate"):
        retrieval(np.eye(2, dtype=np.float32), np.eye(2, dtype=np.float32), [{0}, set()])
    with pytest.raises(InvalidInputError, match="at least 2"):
        spearman([0.5], [1.0])
