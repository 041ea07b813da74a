"""FAISS index wrappers for the three index kinds, behind one small interface.

Invariants shared by all kinds: index row i is table row i (points are added in row order and
tombstoned rows stay until a rebuild), cosine is inner product over L2-normalised copies, and search
parameters (nprobe, efSearch, the id selector) travel in a per-call `faiss.SearchParameters`, never
through shared mutable index fields — so concurrent searches with different parameters cannot race.

`ivf` starts as an exact flat index and is trained (k-means on the live points) once it holds
`ivf_min_train` points, then retrained when it has grown 4× past the size it was trained on.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import faiss
import numpy as np
import numpy.typing as npt

from lexsent.collections.config import IndexKind, IndexParams, Metric
from lexsent.errors import InvalidInputError

Vectors = npt.NDArray[np.float32]
Result = tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]
MAX_NPROBE = 65536
MAX_EF_SEARCH = 32768
_TRAIN_POINTS_PER_LIST = 64
_PARAMS_CACHE = 64


@dataclass(frozen=True)
class SearchOptions:
    """Per-call search parameters; None means the collection's documented default."""

    nprobe: int | None = None
    ef_search: int | None = None

    def __post_init__(self) -> None:
        if self.nprobe is not None and not 1 <= self.nprobe <= MAX_NPROBE:
            raise InvalidInputError(f"nprobe must be between 1 and {MAX_NPROBE}, got {self.nprobe}")
        if self.ef_search is not None and not 1 <= self.ef_search <= MAX_EF_SEARCH:
            raise InvalidInputError(f"ef_search must be between 1 and {MAX_EF_SEARCH}, got {self.ef_search}")


def prepare(vectors: Vectors, metric: Metric, *, owned: bool = False) -> Vectors:
    """The copy the index stores and searches with: normalised for cosine, as-is otherwise.

    `owned` says `vectors` is already a private C-contiguous float32 matrix that may be normalised in
    place (saves a copy on the search path).
    """
    out = vectors if owned else np.array(vectors, dtype=np.float32, order="C", copy=True, ndmin=2)
    if metric is Metric.COSINE:
        faiss.normalize_L2(out)
    return out


def faiss_metric(metric: Metric) -> int:
    return int(faiss.METRIC_L2 if metric is Metric.L2 else faiss.METRIC_INNER_PRODUCT)


def _flat(dim: int, metric: Metric) -> faiss.Index:
    return faiss.IndexFlatL2(dim) if metric is Metric.L2 else faiss.IndexFlatIP(dim)


class VectorIndex(ABC):
    kind: IndexKind

    def __init__(self, dim: int, metric: Metric, params: IndexParams, index: faiss.Index) -> None:
        self.dim = dim
        self.metric = metric
        self.params = params
        self.faiss = index
        self._cache: dict[SearchOptions, faiss.SearchParameters] = {}

    @property
    def ntotal(self) -> int:
        return int(self.faiss.ntotal)

    @property
    def exact(self) -> bool:
        return False

    def add(self, prepared: Vectors) -> None:
        self.faiss.add(prepared)

    def search(self, queries: Vectors, k: int, options: SearchOptions, selector: faiss.IDSelector | None) -> Result:
        if selector is None:
            params = self._shared_params(options)
        else:
            params = self._params(options)
            params.sel = selector
        distances, labels = self.faiss.search(queries, k, params=params)
        return distances, labels

    @abstractmethod
    def _params(self, options: SearchOptions) -> faiss.SearchParameters: ...

    def _shared_params(self, options: SearchOptions) -> faiss.SearchParameters:
        """Selector-free parameters, built once per distinct options (SWIG objects cost ~30 µs each).

        Shared between concurrent searches, which only read them; never mutated after creation.
        """
        params = self._cache.get(options)
        if params is None:
            if len(self._cache) >= _PARAMS_CACHE:
                self._cache.clear()
            params = self._cache[options] = self._params(options)
        return params

    def wants_rebuild(self, live: int) -> bool:
        """True when the writer should rebuild this index from the live points (e.g. train IVF)."""
        return False

    def serialize(self) -> npt.NDArray[np.uint8] | None:
        """Bytes worth persisting in a snapshot; None when rebuilding from vectors is as cheap."""
        return np.asarray(faiss.serialize_index(self.faiss), dtype=np.uint8)


class FlatIndex(VectorIndex):
    kind = IndexKind.FLAT

    @property
    def exact(self) -> bool:
        return True

    def _params(self, options: SearchOptions) -> faiss.SearchParameters:
        return faiss.SearchParameters()

    def serialize(self) -> npt.NDArray[np.uint8] | None:
        return None


class IvfIndex(VectorIndex):
    kind = IndexKind.IVF

    def __init__(self, dim: int, metric: Metric, params: IndexParams, index: faiss.Index, trained_on: int) -> None:
        super().__init__(dim, metric, params, index)
        self.trained_on = trained_on

    @property
    def exact(self) -> bool:
        return self.trained_on == 0

    @property
    def nlist(self) -> int:
        return int(faiss.extract_index_ivf(self.faiss).nlist) if self.trained_on else 0

    def _params(self, options: SearchOptions) -> faiss.SearchParameters:
        if not self.trained_on:
            return faiss.SearchParameters()
        params = faiss.SearchParametersIVF()
        params.nprobe = min(options.nprobe or self.params.ivf_nprobe, self.nlist)
        return params

    def wants_rebuild(self, live: int) -> bool:
        if not self.trained_on:
            return live >= self.params.ivf_min_train
        return live >= 4 * self.trained_on

    def serialize(self) -> npt.NDArray[np.uint8] | None:
        return super().serialize() if self.trained_on else None


class HnswIndex(VectorIndex):
    kind = IndexKind.HNSW

    def _params(self, options: SearchOptions) -> faiss.SearchParameters:
        params: faiss.SearchParameters = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
        params.efSearch = options.ef_search or self.params.hnsw_ef_search  # type: ignore[attr-defined]
        return params


def ivf_lists(points: int) -> int:
    """Number of IVF lists for `points`: about sqrt(n), at least 16 (the FAISS rule of thumb)."""
    return max(16, int(math.sqrt(points)))


def build(
    kind: IndexKind, dim: int, metric: Metric, params: IndexParams, prepared: Vectors, *, train: bool
) -> VectorIndex:
    """A new index of `kind` holding `prepared` (row order); `train` lets IVF train on them."""
    if kind is IndexKind.FLAT:
        index: VectorIndex = FlatIndex(dim, metric, params, _flat(dim, metric))
    elif kind is IndexKind.HNSW:
        hnsw = faiss.IndexHNSWFlat(dim, params.hnsw_m, faiss_metric(metric))
        hnsw.hnsw.efConstruction = params.hnsw_ef_construction
        index = HnswIndex(dim, metric, params, hnsw)
    elif train and prepared.shape[0] >= params.ivf_min_train:
        nlist = ivf_lists(prepared.shape[0])
        ivf = faiss.IndexIVFFlat(_flat(dim, metric), dim, nlist, faiss_metric(metric))
        ivf.cp.seed = 1234
        sample = min(prepared.shape[0], nlist * _TRAIN_POINTS_PER_LIST)
        rng = np.random.default_rng(1234)
        rows = np.sort(rng.choice(prepared.shape[0], size=sample, replace=False))
        ivf.train(np.ascontiguousarray(prepared[rows]))
        index = IvfIndex(dim, metric, params, ivf, prepared.shape[0])
    else:
        index = IvfIndex(dim, metric, params, _flat(dim, metric), 0)
    if prepared.shape[0]:
        index.add(prepared)
    return index


def load(
    kind: IndexKind,
    dim: int,
    metric: Metric,
    params: IndexParams,
    stored: npt.NDArray[np.uint8] | None,
    prepared: Vectors,
    trained_on: int,
) -> VectorIndex:
    """Restore a snapshot's index, or rebuild it from the stored vectors when none was persisted."""
    if stored is None:
        return build(kind, dim, metric, params, prepared, train=False)
    index = faiss.deserialize_index(stored)
    if index.ntotal != prepared.shape[0] or index.d != dim:
        raise ValueError("snapshot index does not match its vectors")
    if kind is IndexKind.HNSW:
        return HnswIndex(dim, metric, params, index)
    return IvfIndex(dim, metric, params, index, trained_on)
