"""Moving a student onto the XLM-R vocabulary: trimming, embedding initialisation, distillation on top."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer

import lexsent
from training.multilingual.distill import TRANSPLANT_DIR, DistillConfig, StudentVocab, train_distill
from training.multilingual.examples import load_rows
from training.multilingual.loop import Outcome
from training.multilingual.transplant import transplant_embeddings, trim_unigram, used_pieces
from training.multilingual.vocab import corpus_texts, xlmr_tokenizer_path

UNSEEN = ["Benutzerkonto endgültig löschen?", "ファイルを開けませんでした", "Не удалось открыть файл"]


@pytest.fixture(scope="module")
def xlmr() -> Tokenizer:
    tok = Tokenizer.from_file(str(xlmr_tokenizer_path()))
    tok.no_padding()
    tok.no_truncation()
    return tok


def test_trimmed_vocabulary_tokenizes_the_corpus_unchanged(xlmr: Tokenizer, parallel_dir: Path) -> None:
    texts = list(corpus_texts(load_rows(parallel_dir, ["de", "fr"], None)))
    full = json.loads(xlmr_tokenizer_path().read_text(encoding="utf-8"))
    spec, old_ids = trim_unigram(full, used_pieces(xlmr, texts))
    trimmed = Tokenizer.from_str(json.dumps(spec))
    assert 1_000 < trimmed.get_vocab_size() == len(old_ids) < xlmr.get_vocab_size() // 5
    for text in texts:
        assert trimmed.encode(text).tokens == xlmr.encode(text).tokens
    # the post-processor and the added tokens follow the renumbering
    framed = trimmed.encode("x").ids
    assert (framed[0], framed[-1]) == (trimmed.token_to_id("<s>"), trimmed.token_to_id("</s>"))
    specials = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
    assert [old_ids[trimmed.token_to_id(t)] for t in specials] == [xlmr.token_to_id(t) for t in specials]
    # text the corpus never showed still tokenizes, at worst into characters, never into <unk>
    unk = trimmed.token_to_id("<unk>")
    for text in UNSEEN:
        encoding = trimmed.encode(text)
        assert unk not in encoding.ids
        assert (
            "".join(encoding.tokens[1:-1]).replace("\u2581", " ").strip()
            == "".join(xlmr.encode(text).tokens[1:-1]).replace("\u2581", " ").strip()
        )


def test_only_unigram_vocabularies_are_trimmed(tiny_bundle: Path) -> None:
    spec = json.loads((tiny_bundle.parent / "src" / "tokenizer.json").read_text(encoding="utf-8"))
    with pytest.raises(ValueError, match="WordPiece"):
        trim_unigram(spec, {1, 2})


def test_new_pieces_start_from_their_old_pieces(tiny_bundle: Path) -> None:
    old = Tokenizer.from_file(str(tiny_bundle.parent / "src" / "tokenizer.json"))
    old.no_padding()
    table = torch.randn(old.get_vocab_size(), 8, generator=torch.Generator().manual_seed(0))
    pieces = ["<s>", "<pad>", "\u2581the", "s", "\u2581vectors", "\u2581"]
    got = transplant_embeddings(old, table, pieces)
    ids = old.token_to_id
    assert torch.equal(got[0], table[ids("[CLS]")]) and torch.equal(got[1], table[ids("[PAD]")])
    assert torch.equal(got[2], table[ids("the")])
    assert torch.equal(got[3], table[ids("##s")])  # a continuation piece takes the '##' form
    expected = table[old.encode("vectors", add_special_tokens=False).ids].mean(dim=0)
    assert torch.allclose(got[4], expected)
    assert torch.allclose(got[5], table.mean(dim=0))  # the bare boundary marker has no surface form


def _cfg(parallel_dir: Path, tiny_bundle: Path, run: Path, **overrides: object) -> DistillConfig:
    base = dict(data_dir=str(parallel_dir), run_dir=str(run), teacher=str(tiny_bundle),
                student=str(tiny_bundle.parent / "src"), student_vocab=StudentVocab.XLMR, languages=["de", "fr"],
                batch_size=8, lr=3e-3, steps=30, save_every=10, max_rows=None, threads=1, device="cpu",
                show_progress=False)  # fmt: skip
    base.update(overrides)
    return DistillConfig(**base)  # type: ignore[arg-type]


def test_distill_on_the_xlmr_vocabulary_learns_exports_and_resumes(
    parallel_dir: Path, tiny_bundle: Path, tmp_path: Path
) -> None:
    path, outcome = train_distill(_cfg(parallel_dir, tiny_bundle, tmp_path / "run"))
    assert outcome is Outcome.FINISHED
    losses = [json.loads(line)["loss"] for line in (tmp_path / "run" / "loss.jsonl").read_text().splitlines()]
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])
    spec = json.loads((path / "tokenizer.json").read_text(encoding="utf-8"))
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    assert spec["model"]["type"] == "Unigram" and config["vocab_size"] == len(spec["model"]["vocab"])

    from exporter.export import export_bundle

    languages = ["en", "de", "fr"]
    bundle = export_bundle(path, tmp_path / "student", name="student", kind="multilingual", languages=languages)
    encoder = lexsent.load(bundle, threads=1)
    assert encoder.manifest.parity.max_abs_diff <= 1e-4
    vectors = encoder.encode(["öffne die Datei", *UNSEEN])
    assert vectors.shape == (4, lexsent.load(tiny_bundle).dim) and np.allclose(np.linalg.norm(vectors, axis=1), 1)

    # an interrupted run reuses its transplanted student and ends bit-identical
    stopped = _cfg(parallel_dir, tiny_bundle, tmp_path / "resumed", stop_at=10)
    assert train_distill(stopped)[1] is Outcome.STOPPED
    init = tmp_path / "resumed" / TRANSPLANT_DIR / "model.safetensors"
    stamp = init.stat().st_mtime_ns
    resumed, _ = train_distill(_cfg(parallel_dir, tiny_bundle, tmp_path / "resumed"))
    assert init.stat().st_mtime_ns == stamp
    from safetensors.torch import load_file

    a, b = load_file(str(path / "model.safetensors")), load_file(str(resumed / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_cli_student_vocab_names_the_bundle(
    parallel_dir: Path, tiny_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cli.main import main

    monkeypatch.chdir(tmp_path)
    student = tiny_bundle.parent / "src"
    argv = ["train", "distill", "--student", str(student), "--student-vocab", "xlmr", "--teacher", str(tiny_bundle)]
    argv += ["--data-dir", str(parallel_dir), "--langs", "de", "fr", "--steps", "4", "--batch-size", "4"]
    assert main([*argv, "--threads", "1", "--device", "cpu"]) == 0
    bundle = tmp_path / "models" / f"distill-{student.name}-xlmr"
    assert lexsent.load(bundle).manifest.kind.value == "multilingual"
    assert json.loads((bundle / "tokenizer.json").read_text(encoding="utf-8"))["model"]["type"] == "Unigram"


def test_transplanted_minilm_keeps_english_close(parallel_dir: Path, tmp_path: Path) -> None:
    """The packaged MiniLM on the XLM-R pieces, before any training, still embeds English near where it did
    (its saved tokenizer pads to a fixed length: padding ids must not leak into the averaged embeddings)."""
    from training.mirror.encoder import resolve_source
    from training.multilingual.transformer_student import TransformerStudent, student_tokenizer
    from training.multilingual.transplant import transplant

    source = resolve_source("default")
    english = ["Open the file in a new window", "Could not connect to the server", "Save changes before closing?"]
    texts = [*corpus_texts(load_rows(parallel_dir, ["de", "fr"], None)), *english]
    moved = transplant(source, xlmr_tokenizer_path(), texts, tmp_path / "moved")

    def embed(directory: Path) -> torch.Tensor:
        tok, _ = student_tokenizer(directory)
        model = TransformerStudent(directory, dropout=0.0).eval()
        rows = [torch.tensor([tok.encode(text).ids]) for text in english]
        with torch.no_grad():
            return torch.cat([model(ids, torch.ones_like(ids)) for ids in rows])

    before, after = embed(source), embed(moved)
    cosine = (before * after).sum(dim=1)
    assert cosine[:2].min() > 0.999  # every word is one piece in both vocabularies: the same input embeddings
    assert cosine[2] > 0.6  # "▁clo" + "sing" averages "closing" in WordPiece: close, not equal
    assert (after @ after.T).fill_diagonal_(0).max() < 0.8  # sentences stay distinguishable
