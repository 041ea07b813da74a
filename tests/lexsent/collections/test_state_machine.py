"""Model-based test: random create/upsert/delete/search/snapshot/restart/torn-tail sequences must match a
brute-force numpy model of the same collection, for every index kind and metric."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from lexsent.collections import (
    CollectionConfig,
    CollectionStore,
    IndexKind,
    IndexParams,
    Metric,
    SearchOptions,
)

DIM = 4
IDS = st.one_of(st.integers(0, 25), st.sampled_from(["a", "b", "c", "0", "1", "ü"]))
EXHAUSTIVE = SearchOptions(nprobe=1000, ef_search=1000)


def vectors_for(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, DIM)) + 0.1).astype(np.float32)


class CollectionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="lexsent-sm-"))
        self.store: CollectionStore | None = None
        self.model: dict[object, tuple[np.ndarray, dict[str, int]]] = {}

    @initialize(kind=st.sampled_from(list(IndexKind)), metric=st.sampled_from(list(Metric)))
    def create(self, kind: IndexKind, metric: Metric) -> None:
        self.metric = metric
        self.store = CollectionStore(self.root / "store")
        params = IndexParams(ivf_min_train=20, compact_ratio=0.25)
        self.store.create(CollectionConfig("c", DIM, kind, metric, params=params))

    @property
    def coll(self):  # type: ignore[no-untyped-def]
        assert self.store is not None
        return self.store.get("c")

    @rule(ids=st.lists(IDS, min_size=1, max_size=8, unique=True), seed=st.integers(0, 10_000), group=st.integers(0, 2))
    def upsert(self, ids: list[object], seed: int, group: int) -> None:
        vectors = vectors_for(seed, len(ids))
        metadata = [{"g": group, "n": i} for i in range(len(ids))]
        self.coll.upsert(ids, vectors, metadata)
        for point_id, vector, meta in zip(ids, vectors, metadata, strict=True):
            self.model[point_id] = (vector, meta)

    @rule(ids=st.lists(IDS, min_size=1, max_size=6))
    def delete(self, ids: list[object]) -> None:
        self.coll.delete(ids)
        for point_id in ids:
            self.model.pop(point_id, None)

    @rule()
    def snapshot(self) -> None:
        self.coll.snapshot()

    @rule()
    def restart(self) -> None:
        assert self.store is not None
        self.store.close(snapshot=False)
        self.store = CollectionStore(self.root / "store")

    @rule(garbage=st.binary(min_size=1, max_size=40))
    def crash_with_torn_tail(self, garbage: bytes) -> None:
        """A crash mid-append leaves junk after the last acknowledged record; it must be cut."""
        assert self.store is not None
        self.store.close(snapshot=False)
        segments = sorted((self.root / "store" / "c" / "wal").iterdir())
        with segments[-1].open("ab") as handle:
            handle.write(garbage)
        self.store = CollectionStore(self.root / "store")

    def _expected(self, query: np.ndarray, k: int, group: int | None) -> list[float]:
        items = [(pid, vec) for pid, (vec, meta) in self.model.items() if group is None or meta["g"] == group]
        if not items:
            return []
        matrix = np.stack([vec for _, vec in items]).astype(np.float64)
        q = query.astype(np.float64)
        if self.metric is Metric.COSINE:
            matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
            q /= np.linalg.norm(q)
        if self.metric is Metric.L2:
            return sorted(((matrix - q) ** 2).sum(axis=1).tolist())[:k]
        return sorted((matrix @ q).tolist(), reverse=True)[:k]

    @rule(seed=st.integers(0, 10_000), k=st.integers(1, 30), group=st.none() | st.integers(0, 2))
    def search(self, seed: int, k: int, group: int | None) -> None:
        query = vectors_for(seed, 1)[0]
        flt = None if group is None else {"g": group}
        [hits] = self.coll.search(query, k, filter=flt, options=EXHAUSTIVE)
        expected = self._expected(query, k, group)
        assert len(hits) == len(expected)
        np.testing.assert_allclose([hit.score for hit in hits], expected, rtol=1e-4, atol=1e-4)
        for hit in hits:
            _, meta = self.model[hit.id]
            assert hit.metadata == meta
            assert group is None or meta["g"] == group

    @invariant()
    def contents_match(self) -> None:
        if self.store is None:
            return
        coll = self.coll
        assert coll.count == len(self.model)
        for point_id, (vector, meta) in self.model.items():
            point = coll.fetch(point_id)
            assert point.vector.tobytes() == vector.tobytes() and point.metadata == meta

    def teardown(self) -> None:
        if self.store is not None:
            self.store.close(snapshot=False)
        shutil.rmtree(self.root, ignore_errors=True)


CollectionMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)
TestCollectionMachine = CollectionMachine.TestCase
