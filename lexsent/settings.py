"""Settings shared by every command: where data lives and how many threads a session may use.

One pydantic-settings object per concern; the environment uses the `LEXSENT_` prefix with the same
names as the CLI flags (`--data-dir` ⇔ `LEXSENT_DATA_DIR`).
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "lexsent"


class CoreSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEXSENT_", extra="ignore")

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="holds the default model's cache (models/) and the collections (collections/)",
    )
    threads: int = Field(
        default_factory=lambda: os.cpu_count() or 1, ge=1, description="onnxruntime intra-op threads per model"
    )

    @property
    def models_cache(self) -> Path:
        return self.data_dir / "models"
