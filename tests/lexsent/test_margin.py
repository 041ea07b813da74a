"""Ratio-margin scoring: formula, hub suppression, and mining of planted pairs."""

from __future__ import annotations

import numpy as np
import pytest

from lexsent.errors import InvalidInputError
from lexsent.margin import (
    MiningStrategy,
    margin_matrix,
    margin_search,
    mine,
    neighbourhood_mean,
    normalize,
    ratio_margin,
)


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    return normalize(rng.standard_normal((n, dim)))


def test_margin_matrix_matches_brute_force_formula() -> None:
    rng = np.random.default_rng(0)
    x, y, k = _unit(rng, 7, 5), _unit(rng, 9, 5), 3
    cos = x @ y.T
    x_mean = np.sort(cos, axis=1)[:, ::-1][:, :k].mean(axis=1)
    y_mean = np.sort(cos.T, axis=1)[:, ::-1][:, :k].mean(axis=1)
    expected = cos / (x_mean[:, None] / 2 + y_mean[None, :] / 2)
    np.testing.assert_allclose(margin_matrix(x, y, k), expected, rtol=1e-5, atol=1e-6)


def test_margin_demotes_a_hub_that_cosine_prefers() -> None:
    # Query q is a bit closer to the hub h than to its true partner t, but h is close to every query.
    dim = 8
    t = np.eye(dim)[0]
    h = normalize(np.ones(dim))[0]
    q = normalize(0.55 * t + 0.6 * h)[0]
    others = normalize(0.2 * np.eye(dim)[1:6] + h)  # other queries cluster around the hub
    queries = np.vstack([q, others])
    keys = np.vstack([t, h, np.eye(dim)[6], np.eye(dim)[7]])
    cos_best = int(np.argmax(normalize(queries) @ normalize(keys).T, axis=1)[0])
    assert cos_best == 1
    scores, ids = margin_search(queries, keys, k=2, candidates=4)
    assert int(ids[0, 0]) == 0
    assert scores[0, 0] > scores[0, 1]


def test_mine_finds_planted_pairs_among_distractors() -> None:
    rng = np.random.default_rng(1)
    dim, n_pairs = 32, 50
    base = _unit(rng, n_pairs, dim)
    src = normalize(base + 0.06 * rng.standard_normal(base.shape))
    tgt = normalize(base + 0.06 * rng.standard_normal(base.shape))
    src = np.vstack([src, _unit(rng, 30, dim)])
    tgt = np.vstack([tgt, _unit(rng, 40, dim)])
    perm = rng.permutation(tgt.shape[0])
    pairs = mine(src, tgt[perm], k=4, threshold=1.4)
    truth = {(i, int(np.where(perm == i)[0][0])) for i in range(n_pairs)}
    found = {(p.source, p.target) for p in pairs}
    precision = len(found & truth) / max(len(found), 1)
    recall = len(found & truth) / len(truth)
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)
    assert [p.score for p in pairs] == sorted((p.score for p in pairs), reverse=True)
    assert len({p.source for p in pairs}) == len(pairs) == len({p.target for p in pairs})


@pytest.mark.parametrize("strategy", list(MiningStrategy))
def test_every_strategy_returns_one_to_one_pairs_above_threshold(strategy: MiningStrategy) -> None:
    rng = np.random.default_rng(2)
    x, y = _unit(rng, 20, 6), _unit(rng, 25, 6)
    pairs = mine(x, y, k=3, threshold=0.9, strategy=strategy)
    assert all(p.score >= 0.9 for p in pairs)
    assert len({p.source for p in pairs}) == len(pairs) == len({p.target for p in pairs})


def test_neighbourhood_mean_clamps_k_to_set_size() -> None:
    x = normalize(np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert neighbourhood_mean(x, x[:1], k=4) == pytest.approx([1.0, 0.0])


def test_ratio_margin_stays_finite_for_degenerate_denominator() -> None:
    assert np.isfinite(ratio_margin(np.float32(0.5), 0.0, -0.5)).all()


@pytest.mark.parametrize(
    ("x", "y"),
    [
        (np.zeros((0, 4)), np.ones((2, 4))),
        (np.ones((2, 4)), np.ones((2, 3))),
        (np.full((1, 2), np.nan), np.ones((1, 2))),
    ],
)
def test_bad_inputs_raise_typed_errors(x: np.ndarray, y: np.ndarray) -> None:
    with pytest.raises(InvalidInputError):
        margin_matrix(x, y)


def test_a_nan_threshold_is_refused_not_read_as_no_threshold() -> None:
    with pytest.raises(InvalidInputError, match="not NaN"):
        mine(np.eye(3), np.eye(3), threshold=float("nan"))
