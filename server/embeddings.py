"""The embeddings concept: request schema, validation and the service both transports call.

`EmbedRequest` is the one schema: the HTTP body is validated into it and gRPC messages are converted
into it, so shape rules, caps and their error messages exist once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from lexsent.encoder import Encoder, Vectors
from lexsent.errors import InvalidInputError
from lexsent.manifest import Manifest
from lexsent.tokenizer import LongInputPolicy, Tokenized
from server.auth import Access, Operation
from server.batcher import Batcher
from server.core import Core
from server.models import ModelRegistry

# Requests up to this many characters are tokenised on the event loop: that takes tens of microseconds,
# less than the hop to a worker thread and back, which is most of a short request's serving overhead.
INLINE_TOKENIZE_CHARS = 2048
# Token ids up to this many are checked on the event loop (well under a millisecond); more go to a thread.
INLINE_TOKEN_IDS = 4096
# Longer requests are tokenised in a worker thread, this many characters at a time (~0.1-0.4 s each on
# this 2-core machine), so cancelling one stops it soon.
TOKENIZE_SLICE_CHARS = 262_144

EMBED = Operation("embeddings.embed", Access.READ)
LIST_MODELS = Operation("embeddings.list_models", Access.READ)


class EncodingFormat(StrEnum):
    FLOAT = "float"
    BASE64 = "base64"


class EmbedRequest(BaseModel):
    """OpenAI's embeddings request, plus `long_input`; unknown fields (e.g. `user`) are ignored."""

    model_config = ConfigDict(extra="ignore")

    input: StrictStr | list[StrictStr] | list[StrictInt] | list[list[StrictInt]] = Field(
        description="a string, a list of strings, a token-id list, or a list of token-id lists"
    )
    model: str | None = Field(None, description="served model name; the default model when absent")
    encoding_format: EncodingFormat = EncodingFormat.FLOAT
    dimensions: StrictInt | None = Field(None, ge=1, description="keep the first N components, re-normalised")
    long_input: LongInputPolicy | None = Field(None, description="inputs over max_length: truncate or error")


@dataclass(frozen=True)
class EmbedResult:
    model: str
    vectors: Vectors
    token_counts: list[int]
    truncated: list[bool]

    @property
    def prompt_tokens(self) -> int:
        return sum(self.token_counts)


def model_fields(manifest: Manifest) -> dict[str, Any]:
    """The manifest fields both transports list per model (each adds its own name/default keys)."""
    return {
        "kind": manifest.kind.value,
        "dim": manifest.dim,
        "max_length": manifest.max_length,
        "pooling": manifest.pooling.value,
        "normalized": manifest.normalized,
        "precision": manifest.precision.value,
        "languages": manifest.languages,
        "fingerprint": manifest.fingerprint,
        "architecture": manifest.architecture,
        "parity": manifest.parity.model_dump(),
        "evaluation": manifest.evaluation,
    }


def shorten(vectors: Vectors, dimensions: int | None) -> Vectors:
    """Matryoshka-style truncation: first `dimensions` components, re-normalised to unit length."""
    if dimensions is None or dimensions == vectors.shape[1]:
        return vectors
    cut = vectors[:, :dimensions]
    norms = np.linalg.norm(cut, axis=1, keepdims=True)
    return np.asarray(cut / np.maximum(norms, 1e-12), dtype=np.float32)


class EmbeddingsService:
    def __init__(self, core: Core, models: ModelRegistry) -> None:
        self.core = core
        self.models = models
        s = core.settings
        self.batchers = {
            m.name: Batcher(
                m,
                max_batch_tokens=s.max_batch_tokens,
                max_queue=s.max_queue,
                metrics=core.metrics,
                workers=s.batch_workers,
                max_wait=s.batch_wait,
            )
            for m in models
        }

    def start(self) -> None:
        for batcher in self.batchers.values():
            batcher.start()

    def stop(self) -> None:
        for batcher in self.batchers.values():
            batcher.stop()

    def label(self, name: str | None) -> str:
        """Metrics label: a served name or 'unknown', never arbitrary client text."""
        resolved = name or self.models.default
        return resolved if resolved in self.batchers else "unknown"

    async def embed(self, request: EmbedRequest, token: str | None) -> EmbedResult:
        return await self.core.call(EMBED, token, lambda: self._embed(request), model=self.label(request.model))

    async def list_models(self, token: str | None) -> list[Manifest]:
        """Every served manifest; counted with no model (`NO_MODEL`), as it is about none in particular."""

        async def work() -> list[Manifest]:
            return [m.manifest for m in self.models]

        return await self.core.call(LIST_MODELS, token, work)

    async def get_model(self, name: str, token: str | None) -> Manifest:
        """One served model's manifest (a NotFoundError naming the served ones otherwise)."""

        async def work() -> Manifest:
            return self.models.get(name).manifest

        return await self.core.call(LIST_MODELS, token, work, model=self.label(name))

    def require_batch(
        self, count: int, what: str, per: str = "request", remedy: str = "split it into several requests"
    ) -> None:
        """--max-client-batch, for every concept that sends a request's texts to a model; `what` says what was
        counted (`{n}` is the count): "request has {n} inputs", "source has {n} sentences"."""
        cap = self.core.settings.max_client_batch
        if count > cap:
            raise InvalidInputError(
                f"{what.format(n=count)}; this server takes at most {cap} per {per} (--max-client-batch): {remedy}"
            )

    async def run(self, encoder: Encoder, tokens: list[Tokenized]) -> Vectors:
        """Embed tokenised inputs through the model's batcher, counting their tokens and truncations and
        labelling the request with the model (`Core.uses_model`; a collection's is known only here): the
        one way every concept (embeddings, collections, mining) reaches a model."""
        self.core.uses_model(encoder.name)
        vectors = await self.batchers[encoder.name].run(tokens)
        metrics = self.core.metrics
        metrics.child(metrics.tokens, encoder.name).inc(sum(len(t) for t in tokens))
        metrics.child(metrics.truncated, encoder.name).inc(sum(t.truncated for t in tokens))
        return vectors

    async def _embed(self, request: EmbedRequest) -> EmbedResult:
        encoder = self.models.get(request.model)
        tokens = await self._tokenize(encoder, request)
        vectors = await self.run(encoder, tokens)
        counts = [len(t) for t in tokens]
        truncated = [t.truncated for t in tokens]
        return EmbedResult(encoder.name, shorten(vectors, request.dimensions), counts, truncated)

    async def _tokenize(self, encoder: Encoder, request: EmbedRequest) -> list[Tokenized]:
        if request.dimensions is not None and request.dimensions > encoder.dim:
            raise InvalidInputError(
                f"dimensions={request.dimensions} exceeds the output of model {encoder.name!r} "
                f"(dimension {encoder.dim})"
            )
        texts, ids = _split_input(request.input)
        self.require_batch(len(texts or ids), "request has {n} inputs")
        self.batchers[encoder.name].require_room(len(texts or ids))
        if ids:  # checked id by id in Python: a long list off the event loop
            if sum(len(row) for row in ids) <= INLINE_TOKEN_IDS:
                return encoder.tokenizer.from_ids(ids, request.long_input)
            return await asyncio.to_thread(encoder.tokenizer.from_ids, ids, request.long_input)
        tokenizer, policy = encoder.tokenizer, request.long_input
        if sum(len(t) for t in texts) <= INLINE_TOKENIZE_CHARS:
            return tokenizer(texts, policy)
        tokenizer.validate(texts)  # shape errors name the input's position in the whole request
        # Off the event loop, in slices: a cancelled request (timeout, client gone, drain ended) stops
        # after the slice in hand instead of tokenising megabytes nobody waits for, and a stopping
        # server does not wait for them either.
        tokens: list[Tokenized] = []
        for start, stop in _slices(texts, TOKENIZE_SLICE_CHARS):
            tokens += await asyncio.to_thread(tokenizer, texts[start:stop], policy, first=start)
        return tokens


def _slices(texts: list[str], chars: int) -> list[tuple[int, int]]:
    """(start, stop) runs of `texts` of about `chars` characters each (at least one text per run)."""
    runs, start, size = [], 0, 0
    for i, text in enumerate(texts):
        if size and size + len(text) > chars:
            runs.append((start, i))
            start, size = i, 0
        size += len(text)
    runs.append((start, len(texts)))
    return runs


def _split_input(raw: str | list[str] | list[int] | list[list[int]]) -> tuple[list[str], list[list[int]]]:
    """OpenAI's four input shapes → (texts, token-id lists); exactly one is used."""
    if isinstance(raw, str):
        return [raw], []
    if raw and isinstance(raw[0], int):
        return [], [raw]
    if raw and isinstance(raw[0], list):
        return [], raw
    return cast(list[str], raw), []
