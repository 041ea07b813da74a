"""Typed results shared by the HTTP and gRPC clients."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

# Inputs over the model's max_length: cut them, refuse the request, or (None) the server's --long-input.
LongInput = Literal["truncate", "error", None]


@dataclass(frozen=True)
class Embeddings:
    model: str
    vectors: list[list[float]]
    token_counts: list[int]
    truncated: list[bool]
    prompt_tokens: int


@dataclass(frozen=True)
class Parity:
    """How closely the served ONNX graph reproduces its reference (torch for fp32, fp32 for int8)."""

    reference: str
    probes: int
    max_abs_diff: float
    mean_cosine: float
    min_cosine: float


@dataclass(frozen=True)
class ModelInfo:
    name: str
    kind: str
    dim: int
    max_length: int
    pooling: str
    normalized: bool
    precision: str
    languages: list[str]
    fingerprint: str
    is_default: bool
    architecture: str
    parity: Parity
    evaluation: dict[str, float]  # scores recorded at export (task.metric -> value)


PointId = str | int


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    dim: int
    index: str
    metric: str
    model: str | None
    model_fingerprint: str | None
    count: int
    exact: bool


@dataclass(frozen=True)
class Point:
    id: PointId
    metadata: dict[str, Any] | None
    vector: list[float] | None


@dataclass(frozen=True)
class Hit:
    id: PointId
    score: float
    metadata: dict[str, Any] | None
