"""Search over a point table and its index: filters, tombstones, exact fallback, margin re-scoring.

The promise: when at least k live points match the filter, k results come back. Approximate indexes
search with a FAISS id selector (tombstones and filter misses excluded inside FAISS, per call), and any
query that still comes back short is answered exactly over the eligible rows. Small filtered sets go
straight to exact search, which is both faster and exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np
import numpy.typing as npt

from lexsent import margin
from lexsent.collections.config import Metric
from lexsent.collections.filters import Filter
from lexsent.collections.indexes import SearchOptions, VectorIndex, faiss_metric, prepare
from lexsent.collections.table import PointTable

Vectors = npt.NDArray[np.float32]
Rows = npt.NDArray[np.int64]
# Filtered sets this small are searched exactly: cheaper than a selective approximate search.
EXACT_LIMIT = 20_000
MARGIN_CANDIDATES = 4


@dataclass(frozen=True)
class View:
    """What one search reads: a consistent table, index and alive bitmap (swapped whole by the writer)."""

    table: PointTable
    index: VectorIndex
    alive_bits: npt.NDArray[np.uint8] | None
    metric: Metric


def _bitmap(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint8]:
    return np.packbits(mask, bitorder="little")


def _exact(view: View, queries: Vectors, k: int, rows: Rows) -> tuple[Vectors, Rows]:
    subset = prepare(view.table.vectors[rows], view.metric)
    distances, local = faiss.knn(queries, subset, k, metric=faiss_metric(view.metric))
    return distances, np.where(local >= 0, rows[local], -1)  # -1: no neighbour (rows[-1] is a real row)


def _approximate(
    view: View, queries: Vectors, k: int, options: SearchOptions, mask: npt.NDArray[np.bool_] | None
) -> tuple[Vectors, Rows]:
    bits = view.alive_bits if mask is None else _bitmap(mask)
    selector = None if bits is None else faiss.IDSelectorBitmap(view.table.rows, faiss.swig_ptr(bits))
    distances, labels = view.index.search(queries, k, options, selector)
    del selector, bits
    return distances, labels


def search_rows(
    view: View, queries: Vectors, k: int, flt: Filter | None, options: SearchOptions
) -> tuple[Vectors, Rows]:
    """Top-k (scores, rows) per prepared query; rows are -1 past the number of eligible points."""
    table = view.table
    mask: npt.NDArray[np.bool_] | None = None
    if flt is not None:
        alive = table.alive_mask()
        mask = alive & np.fromiter((flt.matches(meta) for meta in table.metadata), bool, table.rows)
        eligible = int(mask.sum())
    else:
        eligible = table.live
    k_eff = min(k, eligible)
    nq = queries.shape[0]
    if k_eff == 0:
        return np.zeros((nq, 0), np.float32), np.zeros((nq, 0), np.int64)
    if mask is not None and eligible <= EXACT_LIMIT:
        return _exact(view, queries, k_eff, np.flatnonzero(mask))
    distances, labels = _approximate(view, queries, k_eff, options, mask)
    if labels.min() >= 0:
        return distances, labels
    short = np.flatnonzero((labels < 0).any(axis=1))
    if short.size:
        rows = np.flatnonzero(mask if mask is not None else table.alive_mask())
        distances[short], labels[short] = _exact(view, queries[short], k_eff, rows)
    return distances, labels


def margin_rows(
    view: View, queries: Vectors, k: int, flt: Filter | None, options: SearchOptions
) -> tuple[Vectors, Rows]:
    """Re-rank cosine candidates by LASER's ratio margin (lexsent.margin) against the collection.

    The query's neighbourhood mean is over its nearest live points; each candidate's is over its own
    nearest live points other than itself.
    """
    n = margin.DEFAULT_K
    cos, rows = search_rows(view, queries, max(k * MARGIN_CANDIDATES, 16), flt, options)
    if rows.shape[1] == 0:
        return cos, rows
    near, _ = search_rows(view, queries, n, None, options) if flt is not None else (cos[:, :n], rows)
    query_mean = near.mean(axis=1)
    flat_rows = rows.reshape(-1)
    candidates = prepare(view.table.vectors[flat_rows], view.metric)
    neighbour_cos, neighbour_rows = search_rows(view, candidates, n + 1, None, options)
    own = neighbour_rows == flat_rows[:, None]
    neighbour_cos = np.where(own, np.nan, neighbour_cos)
    # Drop self (or, if self was not returned, the weakest neighbour) so each mean covers n others.
    kept = np.sort(np.nan_to_num(neighbour_cos, nan=-np.inf), axis=1)[:, ::-1][:, :n]
    has_others = np.isfinite(kept)
    candidate_mean = np.where(has_others, kept, 0).sum(axis=1) / np.maximum(has_others.sum(axis=1), 1)
    scores = margin.ratio_margin(cos, query_mean[:, None], candidate_mean.reshape(rows.shape))
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, axis=1), np.take_along_axis(rows, order, axis=1)
