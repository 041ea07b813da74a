"""Mining evaluation: the shuffled task's gold alignment is right, and F1 reflects embedding quality."""

from __future__ import annotations

import numpy as np

from lexsent.margin import Scoring, normalize
from training.multilingual.mining_eval import evaluate_mining, make_task


def test_make_task_gold_points_at_the_translation() -> None:
    rng = np.random.default_rng(0)
    en = normalize(rng.standard_normal((50, 8)))
    xx = en + 1.0  # row i of xx corresponds to row i of en
    task = make_task(xx, en, seed=1)
    assert len(task.gold) == 30 and len(task.source) == len(task.target) == 40
    for i, j in task.gold:
        np.testing.assert_allclose(task.source[i] - 1.0, task.target[j], atol=1e-6)


def test_f1_is_near_perfect_for_exact_translations_and_drops_with_noise() -> None:
    rng = np.random.default_rng(1)
    en = normalize(rng.standard_normal((200, 32)))
    exact = {r.scoring: r for r in evaluate_mining(en.copy(), en)}
    assert exact[Scoring.MARGIN].f1 >= 0.98 and exact[Scoring.COSINE].f1 >= 0.98  # threshold tuned on dev
    noisy = normalize(en + 0.5 * rng.standard_normal(en.shape))
    degraded = {r.scoring: r for r in evaluate_mining(noisy, en)}
    assert degraded[Scoring.MARGIN].f1 < 1.0
    assert 0 < degraded[Scoring.MARGIN].precision <= 1 and 0 < degraded[Scoring.MARGIN].recall <= 1
