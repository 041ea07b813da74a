"""Shared fixtures: real exported bundles, built once and cached across runs under .test-cache/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".test-cache"

os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="session")
def default_bundle() -> Path:
    """The default all-MiniLM-L6-v2 bundle (fp32), exported on first use."""
    from exporter.default_model import ensure_default_model

    return ensure_default_model(CACHE)


@pytest.fixture(scope="session")
def default_int8_bundle(default_bundle: Path) -> Path:
    from exporter.export import int8_path

    return int8_path(default_bundle)


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny randomly initialised BERT with a WordPiece vocabulary, exported (fast: a few seconds)."""
    from exporter.export import export_bundle
    from tests.exporter.tiny_models import make_tiny_model

    root = tmp_path_factory.mktemp("tiny")
    source = make_tiny_model("bert", root / "src")
    return export_bundle(source, root / "tiny-bert", name="tiny-bert")
