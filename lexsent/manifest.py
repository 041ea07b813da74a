"""The `lexsent.json` manifest: what a bundle is, how it was made and how well it matches its source.

The manifest plays the role of sentence-transformers' pooling config: everything a runtime needs to
know about post-processing is recorded here, and the graph already implements it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lexsent.durable import fsync_dir
from lexsent.errors import BundleError

MANIFEST_FILE = "lexsent.json"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]*")  # served as `model`: no spaces or slashes
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors())


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
            raise BundleError(f"{path}: invalid manifest: {_problems(exc)}") from exc

    def write(self, directory: Path) -> None:
        """Replace lexsent.json whole (temp file, fsync, rename), so a kill mid-write (`eval --record`) leaves
        the old manifest or the new one, never a truncated file. A manifest that `read` would refuse (a NaN
        score is dumped as null) is not written at all."""
        path = directory / MANIFEST_FILE
        text = self.model_dump_json(indent=2) + "\n"
        try:
            type(self).model_validate_json(text)
        except ValidationError as exc:
            raise BundleError(f"{path}: not written, it would not load back: {_problems(exc)}") from exc
        tmp = directory / f".{MANIFEST_FILE}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as for write_text
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                if path.exists():  # keep who may read the bundle (a service account) as it was
                    os.chmod(f.fileno(), stat.S_IMODE(path.stat().st_mode))
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(directory)  # the rename itself survives a power loss
