"""The mining concept: bitext mining between two lists of sentences (ratio margin, Artetxe & Schwenk).

`MineRequest` is the one schema for HTTP and gRPC. Both sides are embedded through the served model's
batcher (same batching, limits and metrics as `/v1/embeddings`); mining itself is `lexsent.margin.mine`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from lexsent.margin import DEFAULT_K, MinedPair, MiningStrategy, Scoring, default_threshold, mine
from lexsent.tokenizer import Label, Tokenized
from server.auth import Access, Operation
from server.core import Core
from server.embeddings import EmbeddingsService

MINE = Operation("mining.mine", Access.READ)


class MineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: list[StrictStr] = Field(min_length=1, description="sentences of side A")
    target: list[StrictStr] = Field(min_length=1, description="sentences of side B")
    model: str | None = Field(None, description="served model name; the default model when absent")
    k: int = Field(DEFAULT_K, ge=1, le=64, description="neighbourhood size of the margin")
    threshold: float | None = Field(
        None, allow_inf_nan=False, description="minimum score; default: the model's tuned threshold"
    )
    scoring: Scoring = Scoring.MARGIN
    strategy: MiningStrategy = MiningStrategy.MAX


@dataclass(frozen=True)
class MineResult:
    model: str
    threshold: float
    pairs: list[MinedPair]


def _side(name: str) -> Label:
    return lambda index: f"{name}[{index}]"


class MiningService:
    def __init__(self, core: Core, embeddings: EmbeddingsService) -> None:
        self.core = core
        self.embeddings = embeddings

    async def mine(self, request: MineRequest, token: str | None) -> MineResult:
        label = self.embeddings.label(request.model)  # never the client's text: labels are forever
        return await self.core.call(MINE, token, lambda: self._mine(request), model=label)

    async def _mine(self, request: MineRequest) -> MineResult:
        for side, texts in (("source", request.source), ("target", request.target)):
            self.embeddings.require_batch(len(texts), f"{side} has {{n}} sentences", per="side", remedy="mine in parts")
        encoder = self.embeddings.models.get(request.model)
        source: list[Tokenized] = await asyncio.to_thread(encoder.tokenize, request.source, None, _side("source"))
        target: list[Tokenized] = await asyncio.to_thread(encoder.tokenize, request.target, None, _side("target"))
        source_vectors = await self.embeddings.run(encoder, source)
        target_vectors = await self.embeddings.run(encoder, target)
        threshold = (
            default_threshold(request.scoring, encoder.manifest.evaluation)
            if request.threshold is None
            else request.threshold
        )
        pairs = await asyncio.to_thread(
            mine,
            source_vectors,
            target_vectors,
            k=request.k,
            threshold=threshold,
            strategy=request.strategy,
            scoring=request.scoring,
        )
        return MineResult(encoder.name, threshold, pairs)
