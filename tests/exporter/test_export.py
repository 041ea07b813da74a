"""Export → load → encode, checked against torch computed independently of the exporter's own head."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModel

import lexsent
from exporter import parity
from exporter.export import export_bundle, int8_path
from lexsent.errors import ExportError
from tests.exporter.tiny_models import FAMILIES, make_tiny_model

TEXTS = ["hello world", "the quick brown fox jumps over the lazy dog again and again", "ok"]


def _reference(src: Path, bundle: Path, texts: list[str], pooling: str, normalize: bool) -> np.ndarray:
    """Pool HF hidden states by hand, one text at a time (no padding at all)."""
    model = AutoModel.from_pretrained(str(src)).eval()
    enc = lexsent.load(bundle)
    rows = []
    for tok in enc.tokenize(texts):
        ids = torch.tensor([tok.ids])
        with torch.no_grad():
            hidden = model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state[0]
        vec = {"mean": hidden.mean(0), "cls": hidden[0], "max": hidden.max(0).values}[pooling]
        rows.append(torch.nn.functional.normalize(vec, dim=0) if normalize else vec)
    return torch.stack(rows).numpy()


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_exports_with_parity(family: str, tmp_path: Path) -> None:
    src = make_tiny_model(family, tmp_path / "src")
    out = export_bundle(src, tmp_path / family)
    enc = lexsent.load(out)
    assert enc.manifest.parity.max_abs_diff <= 1e-4
    assert enc.manifest.parity.probes >= 10
    # BERT-style families take packed rows (no token types: single inputs are all type 0); the others
    # padded batches, with token types where the model has more than one
    packed = family in ("bert", "minilm")
    assert enc.packed is packed
    assert enc.manifest.inputs == (
        ["input_ids", "segment_ids", "position_ids"] if packed else ["input_ids", "attention_mask"]
    )
    got = enc.encode(TEXTS)  # one packed row, or one padded batch, at run time
    want = _reference(src, out, TEXTS, "mean", True)
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_a_tokenizer_that_types_single_inputs_gets_the_padded_graph(tmp_path: Path) -> None:
    """A packed graph feeds token type 0; a template that gives single inputs type 1 must keep its types."""
    src = make_tiny_model("bert", tmp_path / "src")
    spec = json.loads((src / "tokenizer.json").read_text())
    processor = spec["post_processor"]
    if processor["type"] == "BertProcessing":  # rewrite it as the equivalent template, typed 1
        (cls, cls_id), (sep, sep_id) = processor["cls"], processor["sep"]
        processor = spec["post_processor"] = {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": cls}}, {"Sequence": {"id": "A"}}, {"SpecialToken": {"id": sep}}],
            "pair": [{"Sequence": {"id": "A"}}, {"Sequence": {"id": "B"}}],
            "special_tokens": {
                cls: {"id": cls, "ids": [cls_id], "tokens": [cls]},
                sep: {"id": sep, "ids": [sep_id], "tokens": [sep]},
            },
        }
    for piece in processor["single"]:
        next(iter(piece.values()))["type_id"] = 1
    (src / "tokenizer.json").write_text(json.dumps(spec))
    enc = lexsent.load(export_bundle(src, tmp_path / "typed"))
    assert not enc.packed and "token_type_ids" in enc.manifest.inputs
    assert enc.manifest.parity.max_abs_diff <= 1e-4


@pytest.mark.parametrize("pooling", ["mean", "cls", "max"])
def test_pooling_is_mask_aware(pooling: str, tmp_path: Path) -> None:
    src = make_tiny_model("bert", tmp_path / "src")
    out = export_bundle(src, tmp_path / "b", pooling=pooling, normalize=False)
    enc = lexsent.load(out)
    assert enc.manifest.pooling.value == pooling and enc.manifest.normalized is False
    assert enc.packed is (pooling != "max")  # max pooling is exported padded
    batched = enc.encode(TEXTS)
    alone = np.stack([enc.encode([t])[0] for t in TEXTS])
    np.testing.assert_allclose(batched, alone, atol=1e-5)  # padding never changes a vector
    # A run budget over a row's 512 tokens (CUDA's is 8,192) packs several rows into one run, padded to
    # the longest: still each input's own vector, in input order.
    many = [" ".join(["word"] * (3 + i % 29)) + f" number {i}" for i in range(80)]
    wide = lexsent.load(out, max_batch_tokens=1200)
    np.testing.assert_allclose(wide.encode(many), np.stack([enc.encode([t])[0] for t in many]), atol=1e-5)
    np.testing.assert_allclose(batched, _reference(src, out, TEXTS, pooling, False), atol=1e-4)


def test_int8_bundle_beside_fp32(tmp_path: Path) -> None:
    src = make_tiny_model("bert", tmp_path / "src")
    out = export_bundle(src, tmp_path / "m", name="m", quantize="int8")
    q = lexsent.load(int8_path(out))
    assert q.manifest.precision.value == "int8" and q.name == "m-int8"
    assert q.manifest.parity.reference == "fp32" and q.manifest.parity.mean_cosine >= 0.99
    fp = lexsent.load(out).encode(TEXTS)
    cos = (fp * q.encode(TEXTS)).sum(1)
    assert cos.min() > 0.95


def test_failed_parity_writes_nothing_and_says_by_how_much(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_tiny_model("bert", tmp_path / "src")
    monkeypatch.setattr(parity, "FP32_MAX_ABS_DIFF", 0.0)
    with pytest.raises(ExportError, match=r"max abs diff .* exceeds 0e\+00 by"):
        export_bundle(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["src"]  # no staging leftovers


def test_nan_weights_are_refused_with_a_reason(tmp_path: Path) -> None:
    """A diverged training run's weights used to fail in the manifest schema with a raw ValidationError."""
    src = make_tiny_model("bert", tmp_path / "src")
    model = AutoModel.from_pretrained(str(src))
    with torch.no_grad():
        model.embeddings.word_embeddings.weight.fill_(float("nan"))
    model.save_pretrained(str(src))
    with pytest.raises(ExportError, match=r"the source model \(torch\) produces NaN or infinite vectors"):
        export_bundle(src, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_reexport_replaces_bundle(tmp_path: Path) -> None:
    src = make_tiny_model("bert", tmp_path / "src")
    export_bundle(src, tmp_path / "b", pooling="mean")
    export_bundle(src, tmp_path / "b", pooling="cls")
    assert json.loads((tmp_path / "b" / "lexsent.json").read_text())["pooling"] == "cls"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "src"]


def test_a_killed_exports_staging_is_removed_by_the_next(tmp_path: Path) -> None:
    """SIGKILL skips cleanup; the next export of the target removes what a dead process left, and only that."""
    src = make_tiny_model("bert", tmp_path / "src")
    finished = subprocess.Popen(["true"])
    finished.wait()
    running = subprocess.Popen(["sleep", "60"])
    try:
        dead = tmp_path / f".b.{finished.pid}.k1ll3d"
        live = tmp_path / f".b.{running.pid}.busy"
        mid_publish = tmp_path / f".b.{finished.pid}.x.done"
        for leftover in (dead, live, mid_publish):
            leftover.mkdir()
            (leftover / "model.onnx").write_bytes(b"partial")
        export_bundle(src, tmp_path / "b")
    finally:
        running.kill()
        running.wait()
    assert not dead.exists() and live.exists() and mid_publish.exists()
    assert lexsent.load(tmp_path / "b").dim > 0


def test_never_replaces_what_is_not_a_bundle(tmp_path: Path) -> None:
    """Publishing replaces the target: a user's folder, or the source model itself, must be refused."""
    src = make_tiny_model("bert", tmp_path / "src")
    folder = tmp_path / "mydocs"
    folder.mkdir()
    (folder / "notes.txt").write_text("precious")
    for out in (folder, src, tmp_path):
        with pytest.raises(ExportError, match="exists and is not a lexsent bundle"):
            export_bundle(src, out)
    (tmp_path / "b-int8").mkdir()  # the int8 target too, and before the fp32 one is written
    with pytest.raises(ExportError, match="b-int8 exists and is not a lexsent bundle"):
        export_bundle(src, tmp_path / "b", quantize="int8")
    assert (folder / "notes.txt").read_text() == "precious" and (src / "config.json").exists()
    assert not (tmp_path / "b").exists()


def test_bundles_are_readable_by_other_users(tmp_path: Path) -> None:
    src = make_tiny_model("bert", tmp_path / "src")
    previous = os.umask(0o022)
    try:
        out = export_bundle(src, tmp_path / "b")
    finally:
        os.umask(previous)
    assert out.stat().st_mode & 0o777 == 0o755  # as mkdir makes it, not mkdtemp's 0700


def _sentence_transformers_dir(root: Path, pooling: dict[str, object], extra: list[dict[str, str]]) -> Path:
    src = make_tiny_model("bert", root)  # the Transformer module at the top level, as ST saves it
    (root / "1_Pooling").mkdir()
    (root / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        *extra,
    ]
    (root / "modules.json").write_text(json.dumps(modules))
    return src


@pytest.mark.parametrize(
    ("pooling", "extra", "refusal"),
    [
        ({"pooling_mode": "cls"}, [], None),  # the newer config format
        ({"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}, [], None),
        ({"pooling_mode": "mean_sqrt_len_tokens"}, [], r"pooling \['mean_sqrt_len_tokens'\] is not supported"),
        ({"pooling_mode_mean_tokens": True, "pooling_mode_mean_sqrt_len_tokens": True}, [], "exactly one of"),
        (
            {"pooling_mode": "mean"},
            [{"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}],
            r"module sentence_transformers\.models\.Dense \(2_Dense\) is not supported",
        ),
    ],
)
def test_sentence_transformers_modules_are_honoured_or_refused(
    tmp_path: Path, pooling: dict[str, object], extra: list[dict[str, str]], refusal: str | None
) -> None:
    """A module left out (a Dense projection, an unsupported pooling) would export another model that
    still passes parity, since parity compares with the exporter's own torch head."""
    src = _sentence_transformers_dir(tmp_path / "st", pooling, extra)
    if refusal is None:
        out = export_bundle(src, tmp_path / "b")
        assert json.loads((out / "lexsent.json").read_text())["pooling"] == "cls"
    else:
        with pytest.raises(ExportError, match=refusal):
            export_bundle(src, tmp_path / "b")


def test_a_source_without_tokenizer_files_is_refused(tmp_path: Path) -> None:
    src = make_tiny_model("bert", tmp_path / "src")
    (src / "tokenizer.json").unlink()  # transformers would make a tokenizer of its special tokens alone
    with pytest.raises(ExportError, match="lacks its tokenizer files"):
        export_bundle(src, tmp_path / "b")
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"name": "my model"}, "bundle name 'my model' is not allowed"),
        ({"max_length": 1}, "--max-length must be at least 2"),
        ({"threads": 0}, "--threads must be at least 1"),
    ],
)
def test_bad_settings_are_refused_before_any_work(tmp_path: Path, options: dict[str, object], message: str) -> None:
    with pytest.raises(ExportError, match=message):
        export_bundle(tmp_path / "not even read", tmp_path / "b", **options)  # type: ignore[arg-type]


def test_rejects_non_model_directory(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"missing config\.json"):
        export_bundle(tmp_path, tmp_path / "out")
    with pytest.raises(ExportError, match="not a directory"):
        export_bundle(tmp_path / "nope", tmp_path / "out")


def test_default_model_matches_sentence_transformers(default_bundle: Path) -> None:
    from sentence_transformers import SentenceTransformer

    from exporter.default_model import default_source

    torch.set_num_threads(2)
    texts = [*TEXTS, "A man is playing a guitar.", " ".join(["long input"] * 300)]
    st = SentenceTransformer(str(default_source()), device="cpu")
    want = st.encode(texts, batch_size=8, convert_to_numpy=True)
    got = lexsent.load(default_bundle, threads=2).encode(texts)
    assert got.shape == (len(texts), 384)
    np.testing.assert_allclose(got, want, atol=1e-4)
