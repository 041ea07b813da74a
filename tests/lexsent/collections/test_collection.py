from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import lexsent.collections.search as search_module
from lexsent.collections import (
    CollectionConfig,
    CollectionStore,
    IndexKind,
    IndexParams,
    Metric,
    Scoring,
    SearchOptions,
)
from lexsent.errors import AlreadyExistsError, InvalidInputError, NotFoundError, StorageIOError, UnavailableError
from tests.lexsent.collections.conftest import clustered

DIM = 16


def brute(vectors: np.ndarray, query: np.ndarray, metric: Metric, k: int) -> list[int]:
    if metric is Metric.COSINE:
        vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        query = query / np.linalg.norm(query)
    if metric is Metric.L2:
        return list(np.argsort(((vectors - query) ** 2).sum(axis=1), kind="stable")[:k])
    return list(np.argsort(-(vectors @ query), kind="stable")[:k])


@pytest.mark.parametrize("metric", list(Metric))
@pytest.mark.parametrize("kind", list(IndexKind))
def test_search_matches_brute_force(store: CollectionStore, kind: IndexKind, metric: Metric) -> None:
    params = IndexParams(ivf_min_train=500)
    coll = store.create(CollectionConfig("c", DIM, kind, metric, params=params))
    data = clustered(2000, DIM, seed=1)
    coll.upsert(list(range(2000)), data)
    assert coll.info()["exact"] is (kind is IndexKind.FLAT)
    queries = clustered(20, DIM, seed=2)
    exhaustive = SearchOptions(nprobe=10_000, ef_search=2000)
    hits = coll.search(queries, 10, options=exhaustive)
    for query, found in zip(queries, hits, strict=True):
        assert [hit.id for hit in found] == brute(data, query, metric, 10)
    scores = [hit.score for hit in hits[0]]
    assert scores == sorted(scores, reverse=metric is not Metric.L2)


def test_upsert_replaces_and_delete_removes(store: CollectionStore) -> None:
    coll = store.create(CollectionConfig("c", 4, IndexKind.HNSW, Metric.IP))
    coll.upsert(["a", 1, "1"], [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], [{"v": 1}, None, {"v": 3}])
    coll.upsert(["a"], [[0, 0, 0, 2]], [{"v": 2}])
    assert coll.count == 3
    point = coll.fetch("a")
    assert point.vector.tolist() == [0, 0, 0, 2] and point.metadata == {"v": 2}
    assert coll.fetch(1).metadata is None and coll.fetch("1").metadata == {"v": 3}
    [hits] = coll.search([1, 0, 0, 0], 10)
    assert len(hits) == 3 and all(hit.id != "a" or hit.score == 0 for hit in hits)
    coll.delete([1, "missing"])
    assert coll.count == 2
    with pytest.raises(NotFoundError, match="point 1 not found"):
        coll.fetch(1)
    assert {hit.id for hit in coll.search([0, 1, 0, 0], 10)[0]} == {"a", "1"}


@pytest.mark.parametrize("kind", list(IndexKind))
def test_filtered_search_returns_k_when_k_match(store: CollectionStore, kind: IndexKind) -> None:
    """A rare filter value must still yield k hits, even from approximate indexes."""
    params = IndexParams(ivf_min_train=1000, ivf_nprobe=1)
    coll = store.create(CollectionConfig("c", DIM, kind, Metric.COSINE, params=params))
    data = clustered(3000, DIM, seed=3)
    rare = set(range(0, 3000, 250))  # 12 points spread over clusters
    meta = [{"tag": "rare" if i in rare else "common", "n": i} for i in range(3000)]
    coll.upsert(list(range(3000)), data, meta)
    coll.delete([0])  # a tombstone among the rare ones
    for query in clustered(5, DIM, seed=4):
        [hits] = coll.search(query, 10, filter={"tag": "rare"}, options=SearchOptions(nprobe=1, ef_search=10))
        assert len(hits) == 10 and {hit.id for hit in hits} <= rare - {0}
        [hits] = coll.search(query, 50, filter={"tag": "rare"})
        assert len(hits) == 11
        [hits] = coll.search(query, 5, filter={"n": {"$gte": 2990, "$lt": 2995}, "tag": "common"})
        assert sorted(hit.id for hit in hits) == [2990, 2991, 2992, 2993, 2994]


def test_per_query_params_do_not_touch_the_index(store: CollectionStore) -> None:
    params = IndexParams(ivf_min_train=1000)
    ivf = store.create(CollectionConfig("ivf", DIM, IndexKind.IVF, params=params))
    hnsw = store.create(CollectionConfig("hnsw", DIM, IndexKind.HNSW))
    data = clustered(3000, DIM, seed=5)
    for coll in (ivf, hnsw):
        coll.upsert(list(range(3000)), data)
        coll.search(data[:3], 5, options=SearchOptions(nprobe=7, ef_search=300))
    assert ivf._view.index.faiss.nprobe == 1  # FAISS's own default, never overwritten
    assert hnsw._view.index.faiss.hnsw.efSearch == 16


def test_ivf_trains_once_enough_points(store: CollectionStore) -> None:
    coll = store.create(CollectionConfig("c", DIM, IndexKind.IVF, params=IndexParams(ivf_min_train=1000)))
    coll.upsert(list(range(999)), clustered(999, DIM))
    assert coll.info()["exact"]
    coll.upsert([999], clustered(1, DIM, seed=9))
    assert not coll.info()["exact"]
    assert coll._view.index.nlist >= 16


def test_hnsw_compacts_tombstones(store: CollectionStore) -> None:
    coll = store.create(CollectionConfig("c", DIM, IndexKind.HNSW))
    data = clustered(1000, DIM)
    coll.upsert(list(range(1000)), data)
    coll.delete(list(range(300)))
    view = coll._view
    assert view.table.rows == view.index.ntotal == 700 and view.table.dead_count == 0
    assert [hit.id for hit in coll.search(data[500], 1)[0]] == [500]
    assert coll.fetch(999).vector.tobytes() == data[999].tobytes()


def test_margin_scoring_ranks_by_ratio_margin(store: CollectionStore) -> None:
    coll = store.create(CollectionConfig("c", DIM, IndexKind.FLAT, Metric.COSINE))
    data = clustered(500, DIM, seed=6)
    coll.upsert(list(range(500)), data)
    [cos_hits] = coll.search(data[7], 5)
    [margin_hits] = coll.search(data[7], 5, scoring=Scoring.MARGIN)
    assert margin_hits[0].id == 7
    assert len(margin_hits) == 5 and margin_hits[0].score > 1.0 > cos_hits[1].score
    scores = [hit.score for hit in margin_hits]
    assert scores == sorted(scores, reverse=True)
    l2 = store.create(CollectionConfig("l2", DIM, IndexKind.FLAT, Metric.L2))
    l2.upsert([1], data[:1])
    with pytest.raises(InvalidInputError, match="margin scoring needs a cosine"):
        l2.search(data[0], 1, scoring=Scoring.MARGIN)


def _nested(depth: int) -> dict[str, object]:
    value: dict[str, object] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def test_metadata_limits_count_utf8_bytes_and_nesting(store: CollectionStore) -> None:
    coll = store.create(CollectionConfig("m", 4))
    coll.upsert([1, 2], [[1.0, 0, 0, 0], [0, 1.0, 0, 0]], [_nested(32), {"s": "é" * 30_000}])  # 60 kB of UTF-8
    assert coll.fetch(1).metadata == _nested(32) and coll.fetch(2).metadata == {"s": "é" * 30_000}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.upsert([1], [[1.0, 2.0]]), "dimension 2, but this collection stores dimension 4"),
        (lambda c: c.upsert([1], [[1.0, float("nan"), 0, 0]]), "NaN or infinite"),
        (lambda c: c.upsert([1], [[1.0, float("inf"), 0, 0]]), "NaN or infinite"),
        (lambda c: c.upsert([1], [[0.0, 0, 0, 0]]), "all zeros"),
        (lambda c: c.upsert([1, 2], [[1.0, 0, 0, 0], [0.0, 0, 0, 0]]), r"vector 1 \(0-based\) is all zeros"),
        (lambda c: c.upsert([True], [[1.0, 0, 0, 0]]), "string or an integer"),
        (lambda c: c.upsert([1, 2], [[1.0, 0, 0, 0]]), "2 ids, 1 vectors"),
        (lambda c: c.upsert([1], [[1.0, 0, 0, 0]], [[1]]), "metadata must be a JSON object"),
        (lambda c: c.upsert([1, 2], [[1.0, 0, 0, 0]] * 2, [{}, [1]]), r"metadata 1 \(0-based\) must be"),
        (lambda c: c.upsert(["a", 1, "a"], [[1.0, 0, 0, 0]] * 3), r"'a' appears twice .*rows 0 and 2"),
        (lambda c: c.upsert([1], [[1.0, 0, 0, 0]], [{"x": float("nan")}]), "not valid JSON"),
        (lambda c: c.upsert([1], [[1.0, 0, 0, 0]], [_nested(33)]), "deeper than 32 levels"),
        (lambda c: c.upsert([1], [[1.0, 0, 0, 0]], [{"s": "é" * 40_000}]), "80009 bytes of UTF-8"),
        (lambda c: c.upsert([], []), "needs 1-"),
        (lambda c: c.search([1.0, 0, 0, 0], 0), "k must be an integer between 1"),
        (lambda c: c.search([1.0, 0, 0, 0], 10**9), "k must be an integer between 1"),
        (lambda c: c.search([1.0, 0, 0], 1), "query has dimension 3"),
        (lambda c: c.search([1.0, 0, 0, 0], 1, filter={"a": {"$regex": "x"}}), "unknown filter operator"),
        (lambda c: c.search([1.0, 0, 0, 0], 1, options=SearchOptions(nprobe=0)), "nprobe"),
    ],
)
def test_bad_input_is_rejected_and_changes_nothing(store: CollectionStore, call: object, message: str) -> None:
    coll = store.create(CollectionConfig("c", 4))
    coll.upsert(["keep"], [[0.5, 0.5, 0, 0]], [{"a": 1}])
    wal_before = coll._wal.size
    with pytest.raises(InvalidInputError, match=message):
        call(coll)  # type: ignore[operator]
    assert coll.count == 1 and coll._wal.size == wal_before
    assert coll.fetch("keep").metadata == {"a": 1}


@pytest.mark.parametrize("metric", [Metric.IP, Metric.L2])
def test_vectors_whose_scores_would_overflow_are_refused(store: CollectionStore, metric: Metric) -> None:
    """Finite vectors can still overflow float32 inner products / squared distances, and FAISS then
    returns no neighbour at all; they are refused, as queries and as points."""
    coll = store.create(CollectionConfig("c", 2, metric=metric))
    coll.upsert(["near", "mid"], [[1.0, 1.0], [5.0, 5.0]])
    with pytest.raises(InvalidInputError, match=r"vector 1 \(0-based\) has norm 4.24e\+19; .* up to 9.22e\+18"):
        coll.upsert(["a", "huge"], [[1.0, 0.0], [3e19, 3e19]])
    with pytest.raises(InvalidInputError, match="query has norm"):
        coll.search([-3e19, -3e19], 3)
    (hits,) = coll.search([-6e18, -6e18], 3)  # norms near the limit still rank, with finite scores
    assert [h.id for h in hits] == ["near", "mid"] and all(math.isfinite(h.score) for h in hits)


def test_exact_search_never_turns_no_neighbour_into_a_row(store: CollectionStore) -> None:
    """FAISS answers -1 where it finds nothing (here a NaN query, which validation would refuse); -1
    must stay -1, not index the last eligible row."""
    coll = store.create(CollectionConfig("c", 2, metric=Metric.L2))
    coll.upsert(["a", "b", "last"], [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    _, rows = search_module._exact(coll._view, np.full((1, 2), np.nan, np.float32), 2, np.arange(3))
    assert rows.tolist() == [[-1, -1]]


def test_a_create_that_cannot_open_its_log_is_undone(
    store: CollectionStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Out of file handles, the collection was refused (500) yet already renamed into place, and the next
    start brought it back."""
    import errno

    import lexsent.collections.store as store_module

    def no_handles(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(store_module, "Collection", no_handles)
    with pytest.raises(StorageIOError, match=r"opening the new collection 'c'.*Too many open files"):
        store.create(CollectionConfig("c", 2))
    monkeypatch.undo()
    assert [p.name for p in (tmp_path / "collections").iterdir() if not p.name.startswith(".")] == []
    assert store.create(CollectionConfig("c", 2)).count == 0  # the name is free again


def test_store_create_get_list_drop(store: CollectionStore) -> None:
    store.create(CollectionConfig("b", 4, model="m", model_fingerprint="f" * 64))
    store.create(CollectionConfig("a", 4))
    assert [c.config.name for c in store.list()] == ["a", "b"]
    with pytest.raises(AlreadyExistsError):
        store.create(CollectionConfig("a", 8))
    with pytest.raises(NotFoundError, match="'zzz' does not exist"):
        store.get("zzz")
    for bad in ("../etc", "nl\n", "x" * 129):  # a final newline slipped through `match`'s `$`
        with pytest.raises(InvalidInputError, match="invalid collection name"):
            store.create(CollectionConfig(bad, 4))
    store.drop("a")
    assert [c.config.name for c in store.list()] == ["b"]
    assert not (store.root / "a").exists()
    with pytest.raises(NotFoundError):
        store.drop("a")


def test_one_process_owns_a_store(store: CollectionStore) -> None:
    with pytest.raises(UnavailableError, match="already open in another process"):
        CollectionStore(store.root)
