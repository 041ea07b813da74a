from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lexsent.collections import CollectionStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CollectionStore]:
    opened = CollectionStore(tmp_path / "collections")
    yield opened
    with contextlib.suppress(OSError):
        opened.close(snapshot=False)


def clustered(n: int, dim: int, *, clusters: int = 50, seed: int = 0, spread: float = 0.35) -> np.ndarray:
    """Synthetic clustered vectors (Gaussian blobs around random centres), float32."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    labels = rng.integers(0, clusters, n)
    return (centres[labels] + spread * rng.standard_normal((n, dim))).astype(np.float32)
