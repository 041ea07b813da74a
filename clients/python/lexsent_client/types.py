"""Typed results shared by the HTTP and gRPC clients."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Embeddings:
    model: str
    vectors: list[list[float]]
    token_counts: list[int]
    truncated: list[bool]
    prompt_tokens: int


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
