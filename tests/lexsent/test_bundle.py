"""Bad bundles fail at load with a typed error that names the problem."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import lexsent
from lexsent.bundle import Bundle
from lexsent.errors import BundleError


@pytest.fixture
def bundle_copy(tiny_bundle: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_bundle, tmp_path / "b"))


def test_valid_bundle_opens(bundle_copy: Path) -> None:
    bundle = Bundle.open(bundle_copy)
    assert bundle.name == "tiny-bert" and len(bundle.fingerprint) == 64


@pytest.mark.parametrize("name", ["model.onnx", "tokenizer.json", "lexsent.json"])
def test_missing_file(bundle_copy: Path, name: str) -> None:
    (bundle_copy / name).unlink()
    with pytest.raises(BundleError, match=f"missing {name}"):
        Bundle.open(bundle_copy)


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="not a bundle directory"):
        lexsent.load(tmp_path / "absent")


def test_malformed_json(bundle_copy: Path) -> None:
    (bundle_copy / "lexsent.json").write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        Bundle.open(bundle_copy)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dim": -3}, "dim"),
        ({"kind": "image"}, "kind"),
        ({"pooling": "median"}, "pooling"),
        ({"unexpected": 1}, "unexpected"),
        ({"fingerprint": "xyz"}, "fingerprint"),
    ],
)
def test_invalid_manifest_fields(bundle_copy: Path, change: dict[str, object], message: str) -> None:
    path = bundle_copy / "lexsent.json"
    manifest = json.loads(path.read_text())
    manifest.update(change)
    path.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=f"invalid manifest: .*{message}"):
        Bundle.open(bundle_copy)


def test_missing_manifest_field(bundle_copy: Path) -> None:
    path = bundle_copy / "lexsent.json"
    manifest = json.loads(path.read_text())
    del manifest["max_length"]
    path.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="max_length: Field required"):
        Bundle.open(bundle_copy)


def test_tampered_model_bytes(bundle_copy: Path) -> None:
    model = bundle_copy / "model.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="fingerprint mismatch"):
        lexsent.load(bundle_copy)


def test_tampered_tokenizer(bundle_copy: Path) -> None:
    tok = bundle_copy / "tokenizer.json"
    tok.write_text(tok.read_text().replace("[UNK]", "[UNX]", 1))
    with pytest.raises(BundleError, match="fingerprint mismatch"):
        Bundle.open(bundle_copy)


def test_manifest_dim_must_match_graph(bundle_copy: Path) -> None:
    path = bundle_copy / "lexsent.json"
    manifest = json.loads(path.read_text())
    width = manifest["dim"]
    manifest["dim"] = width + 1
    path.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=f"says dim {width + 1} but the graph's embedding has {width} values"):
        lexsent.load(bundle_copy)
