"""English held-out tasks built by `lexsent data build` (files under `<data-dir>/eval/`).

Sentence: `definition_example` (WordNet definition → its example among all held-out examples) and
`paraphrase` (a catalogue msgid → its pivot paraphrase among all paraphrase sentences plus held-out
distractor msgids). Lexical: `synonyms` (word → any WordNet synonym among the held-out vocabulary)
and `word_similarity` (Spearman of cosine vs Wu-Palmer).
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lexsent.errors import InvalidInputError
from training.data.lines import numbered_lines
from training.data.splits import normalise_key
from training.evaluation.metrics import pair_cosines, retrieval, spearman
from training.evaluation.task import Scores, Task

if TYPE_CHECKING:
    from lexsent.encoder import Encoder

Rows = list[tuple[str, dict[str, Any]]]  # ("<file>:<line>", row): errors name the line to fix


def _lines(args: argparse.Namespace, name: str) -> list[tuple[str, str]]:
    """The non-blank lines of an evaluation file with their locations; a missing, undecodable or empty
    file is refused (scoring nothing would record NaN, which makes the manifest unloadable)."""
    path = Path(args.data_dir) / "eval" / name
    return [(f"{path}:{n}", line) for n, line in numbered_lines(path, Path(args.data_dir))]


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


_FIELDS: dict[str, tuple[str, Callable[[object], bool]]] = {
    "text": ("a non-empty string", _is_text),
    "texts": (
        "a non-empty list of non-empty strings",
        lambda v: isinstance(v, list) and bool(v) and all(map(_is_text, v)),
    ),
    "number": (
        "a finite number",
        lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
    ),
}


def _rows(args: argparse.Namespace, name: str, fields: dict[str, str]) -> Rows:
    """JSONL rows holding `fields` (key → kind in `_FIELDS`), each checked so bad data is one error naming
    its line, not a traceback from deep inside a metric."""
    rows: Rows = []
    for where, line in _lines(args, name):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{where}: not valid JSON ({exc.msg})") from exc
        if not isinstance(row, dict):
            raise InvalidInputError(f"{where}: expected a JSON object with keys {sorted(fields)}")
        for key, kind in fields.items():
            what, valid = _FIELDS[kind]
            if key not in row:
                raise InvalidInputError(f"{where}: missing key {key!r}")
            if not valid(row[key]):
                raise InvalidInputError(f"{where}: {key!r} must be {what}, not {json.dumps(row[key])[:80]}")
        rows.append((where, row))
    return rows


def _definition_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    return [row for _, row in _rows(args, "definition_example.jsonl", {"definition": "text", "example": "text"})]


def definition_example(encoder: Encoder, args: argparse.Namespace) -> Scores:
    rows = _definition_rows(args)
    queries = encoder.encode([r["definition"] for r in rows])
    candidates = encoder.encode([r["example"] for r in rows])
    result = retrieval(queries, candidates, [{i} for i in range(len(rows))])
    return {"p_at_1": result.p_at_1, "mrr": result.mrr}


class _Related:
    """Texts that retrieve their related texts among all texts. A text is one item per `normalise_key`
    identity, as the splits key it: the data spells one sentence differently in different rows ('Cannot
    create directory' / 'cannot create directory'), and a lowercasing encoder gives both one vector, so
    as separate candidates each would be the other's unbeatable wrong answer. Twins are merged into one
    item (encoded as their first spelling in sorted order) and their relations are united."""

    def __init__(self) -> None:
        self.spelling: dict[str, str] = {}
        self.related: defaultdict[str, set[str]] = defaultdict(set)

    def add(self, text: str) -> str:
        key = normalise_key(text)
        self.spelling[key] = min(self.spelling.get(key, text), text)
        return key

    def relate(self, where: str, query: str, answer: str) -> None:
        q, a = self.add(query), self.add(answer)
        if q == a:
            raise InvalidInputError(f"{where}: {query!r} and {answer!r} are one text (case and spacing ignored)")
        self.related[q].add(a)

    def scores(self, encoder: Encoder) -> Scores:
        pool = sorted(self.spelling)
        index = {key: i for i, key in enumerate(pool)}
        queries = sorted(self.related)
        query_ids = [index[q] for q in queries]
        vectors = encoder.encode([self.spelling[key] for key in pool])
        relevant = [{index[t] for t in self.related[q]} for q in queries]
        result = retrieval(vectors[query_ids], vectors, relevant, exclude=query_ids)
        return {"p_at_1": result.p_at_1, "mrr": result.mrr}


def _paraphrase_items(args: argparse.Namespace) -> _Related:
    items = _Related()
    for where, row in _rows(args, "paraphrase.jsonl", {"a": "text", "b": "text"}):
        items.relate(where, row["a"], row["b"])
        items.relate(where, row["b"], row["a"])
    for _, text in _lines(args, "distractors.txt"):
        items.add(text)
    return items


def paraphrase(encoder: Encoder, args: argparse.Namespace) -> Scores:
    return _paraphrase_items(args).scores(encoder)


def _synonym_items(args: argparse.Namespace) -> _Related:
    items = _Related()
    for where, row in _rows(args, "synonyms.jsonl", {"word": "text", "synonyms": "texts"}):
        for synonym in row["synonyms"]:
            items.relate(where, row["word"], synonym)
    return items


def synonyms(encoder: Encoder, args: argparse.Namespace) -> Scores:
    return _synonym_items(args).scores(encoder)


def _similarity_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = [row for _, row in _rows(args, "word_similarity.jsonl", {"a": "text", "b": "text", "score": "number"})]
    if len(rows) < 2:
        path = Path(args.data_dir) / "eval" / "word_similarity.jsonl"
        raise InvalidInputError(f"{path}: a rank correlation needs at least 2 pairs, found {len(rows)}")
    return rows


def word_similarity(encoder: Encoder, args: argparse.Namespace) -> Scores:
    rows = _similarity_rows(args)
    cosines = pair_cosines(encoder.encode([r["a"] for r in rows]), encoder.encode([r["b"] for r in rows]))
    return {"spearman": spearman(cosines, [r["score"] for r in rows])}


SENTENCE = ("sentence", "multilingual")
TASKS = (
    Task(
        "definition_example", SENTENCE, definition_example, "WordNet definition → example retrieval", _definition_rows
    ),
    Task("paraphrase", SENTENCE, paraphrase, "catalogue pivot-paraphrase retrieval", _paraphrase_items),
    Task("synonyms", ("lexical",), synonyms, "WordNet synonym retrieval", _synonym_items),
    Task("word_similarity", ("lexical",), word_similarity, "Spearman vs Wu-Palmer", _similarity_rows),
)
