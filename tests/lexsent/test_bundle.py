"""Bad bundles fail at load with a typed error that names the problem."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

import lexsent
from lexsent.bundle import Bundle
from lexsent.errors import BundleError
from lexsent.manifest import Manifest


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


def test_manifest_write_replaces_the_file_whole(bundle_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write interrupted before its rename (here a failing fsync; a kill during `eval --record`) leaves
    the old manifest in place, not a truncated one, and no temp file behind."""
    path = bundle_copy / "lexsent.json"
    before = path.read_bytes()
    manifest = Manifest.read(bundle_copy)
    manifest.evaluation["task.metric"] = 0.5

    def fail(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="No space left"):
        manifest.write(bundle_copy)
    assert path.read_bytes() == before
    assert sorted(p.name for p in bundle_copy.iterdir()) == ["lexsent.json", "model.onnx", "tokenizer.json"]
    monkeypatch.undo()
    manifest.write(bundle_copy)
    assert Manifest.read(bundle_copy).evaluation["task.metric"] == 0.5


def test_manifest_write_keeps_the_bundle_readable_by_other_users(bundle_copy: Path, tmp_path: Path) -> None:
    manifest = Manifest.read(bundle_copy)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    previous = os.umask(0o022)
    try:
        manifest.write(fresh)  # a new file gets the umask's mode, not a temp file's 0600
        os.umask(0o077)  # a stricter shell later (`eval --record`) keeps the existing file's mode
        manifest.write(bundle_copy)
    finally:
        os.umask(previous)
    assert (fresh / "lexsent.json").stat().st_mode & 0o777 == 0o644
    assert (bundle_copy / "lexsent.json").stat().st_mode & 0o777 == 0o644


def test_a_manifest_that_would_not_load_is_not_written(bundle_copy: Path) -> None:
    """A NaN score is dumped as null, which `read` refuses: the bundle would no longer load anywhere."""
    before = (bundle_copy / "lexsent.json").read_bytes()
    manifest = Manifest.read(bundle_copy)
    manifest.evaluation["paraphrase.p_at_1"] = float("nan")
    with pytest.raises(BundleError, match=r"not written, it would not load back: evaluation\.paraphrase\.p_at_1"):
        manifest.write(bundle_copy)
    assert (bundle_copy / "lexsent.json").read_bytes() == before
