"""English held-out tasks built by `lexsent data build` (files under `<data-dir>/eval/`).

Sentence: `definition_example` (WordNet definition → its example among all held-out examples) and
`paraphrase` (a catalogue msgid → its pivot paraphrase among all paraphrase sentences plus held-out
distractor msgids). Lexical: `synonyms` (word → any WordNet synonym among the held-out vocabulary)
and `word_similarity` (Spearman of cosine vs Wu-Palmer).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.evaluation.metrics import pair_cosines, retrieval, spearman
from training.evaluation.task import Scores, Task

if TYPE_CHECKING:
    from lexsent.encoder import Encoder


def _lines(args: argparse.Namespace, name: str) -> list[str]:
    """The lines of an evaluation file of the data directory, or a NotFoundError saying how to build it."""
    path = Path(args.data_dir) / "eval" / name
    if not path.exists():
        from lexsent.errors import NotFoundError

        raise NotFoundError(f"{path} missing: run `lexsent data build --out {args.data_dir}` first")
    return path.read_text(encoding="utf-8").splitlines()


def _rows(args: argparse.Namespace, name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in _lines(args, name) if line]


def definition_example(encoder: Encoder, args: argparse.Namespace) -> Scores:
    rows = _rows(args, "definition_example.jsonl")
    queries = encoder.encode([r["definition"] for r in rows])
    candidates = encoder.encode([r["example"] for r in rows])
    result = retrieval(queries, candidates, [{i} for i in range(len(rows))])
    return {"p_at_1": result.p_at_1, "mrr": result.mrr}


def _retrieve_related(encoder: Encoder, pool: list[str], related: dict[str, set[str]]) -> Scores:
    index = {text: i for i, text in enumerate(pool)}
    queries = sorted(related)
    vectors = encoder.encode(pool)
    query_ids = [index[q] for q in queries]
    result = retrieval(
        vectors[query_ids], vectors, [{index[t] for t in related[q]} for q in queries], exclude=query_ids
    )
    return {"p_at_1": result.p_at_1, "mrr": result.mrr}


def paraphrase(encoder: Encoder, args: argparse.Namespace) -> Scores:
    related: dict[str, set[str]] = {}
    for row in _rows(args, "paraphrase.jsonl"):
        related.setdefault(row["a"], set()).add(row["b"])
        related.setdefault(row["b"], set()).add(row["a"])
    distractors = _lines(args, "distractors.txt")
    pool = list(dict.fromkeys([*sorted(related), *distractors]))
    return _retrieve_related(encoder, pool, related)


def synonyms(encoder: Encoder, args: argparse.Namespace) -> Scores:
    related = {row["word"]: set(row["synonyms"]) for row in _rows(args, "synonyms.jsonl")}
    pool = sorted(set(related) | {w for syns in related.values() for w in syns})
    return _retrieve_related(encoder, pool, related)


def word_similarity(encoder: Encoder, args: argparse.Namespace) -> Scores:
    rows = _rows(args, "word_similarity.jsonl")
    cosines = pair_cosines(encoder.encode([r["a"] for r in rows]), encoder.encode([r["b"] for r in rows]))
    return {"spearman": spearman(cosines, [r["score"] for r in rows])}


SENTENCE = ("sentence", "multilingual")
TASKS = (
    Task("definition_example", SENTENCE, definition_example, "WordNet definition → example retrieval"),
    Task("paraphrase", SENTENCE, paraphrase, "catalogue pivot-paraphrase retrieval"),
    Task("synonyms", ("lexical",), synonyms, "WordNet synonym retrieval"),
    Task("word_similarity", ("lexical",), word_similarity, "Spearman vs Wu-Palmer"),
)
