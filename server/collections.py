"""The collections concept: request schemas, text → vector via the served models, and the service both
transports call. Durable storage and search live in `lexsent.collections`; this layer adds auth,
admission and metrics (through `Core.call`), text encoding, and the model-binding check.

A collection is bound to the model that fills it (name, fingerprint, dimension). Texts are always
encoded with that model; if the served bundle of that name has a different fingerprint, text
requests fail with a clear message (vectors still work), because mixing two models' vectors in one
index silently ruins search.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from lexsent.collections import (
    Collection,
    CollectionConfig,
    CollectionStore,
    Hit,
    IndexKind,
    Metric,
    Scoring,
    SearchOptions,
)
from lexsent.collections.collection import MAX_BATCH
from lexsent.collections.store import LOCK_FILE, lock_holder
from lexsent.encoder import Encoder, Vectors
from lexsent.errors import InvalidInputError, LimitReachedError, NotFoundError, UnavailableError
from lexsent.tokenizer import Label
from server.auth import Access, Operation
from server.core import Core
from server.embeddings import EmbeddingsService
from server.settings import option

CREATE = Operation("collections.create", Access.WRITE)
DROP = Operation("collections.delete", Access.WRITE)
UPSERT = Operation("collections.upsert", Access.WRITE)
REMOVE = Operation("collections.remove", Access.WRITE)
GET = Operation("collections.get", Access.READ)
LIST = Operation("collections.list", Access.READ)
FETCH = Operation("collections.fetch", Access.READ)
SEARCH = Operation("collections.search", Access.READ)
log = logging.getLogger("lexsent.server")

PointIdIn = StrictStr | StrictInt


class CreateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="letters, digits, '_', '-', '.'; up to 128 characters")
    model: str | None = Field(None, description="served model that encodes texts; the default when absent")
    dim: StrictInt | None = Field(None, ge=1, description="vector-only collection of this dimension (no model)")
    index: IndexKind = IndexKind.FLAT
    metric: Metric = Metric.COSINE


class PointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: PointIdIn
    text: str | None = None
    vector: list[StrictFloat] | None = None
    metadata: dict[str, Any] | None = None


class UpsertRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: list[PointIn] = Field(min_length=1, max_length=MAX_BATCH)


class DeleteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[PointIdIn] = Field(min_length=1, max_length=MAX_BATCH)


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str | None = Field(None, description="text, encoded with the collection's model")
    vector: list[StrictFloat] | None = None
    k: StrictInt = 10
    filter: dict[str, Any] | None = None
    scoring: Scoring = Scoring.COSINE
    nprobe: StrictInt | None = Field(None, description="ivf: lists to probe for this query")
    ef_search: StrictInt | None = Field(None, description="hnsw: candidate list size for this query")


def hit_body(hit: Hit) -> dict[str, Any]:
    return {"id": hit.id, "score": hit.score, "metadata": hit.metadata}


class CollectionsService:
    def __init__(self, core: Core, embeddings: EmbeddingsService, root: Path) -> None:
        self.core = core
        self.snapshot_bytes = core.settings.snapshot_bytes
        self.max_collections = core.settings.max_collections
        self.embeddings = embeddings
        self.root = root
        self._store: CollectionStore | None = None
        self._opening = threading.Lock()

    def start(self) -> None:
        """Recover existing collections (snapshot + log replay) before the server turns ready.

        A data directory without collections is left untouched until the first collection request,
        so an embeddings-only server never takes the store's lock. One whose collections another
        process holds is an InvalidInputError naming it: the server must not start.
        """
        if self.root.is_dir():
            try:
                stored = len(self.store.list())
            except UnavailableError:
                # Serving on would report ready and answer every collection call with a retryable 503
                # that never clears, so clients would retry for ever: refuse to start instead.
                raise InvalidInputError(self._held_elsewhere()) from None
            if stored > self.max_collections:
                log.warning(
                    "%d collections are stored, more than %s (%d): all "
                    "are served, but no new one can be created until enough are deleted",
                    stored,
                    option("max_collections"),
                    self.max_collections,
                )

    def _held_elsewhere(self) -> str:
        lock = self.root / LOCK_FILE
        holder = lock_holder(self.root)
        by = f"another process (pid {holder})" if holder is not None else "another process"
        return (
            f"{option('data_dir')}: the collections in {self.root} are in use by {by}, which holds {lock}; "
            f"stop it, or give this server another {option('data_dir')}"
        )

    @property
    def store(self) -> CollectionStore:
        with self._opening:
            if self._store is None:
                self._store = CollectionStore(
                    self.root, snapshot_bytes=self.snapshot_bytes, max_collections=self.max_collections
                )
            return self._store

    def stop(self) -> None:
        with self._opening:
            if self._store is not None:
                self._store.close()
                self._store = None

    # -- helpers --------------------------------------------------------------------------------------

    def _encoder_for(self, collection: Collection) -> Encoder:
        cfg = collection.config
        if cfg.model is None:
            raise InvalidInputError(
                f"collection {cfg.name!r} holds plain vectors (no model); send 'vector' instead of text"
            )
        try:
            encoder = self.embeddings.models.get(cfg.model)
        except NotFoundError:
            raise InvalidInputError(
                f"collection {cfg.name!r} was filled by model {cfg.model!r}, which this server does not"
                " serve; serve that bundle to use text, or send vectors"
            ) from None
        if encoder.fingerprint != cfg.model_fingerprint:
            raise InvalidInputError(
                f"collection {cfg.name!r} was filled by model {cfg.model!r} with fingerprint "
                f"{(cfg.model_fingerprint or '')[:12]}…, but the served {cfg.model!r} has fingerprint "
                f"{encoder.fingerprint[:12]}…; its vectors are not comparable. Serve the original bundle, "
                "or re-create the collection"
            )
        return encoder

    async def _encode(self, collection: Collection, texts: list[str], label: Label) -> Vectors:
        encoder = self._encoder_for(collection)
        tokens = await asyncio.to_thread(encoder.tokenize, texts, None, label)
        return await self.embeddings.run(encoder, tokens)

    # -- operations -----------------------------------------------------------------------------------

    async def create(self, request: CreateRequest, token: str | None) -> dict[str, Any]:
        async def work() -> dict[str, Any]:
            if request.dim is not None and request.model is None:
                config = CollectionConfig(request.name, request.dim, request.index, request.metric)
            else:
                encoder = self.embeddings.models.get(request.model)
                if request.dim is not None and request.dim != encoder.dim:
                    raise InvalidInputError(
                        f"dim {request.dim} does not match model {encoder.name!r} (dimension {encoder.dim})"
                    )
                config = CollectionConfig(
                    request.name,
                    encoder.dim,
                    request.index,
                    request.metric,
                    model=encoder.name,
                    model_fingerprint=encoder.fingerprint,
                )
            try:
                created = await asyncio.to_thread(self.store.create, config)
            except LimitReachedError as exc:
                raise LimitReachedError(
                    f"{exc.message} ({option('max_collections')}); delete a collection, or "
                    "restart the server with a higher limit"
                ) from None
            return created.info()

        return await self.core.call(CREATE, token, work)

    async def list_all(self, token: str | None) -> list[dict[str, Any]]:
        async def work() -> list[dict[str, Any]]:
            return [c.info() for c in self.store.list()]

        return await self.core.call(LIST, token, work)

    async def get(self, name: str, token: str | None) -> dict[str, Any]:
        async def work() -> dict[str, Any]:
            return self.store.get(name).info()

        return await self.core.call(GET, token, work)

    async def drop(self, name: str, token: str | None) -> None:
        async def work() -> None:
            await asyncio.to_thread(self.store.drop, name)

        await self.core.call(DROP, token, work)

    async def upsert(self, name: str, request: UpsertRequest, token: str | None) -> int:
        async def work() -> int:
            collection = self.store.get(name)
            dim = collection.config.dim
            vectors = np.zeros((len(request.points), dim), dtype=np.float32)
            texts: list[str] = []
            text_rows: list[int] = []
            for row, point in enumerate(request.points):
                if (point.text is None) == (point.vector is None):
                    raise InvalidInputError(f"points[{row}] (id {point.id!r}) needs exactly one of text or vector")
                if point.vector is not None:
                    if len(point.vector) != dim:
                        raise InvalidInputError(
                            f"points[{row}].vector has dimension {len(point.vector)}, but collection "
                            f"{name!r} stores dimension {dim}"
                        )
                    vectors[row] = point.vector
                else:
                    texts.append(point.text or "")
                    text_rows.append(row)
            # the texts go through the model's queue, as an embeddings request's would
            self.embeddings.require_batch(len(texts), "request has {n} text points", remedy="split it, or send vectors")
            if texts:
                vectors[text_rows] = await self._encode(collection, texts, lambda i: f"points[{text_rows[i]}].text")
            ids = [point.id for point in request.points]
            metadata = [point.metadata for point in request.points]
            return await asyncio.to_thread(collection.upsert, ids, vectors, metadata)

        return await self.core.call(UPSERT, token, work)

    async def remove(self, name: str, request: DeleteRequest, token: str | None) -> int:
        async def work() -> int:
            collection = self.store.get(name)
            return await asyncio.to_thread(collection.delete, list(request.ids))

        return await self.core.call(REMOVE, token, work)

    async def fetch(
        self, name: str, candidates: list[str | int], token: str | None, *, with_vector: bool = True
    ) -> dict[str, Any]:
        """The first of `candidates` that exists (HTTP paths carry text: "7" may mean the integer 7)."""

        async def work() -> dict[str, Any]:
            collection = self.store.get(name)
            for candidate in candidates[:-1]:
                try:
                    point = collection.fetch(candidate)
                    break
                except NotFoundError:
                    continue
            else:
                point = collection.fetch(candidates[-1])
            body: dict[str, Any] = {"id": point.id, "metadata": point.metadata}
            if with_vector:
                body["vector"] = point.vector.tolist()
            return body

        return await self.core.call(FETCH, token, work)

    async def search(self, name: str, request: SearchRequest, token: str | None) -> list[Hit]:
        async def work() -> list[Hit]:
            collection = self.store.get(name)
            if (request.query is None) == (request.vector is None):
                raise InvalidInputError("search needs exactly one of 'query' (text) or 'vector'")
            if request.query is not None:
                query: Any = (await self._encode(collection, [request.query], lambda _: "query"))[0]
            else:
                query = request.vector
            options = SearchOptions(nprobe=request.nprobe, ef_search=request.ef_search)
            hits = await asyncio.to_thread(
                collection.search,
                query,
                request.k,
                filter=request.filter,
                scoring=request.scoring,
                options=options,
            )
            return hits[0]

        return await self.core.call(SEARCH, token, work)
