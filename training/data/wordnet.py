"""Princeton WordNet 3.0 read directly from the Debian `wordnet-base` data files (no nltk data needed).

`data.<pos>` lines hold: offset, lexfile, pos, word count (hex), words with lex ids, pointer count,
pointers (symbol, offset, pos, source/target), optional verb frames, then `| gloss`. A gloss is a
definition followed by `; "example"` quotes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lexsent.errors import NotFoundError

WORDNET_DIRS = (Path("/usr/share/wordnet"), Path("/usr/share/wordnet/dict"))
POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
HYPERNYMS = {"@", "@i"}
_QUOTE = re.compile(r'"([^"]+)"')


@dataclass
class Synset:
    key: str  # "<pos><offset>", e.g. "n00001740"
    pos: str
    lemmas: list[str]
    definition: str
    examples: list[str]
    hypernyms: list[str] = field(default_factory=list)


def wordnet_dir() -> Path:
    for candidate in WORDNET_DIRS:
        if (candidate / "data.noun").exists():
            return candidate
    raise NotFoundError("WordNet data files not found: apt-get install wordnet-base (or run `make install`)")


def _parse_gloss(gloss: str) -> tuple[str, list[str]]:
    examples = [q.strip() for q in _QUOTE.findall(gloss) if len(q.split()) >= 3]
    definition = _QUOTE.sub("", gloss).split(";")[0].strip(" ;")
    return definition, examples


def parse_line(line: str) -> Synset:
    head, _, gloss = line.partition(" | ")
    parts = head.split()
    offset, pos = parts[0], parts[2]
    pos = "a" if pos == "s" else pos
    n_words = int(parts[3], 16)
    lemmas = [parts[4 + 2 * i] for i in range(n_words)]
    i = 4 + 2 * n_words
    n_ptrs = int(parts[i])
    hypernyms = []
    for j in range(n_ptrs):
        symbol, target, target_pos = parts[i + 1 + 4 * j : i + 4 + 4 * j]
        if symbol in HYPERNYMS:
            hypernyms.append(("a" if target_pos == "s" else target_pos) + target)
    definition, examples = _parse_gloss(gloss.strip())
    lemmas = [re.sub(r"\(\w+\)$", "", lemma).replace("_", " ") for lemma in lemmas]
    return Synset(pos + offset, pos, lemmas, definition, examples, hypernyms)


def synsets(directory: Path | None = None) -> Iterator[Synset]:
    directory = directory or wordnet_dir()
    for pos in POS_FILES.values():
        with (directory / f"data.{pos}").open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.startswith("  "):
                    yield parse_line(line.rstrip("\n"))
