"""`lexsent data build`: English corpora and held-out evaluation sets from gettext + WordNet.

Outputs (all under the data directory):
  mlm_corpus.txt          every training sentence (gettext msgids, WordNet definitions and examples)
  sentences.train.txt     same sentences, the pool MirrorBERT sentence mode samples from
  words.train.txt         single-word WordNet lemmas on the train side
  eval/definition_example.jsonl   {"definition", "example"} of held-out synsets
  eval/paraphrase.jsonl   {"a", "b", "pivots"}: distinct msgids translated identically in >= 2 languages
  eval/distractors.txt    held-out msgids added to the paraphrase candidate pool
  eval/synonyms.jsonl     {"word", "synonyms"} among held-out words
  eval/word_similarity.jsonl      {"a", "b", "score"}: held-out noun pairs scored by Wu-Palmer
  eval_hashes.txt         sha256 of every eval text (the leak guard trainers check against)
  build.json              counts, salt and fractions
Every split is by hash of the item (see `training.data.splits`), so rebuilding gives the same sets.
"""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from training.data import gettext_corpus, wordnet
from training.data.splits import EvalGuard, is_eval, item_hash, normalise_key
from training.data.wordnet_similarity import WuPalmer

PIVOTS = ("de", "fr", "es", "it", "ru", "pl", "pt_BR", "nl", "sv", "ja", "zh_CN", "uk", "cs")
_WORD = re.compile(r"^[a-z]{3,}$")


@dataclass(frozen=True)
class BuildConfig:
    salt: str = "lexsent-v1"
    sentence_eval: float = 0.05
    synset_eval: float = 0.05
    word_eval: float = 0.15
    min_pivots: int = 2
    max_eval_items: int = 1000
    distractors: int = 2000


def _content(text: str) -> tuple[str, ...]:
    return tuple(re.sub(r"[^a-z0-9 ]", " ", text.casefold()).split())


def paraphrase_pairs(cfg: BuildConfig) -> list[dict[str, object]]:
    """English msgids that several languages translate with the very same string (pivot paraphrases)."""
    by_translation: dict[tuple[str, str], set[str]] = defaultdict(set)
    for msg in tqdm(gettext_corpus.messages(set(PIVOTS)), desc="pivot catalogues", unit="msg", mininterval=2):
        english = gettext_corpus.clean(msg.msgid)
        if english and msg.msgstr.strip():
            by_translation[(msg.lang, normalise_key(msg.msgstr))].add(english)
    votes: dict[tuple[str, str], set[str]] = defaultdict(set)
    for (lang, _), group in by_translation.items():
        variants = sorted({normalise_key(g): g for g in sorted(group)}.values())
        for i, a in enumerate(variants):
            for b in variants[i + 1 :]:
                if _content(a) != _content(b):
                    votes[(a, b)].add(lang)
    pairs = [{"a": a, "b": b, "pivots": sorted(ls)} for (a, b), ls in votes.items() if len(ls) >= cfg.min_pivots]
    return sorted(pairs, key=lambda p: item_hash(str(p["a"]) + "\x00" + str(p["b"])))


def _write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _dedupe(texts: list[str]) -> list[str]:
    """First spelling wins; callers pass texts in a content-defined order so the output is stable."""
    return list({normalise_key(t): t for t in texts}.values())


def build(out: Path, cfg: BuildConfig = BuildConfig()) -> dict[str, int]:
    (out / "eval").mkdir(parents=True, exist_ok=True)
    guard = EvalGuard(set())
    rng = random.Random(cfg.salt)

    # --- gettext sentences: paraphrase sentences and a hashed slice are held out
    pairs = paraphrase_pairs(cfg)
    held = {normalise_key(str(p[s])) for p in pairs for s in ("a", "b")}
    msgids = _dedupe(
        [
            c
            for m in tqdm(sorted(set(gettext_corpus.english_msgids())), desc="msgids", mininterval=2)
            if (c := gettext_corpus.clean(m))
        ]
    )
    msgids.sort(key=item_hash)
    eval_msgids = [t for t in msgids if normalise_key(t) in held or is_eval(t, cfg.sentence_eval, cfg.salt)]
    distractors = [t for t in eval_msgids if normalise_key(t) not in held][: cfg.distractors]
    guard.add(eval_msgids)
    guard.add(str(p[s]) for p in pairs for s in ("a", "b"))  # every pair, also those outside `msgids`

    # --- WordNet: held-out synsets give definition/example pairs
    synsets = {s.key: s for s in tqdm(wordnet.synsets(), desc="wordnet", unit="synset", mininterval=2)}
    def_ex = []
    wn_train: list[str] = []
    for key in sorted(synsets, key=item_hash):
        s = synsets[key]
        texts = [s.definition, *s.examples]
        if is_eval(key, cfg.synset_eval, cfg.salt):
            guard.add(texts)
            if s.examples and len(s.definition.split()) >= 3:
                def_ex.append({"definition": s.definition, "example": s.examples[0], "synset": key})
        else:
            wn_train.extend(t for t in texts if len(t.split()) >= 3)
    def_ex = def_ex[: cfg.max_eval_items]

    # --- words: hashed split over single-word lemmas
    words = sorted({lemma.lower() for s in synsets.values() for lemma in s.lemmas if _WORD.match(lemma.lower())})
    eval_words = {w for w in words if is_eval(w, cfg.word_eval, cfg.salt)}
    guard.add(eval_words)
    synonyms: dict[str, set[str]] = defaultdict(set)
    for s in synsets.values():
        members = {lemma.lower() for lemma in s.lemmas} & eval_words
        for w in members:
            synonyms[w] |= members - {w}
    syn_rows = [
        {"word": w, "synonyms": sorted(v)} for w, v in sorted(synonyms.items(), key=lambda x: item_hash(x[0])) if v
    ][: cfg.max_eval_items]

    # --- word similarity: half random noun pairs, half pairs sharing a close hypernym
    wup = WuPalmer(synsets)
    nouns = sorted(w for w in eval_words if w in wup.senses)
    near: dict[str, set[str]] = defaultdict(set)
    for w in nouns:
        for sense in wup.senses[w][:1]:
            for anc, dist in wup.ancestors(sense).items():
                if 1 <= dist <= 2:
                    near[anc].add(w)
    clusters = sorted(sorted(v) for v in near.values() if len(v) >= 2)
    sim_pairs: set[tuple[str, str]] = set()
    while len(sim_pairs) < cfg.max_eval_items:
        if len(sim_pairs) % 2:
            a, b = rng.sample(nouns, 2)
        else:
            a, b = rng.sample(rng.choice(clusters), 2)
        sim_pairs.add((min(a, b), max(a, b)))
    sim_rows = [{"a": a, "b": b, "score": round(wup.word_similarity(a, b) or 0.0, 6)} for a, b in sorted(sim_pairs)]

    held_out = set(eval_msgids)
    # --- training side, with the guard applied (an identical text on both sides stays out of training)
    train_sentences = [
        t for t in _dedupe([t for t in msgids if t not in held_out] + wn_train) if item_hash(t) not in guard.hashes
    ]
    rng.shuffle(train_sentences)
    train_words = [w for w in words if item_hash(w) not in guard.hashes]
    _write_lines(out / "mlm_corpus.txt", train_sentences)
    _write_lines(out / "sentences.train.txt", train_sentences)
    _write_lines(out / "words.train.txt", train_words)
    _write_jsonl(out / "eval" / "definition_example.jsonl", def_ex)  # type: ignore[arg-type]
    _write_jsonl(out / "eval" / "paraphrase.jsonl", pairs)
    _write_lines(out / "eval" / "distractors.txt", distractors)
    _write_jsonl(out / "eval" / "synonyms.jsonl", syn_rows)  # type: ignore[arg-type]
    _write_jsonl(out / "eval" / "word_similarity.jsonl", sim_rows)  # type: ignore[arg-type]
    guard.write(out)
    counts = {
        "train_sentences": len(train_sentences),
        "train_words": len(train_words),
        "definition_example": len(def_ex),
        "paraphrase_pairs": len(pairs),
        "distractors": len(distractors),
        "synonym_queries": len(syn_rows),
        "word_similarity_pairs": len(sim_rows),
        "eval_hashes": len(guard.hashes),
    }
    (out / "build.json").write_text(json.dumps({"config": cfg.__dict__, "counts": counts}, indent=2) + "\n")
    return counts
