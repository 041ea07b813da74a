"""Toy corpora and a tiny pre-trained MLM, built once per session (seconds, not minutes)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from training.data.splits import item_hash

ADJ = ("red", "small", "quiet", "broken", "open", "hidden", "empty", "remote")
NOUN = ("file", "window", "server", "cat", "river", "printer", "folder", "garden")
VERB = ("opens", "closes", "copies", "watches", "deletes", "finds")


def toy_sentences() -> list[str]:
    return [f"the {a} {n} {v} the {m}" for a, n, v, m in itertools.product(ADJ, NOUN, VERB, NOUN[:3])]


def write_toy_data(root: Path) -> Path:
    """A data dir shaped like `lexsent data build` output, small enough for unit tests."""
    (root / "eval").mkdir(parents=True)
    sentences = toy_sentences()
    (root / "mlm_corpus.txt").write_text("\n".join(sentences) + "\n")
    (root / "sentences.train.txt").write_text("\n".join(sentences) + "\n")
    (root / "words.train.txt").write_text("\n".join(ADJ + NOUN + VERB) + "\n")
    rows = [{"definition": f"a {a} {n}", "example": f"I saw the {a} {n} today"} for a in ADJ[:3] for n in NOUN[:3]]
    held_out = [text for row in rows for text in row.values()] + ["could not open file", "unable to open file"]
    (root / "eval_hashes.txt").write_text("".join(item_hash(text) + "\n" for text in held_out))
    (root / "eval" / "definition_example.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    pairs = [{"a": "could not open file", "b": "unable to open file", "pivots": ["de", "fr"]}]
    (root / "eval" / "paraphrase.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pairs))
    (root / "eval" / "distractors.txt").write_text("the printer is empty\nthe river finds the cat\n")
    syn = [{"word": "cat", "synonyms": ["kitty"]}, {"word": "river", "synonyms": ["stream"]}]
    (root / "eval" / "synonyms.jsonl").write_text("".join(json.dumps(r) + "\n" for r in syn))
    sim = [{"a": "cat", "b": "kitty", "score": 1.0}, {"a": "cat", "b": "river", "score": 0.2},
           {"a": "file", "b": "folder", "score": 0.6}]  # fmt: skip
    (root / "eval" / "word_similarity.jsonl").write_text("".join(json.dumps(r) + "\n" for r in sim))
    return root


@pytest.fixture(scope="session")
def toy_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_data(tmp_path_factory.mktemp("toy-data"))


def tiny_mlm_config(data: Path, run: Path, **overrides: object) -> object:
    from training.mlm.trainer import MlmConfig

    base = dict(data_dir=str(data), run_dir=str(run), out=str(run / "model"), vocab_size=120, layers=1,
                hidden=32, heads=2, max_length=16, batch_size=16, lr=3e-3, steps=40, save_every=10,
                threads=2, device="cpu", progress=False)  # fmt: skip
    base.update(overrides)
    return MlmConfig(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def tiny_mlm(toy_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-layer MLM trained 40 steps on the toy corpus: a real HF directory."""
    from training.mlm.trainer import train_mlm

    run = tmp_path_factory.mktemp("tiny-mlm")
    out = train_mlm(tiny_mlm_config(toy_data, run))  # type: ignore[arg-type]
    assert out is not None
    return out
