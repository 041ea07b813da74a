"""The served models: bundles loaded once at start-up, looked up by manifest name per request."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from lexsent.encoder import Encoder, load
from lexsent.errors import BundleError, NotFoundError
from lexsent.manifest import MANIFEST_FILE
from lexsent.tokenizer import LongInputPolicy
from server.settings import option


def bundle_dirs(models: Iterable[Path], models_dir: Path | None) -> list[Path]:
    """Explicit `--model` directories first (in order), then each bundle under `--models-dir` by name."""
    found = list(models)
    if models_dir is not None:
        if not models_dir.is_dir():
            raise BundleError(f"{option('models_dir')}: {models_dir} is not a directory")
        found += sorted(p for p in models_dir.iterdir() if (p / MANIFEST_FILE).is_file())
    return found


class ModelRegistry:
    """Name → `Encoder`; the default model answers requests that name none."""

    def __init__(self, encoders: list[Encoder], default: str | None = None) -> None:
        if not encoders:
            raise BundleError(f"no model to serve: pass {option('model')} DIR or {option('models_dir')} DIR")
        self._encoders: dict[str, Encoder] = {}
        for encoder in encoders:
            if encoder.name in self._encoders:
                raise BundleError(
                    f"two bundles are named {encoder.name!r} ({self._encoders[encoder.name].bundle.path} and "
                    f"{encoder.bundle.path}); rename one in its lexsent.json"
                )
            self._encoders[encoder.name] = encoder
        self.default = default or encoders[0].name
        if self.default not in self._encoders:
            raise BundleError(
                f"{option('default_model')}: {self.default!r} is not served; served: {', '.join(self.names)}"
            )

    @classmethod
    def load(
        cls,
        paths: Iterable[Path],
        *,
        threads: int,
        max_run_tokens: int | None,
        long_input: LongInputPolicy,
        default: str | None = None,
    ) -> ModelRegistry:
        encoders = [load(p, threads=threads, max_batch_tokens=max_run_tokens, long_input=long_input) for p in paths]
        return cls(encoders, default)

    @property
    def names(self) -> list[str]:
        return list(self._encoders)

    def get(self, name: str | None) -> Encoder:
        encoder = self._encoders.get(name or self.default)
        if encoder is None:
            raise NotFoundError(f"model {name!r} is not served; served models: {', '.join(self.names)}")
        return encoder

    def __iter__(self) -> Iterator[Encoder]:
        return iter(self._encoders.values())
