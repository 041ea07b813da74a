"""The last step of `make demo-train`: the bundles in a models dir are served and each answers."""

from __future__ import annotations

import shutil
from pathlib import Path

import lexsent
from training.demo_serve import check


def test_each_served_bundle_answers_embeddings(tiny_bundle: Path, tmp_path: Path) -> None:
    shutil.copytree(tiny_bundle, tmp_path / "models" / tiny_bundle.name)
    rows = check(tmp_path / "models")
    manifest = lexsent.Bundle.open(tiny_bundle).manifest
    assert [(r["model"], r["kind"], r["dim"]) for r in rows] == [(manifest.name, "sentence", manifest.dim)]
    assert -1.0 <= rows[0]["cosine"] <= 1.0 and rows[0]["pair"][0] == "could not delete the file"
