"""The English tasks' reading of their data: one item per normalised text, and bad files refused by line."""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lexsent.errors import InvalidInputError
from training.data.splits import normalise_key
from training.evaluation import english


class LowercasingEncoder:
    """Vectors keyed by normalised text, as a lowercasing tokenizer makes them: case twins are identical."""

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors
        self.seen: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        self.seen.extend(texts)
        return np.array([self.vectors[normalise_key(t)] for t in texts], dtype=np.float32)


def _data(root: Path, pairs: list[tuple[str, str]], distractors: list[str]) -> argparse.Namespace:
    (root / "eval").mkdir(parents=True)
    rows = "".join(json.dumps({"a": a, "b": b, "pivots": ["de", "fr"]}) + "\n" for a, b in pairs)
    (root / "eval" / "paraphrase.jsonl").write_text(rows)
    (root / "eval" / "distractors.txt").write_text("".join(t + "\n" for t in distractors))
    return argparse.Namespace(data_dir=str(root))


def test_case_twins_are_one_candidate_with_their_relations_merged(tmp_path: Path) -> None:
    """The build spells one sentence differently in two pairs. As two candidates, each twin would be the
    other's identical-vector wrong answer, ranking ahead of every right one (P@1 2/4 here)."""
    args = _data(
        tmp_path,
        [
            ("Cannot create directory", "Unable to create folder"),
            ("cannot  create directory", "Could not make directory"),
        ],
        ["The printer is empty"],
    )
    encoder = LowercasingEncoder({
        "cannot create directory": [1.0, 0.0, 0.0],
        "unable to create folder": [0.9, 0.1, 0.0],
        "could not make directory": [0.9, -0.1, 0.0],
        "the printer is empty": [0.0, 0.0, 1.0],
    })  # fmt: skip
    assert english.paraphrase(encoder, args) == {"p_at_1": 1.0, "mrr": 1.0}  # type: ignore[arg-type]
    assert sorted(encoder.seen) == [
        "Cannot create directory", "Could not make directory", "The printer is empty", "Unable to create folder",
    ]  # fmt: skip


def test_a_pair_of_one_text_is_refused_by_line(tmp_path: Path) -> None:
    args = _data(tmp_path, [("Open file", "Open a file"), ("Save", "SAVE")], ["Quit"])
    with pytest.raises(InvalidInputError, match=r"paraphrase\.jsonl:2: 'Save' and 'SAVE' are one text"):
        english.paraphrase(LowercasingEncoder({}), args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("task", "name", "content", "message"),
    [
        ("paraphrase", "paraphrase.jsonl", "", r"paraphrase\.jsonl is empty"),
        ("paraphrase", "distractors.txt", "\n", r"distractors\.txt is empty"),
        ("paraphrase", "paraphrase.jsonl", '{"a": "x", "b": "y"}\n{"a": "could not', r"jsonl:2: not valid JSON"),
        ("paraphrase", "paraphrase.jsonl", '["x", "y"]\n', r"paraphrase\.jsonl:1: expected a JSON object"),
        ("paraphrase", "paraphrase.jsonl", '{"a": "x"}\n', r"paraphrase\.jsonl:1: missing key 'b'"),
        ("paraphrase", "paraphrase.jsonl", b'{"a": "x", "b": "\xff"}\n', r"paraphrase\.jsonl: not UTF-8"),
        ("synonyms", "synonyms.jsonl", '{"word": "cat"}\n', r"synonyms\.jsonl:1: missing key 'synonyms'"),
        ("synonyms", "synonyms.jsonl", '{"word": "cat", "synonyms": []}\n', r"jsonl:1: 'synonyms' must be a non-empty"),
        ("word_similarity", "word_similarity.jsonl", '{"a": "a", "b": "b", "score": NaN}\n', r"must be a finite"),
        ("word_similarity", "word_similarity.jsonl", '{"a": "a", "b": "b", "score": 0.5}\n', r"2 pairs, found 1"),
        ("definition_example", "definition_example.jsonl", '{"definition": "", "example": "x"}\n', r"non-empty str"),
    ],
)
def test_unusable_evaluation_data_is_one_error_naming_file_and_line(
    toy_data: Path, tmp_path: Path, task: str, name: str, content: str | bytes, message: str
) -> None:
    """Each of these used to be a traceback (JSONDecodeError, KeyError, a zero-size array) or, for an empty
    file, a NaN score that `--record manifest` wrote as null, leaving the bundle unloadable."""
    data = Path(shutil.copytree(toy_data, tmp_path / "data"))
    (data / "eval" / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    run = {t.name: t.run for t in english.TASKS}[task]
    with pytest.raises(InvalidInputError, match=message):
        run(LowercasingEncoder({}), argparse.Namespace(data_dir=str(data)))  # type: ignore[arg-type]
