"""Recall@10 of ivf and hnsw against exact (flat) search at the documented default parameters, on the
synthetic clustered vectors the benchmark uses (bench/search.py explains them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.search import synthetic
from lexsent.collections import CollectionConfig, CollectionStore, IndexKind, IndexParams

K = 10


def recall_at_10(tmp_path: Path, n: int, dim: int) -> dict[IndexKind, float]:
    vectors = np.concatenate(list(synthetic(n, dim, seed=1)))
    queries = next(synthetic(500, dim, seed=2))
    store = CollectionStore(tmp_path / "c")
    found: dict[IndexKind, np.ndarray] = {}
    for kind in IndexKind:
        coll = store.create(CollectionConfig(kind.value, dim, kind, params=IndexParams()))
        for start in range(0, n, 10_000):
            coll.upsert(list(range(start, min(start + 10_000, n))), vectors[start : start + 10_000])
        assert coll.info()["exact"] is (kind is IndexKind.FLAT)
        found[kind] = np.array([[hit.id for hit in hits] for hits in coll.search(queries, K)])
        store.drop(kind.value)  # free the memory before the next index
    store.close(snapshot=False)
    exact = found[IndexKind.FLAT]
    return {
        kind: float(np.mean([len(set(a) & set(b)) / K for a, b in zip(found[kind], exact, strict=True)]))
        for kind in (IndexKind.IVF, IndexKind.HNSW)
    }


def test_recall_at_defaults_small(tmp_path: Path) -> None:
    recalls = recall_at_10(tmp_path, 20_000, 384)
    assert all(value >= 0.95 for value in recalls.values()), recalls


@pytest.mark.slow
def test_recall_at_defaults_100k_384d(tmp_path: Path) -> None:
    recalls = recall_at_10(tmp_path, 100_000, 384)
    assert all(value >= 0.95 for value in recalls.values()), recalls
