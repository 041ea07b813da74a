"""The `lexsent.json` manifest: what a bundle is, how it was made and how well it matches its source.

The manifest plays the role of sentence-transformers' pooling config: everything a runtime needs to
know about post-processing is recorded here, and the graph already implements it.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lexsent.errors import BundleError

MANIFEST_FILE = "lexsent.json"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]*")  # served as `model`: no spaces or slashes
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"


class ModelKind(StrEnum):
    SENTENCE = "sentence"
    LEXICAL = "lexical"
    MULTILINGUAL = "multilingual"


class Pooling(StrEnum):
    MEAN = "mean"
    CLS = "cls"
    MAX = "max"


class Precision(StrEnum):
    FP32 = "fp32"
    INT8 = "int8"


class Parity(BaseModel):
    """How closely the ONNX graph reproduces its reference (torch, or fp32 for int8)."""

    model_config = ConfigDict(extra="forbid")

    reference: str
    probes: int = Field(ge=1)
    max_abs_diff: float = Field(ge=0)
    mean_cosine: float
    min_cosine: float


class Manifest(BaseModel):
    """Schema of `lexsent.json`; unknown keys are rejected so typos surface at load time."""

    model_config = ConfigDict(extra="forbid", use_enum_values=False)

    name: str = Field(min_length=1, pattern=f"^{NAME_PATTERN.pattern}$")
    kind: ModelKind
    architecture: str
    dim: int = Field(gt=0)
    max_length: int = Field(gt=1)
    pooling: Pooling
    normalized: bool
    precision: Precision
    inputs: list[str]
    languages: list[str] = Field(default_factory=lambda: ["en"])
    parity: Parity
    evaluation: dict[str, float] = Field(default_factory=dict)
    fingerprint: str = Field(pattern=r"^[0-9a-f]{64}$")
    lexsent_version: str
    source: str = ""
    extra: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise BundleError(f"{directory}: missing {MANIFEST_FILE}") from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BundleError(f"{path}: not valid JSON ({exc})") from exc
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
            )
            raise BundleError(f"{path}: invalid manifest: {problems}") from exc

    def write(self, directory: Path) -> None:
        text = self.model_dump_json(indent=2) + "\n"
        (directory / MANIFEST_FILE).write_text(text, encoding="utf-8")
