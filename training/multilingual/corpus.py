"""Parallel corpus from gettext catalogues: English msgid ↔ translated msgstr, cleaned and split.

Software messages are noisy bitext: printf placeholders, markup, keyboard accelerators, multi-line
help screens, untranslated copies. Cleaning removes what is not language, and the English side is the
pivot: every language's pairs are joined on the English sentence into multi-way rows (`train.jsonl`),
and the held-out test split is chosen by English sentence, in hash order, so a test sentence is never
seen in training under any language. Catalogues under further roots (e.g. LibreOffice's, fetched from
Debian by `make l10n`) add training rows only: the test split comes from the primary root alone, so
adding data never changes what the models are measured on.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from lexsent.errors import NotFoundError
from training.data.gettext_corpus import read_catalog
from training.data.splits import EvalGuard, item_hash

DEFAULT_LANGUAGES = ("de", "fr", "es", "ru", "ja", "zh_CN", "it", "pt_BR", "pl", "tr", "uk", "ar")
LOCALE_ROOT = Path("/usr/share/locale")
# Where `make l10n` unpacks Debian's libreoffice-l10n-* packages (their .mo files, without LibreOffice).
L10N_ROOT = Path(".l10n/usr/lib/libreoffice/program/resource")
TRAIN_FILE = "train.jsonl"
TEST_DIR = "test"
STATS_FILE = "stats.json"

_PLACEHOLDER = re.compile(
    r"%(?:\d+\$)?[-+ #0']*(?:\d+|\*)?(?:\.(?:\d+|\*))?(?:hh|h|ll|l|L|q|j|z|t|I64|I32)?[diouxXeEfFgGaAcspnm%]"
    r"|%\([A-Za-z_]\w*\)[-+ #0]*\d*(?:\.\d+)?[sdifrx]"
    r"|\$\{[^}]*\}|\{[A-Za-z_0-9.:!]*\}|<<?[A-Z_]+>>?"
    r"|%[A-Za-z_]+%"
)
_MARKUP = re.compile(r"</?[A-Za-z][\w:-]*(?:\s[^<>]*)?/?>")
_ACCEL_PAREN = re.compile(r"\s*[(（]\s*[_&~][A-Za-z0-9]\s*[)）]")
_ACCEL = re.compile(r"(?<![\w&])[_&~](?=[^\W_])(?![A-Za-z]+;)")
_OPTION_PREFIX = re.compile(r"^\s*-{1,2}[A-Za-z0-9][^ ]*(?: -{1,2}[A-Za-z0-9][^ ]*)*\s{2,}")
_EMPTY_QUOTES = re.compile(r"[\"'“”«»‘’„「『]\s*[\"'“”«»‘’„」』]|\(\s*\)|\[\s*\]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SPACE = re.compile(r"\s+")
_LETTER = re.compile(r"[^\W\d_]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]")


@dataclass(frozen=True)
class CleaningRules:
    """Filters applied to each candidate pair; lengths are in 'effective characters' (CJK counts 3)."""

    min_chars: int = 2
    max_chars: int = 250
    max_ratio: float = 3.0


@dataclass
class LanguageStats:
    raw: int = 0
    cleaned: int = 0
    train: int = 0
    test: int = 0
    extra: int = 0  # training pairs added from the training-only roots


@dataclass
class ParallelCorpus:
    """English sentence → language → distinct translations, plus the per-language counts."""

    rows: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    stats: dict[str, LanguageStats] = field(default_factory=dict)
    english_eval_rows: int = 0  # training rows dropped because their English side is an English eval item


def clean(text: str) -> str:
    """Strip placeholders, markup, accelerators and option columns; normalise Unicode and spaces."""
    text = unicodedata.normalize("NFKC", text)
    text = _ACCEL_PAREN.sub("", text)
    text = _MARKUP.sub(" ", text)
    text = _ACCEL.sub("", text)
    text = html.unescape(text)
    text = _PLACEHOLDER.sub(" ", text)
    text = _OPTION_PREFIX.sub("", text)
    text = _EMPTY_QUOTES.sub("", _CONTROL.sub("", text))
    text = text.replace("\\n", " ").replace("\\t", " ")
    text = _SPACE.sub(" ", text).strip(" \t:;,-–—•*|")
    return text


def effective_length(text: str) -> int:
    """Character count with CJK characters weighted 3, so ratios compare across scripts."""
    return len(text) + 2 * len(_CJK.findall(text))


def keep_pair(english: str, other: str, rules: CleaningRules) -> bool:
    if english.casefold() == other.casefold():  # untranslated copy (or a name): no signal
        return False
    if not _LETTER.search(english) or not _LETTER.search(other):
        return False
    a, b = effective_length(english), effective_length(other)
    if min(a, b) < rules.min_chars or max(a, b) > rules.max_chars:
        return False
    return max(a, b) / max(min(a, b), 1) <= rules.max_ratio


def _segments(msgid: str, msgstr: str) -> Iterator[tuple[str, str]]:
    """Multi-line messages are split line by line when both sides have the same line structure."""
    src = [line for line in msgid.split("\n") if line.strip()]
    tgt = [line for line in msgstr.split("\n") if line.strip()]
    if len(src) == len(tgt):
        yield from zip(src, tgt, strict=True)
    elif len(src) == 1 or len(tgt) == 1:
        yield " ".join(src), " ".join(tgt)


def catalog_files(locale_root: Path, language: str) -> list[Path]:
    return sorted((locale_root / language / "LC_MESSAGES").glob("*.mo"))


def require_catalogues(languages: Sequence[str], locale_root: Path) -> None:
    """Every requested language must have catalogues under the main root: a mistyped language would
    otherwise build (and write over the previous build with) a corpus without it, and exit 0."""
    if not locale_root.is_dir():
        raise NotFoundError(f"{locale_root}: no such directory (the root of the catalogues, --locale-root)")
    missing = [language for language in languages if not catalog_files(locale_root, language)]
    if missing:
        present = sorted(p.parent.parent.name for p in locale_root.glob("*/LC_MESSAGES/*.mo"))
        known = ", ".join(dict.fromkeys(present)) or "none"
        raise NotFoundError(
            f"no catalogues (*.mo) for {', '.join(missing)} under {locale_root}/<lang>/LC_MESSAGES; "
            f"languages there: {known}"
        )


def language_pairs(files: Iterable[Path], rules: CleaningRules, stats: LanguageStats) -> Iterator[tuple[str, str]]:
    for path in files:
        for msgid, msgstr in read_catalog(path):
            for english, other in _segments(msgid, msgstr):
                stats.raw += 1
                english, other = clean(english), clean(other)
                if keep_pair(english, other, rules):
                    yield english, other


def collect(
    languages: Sequence[str], locale_root: Path = LOCALE_ROOT, rules: CleaningRules | None = None
) -> ParallelCorpus:
    """Read, clean and deduplicate every language, joined on the English side."""
    rules = rules or CleaningRules()
    corpus = ParallelCorpus()
    rows: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for language in tqdm(languages, desc=f"catalogues in {locale_root}", unit="lang"):
        stats = corpus.stats.setdefault(language, LanguageStats())
        files = catalog_files(locale_root, language)
        if not files:
            tqdm.write(f"no catalogues for {language!r} under {locale_root}")
        seen: set[tuple[str, str]] = set()
        for english, other in language_pairs(files, rules, stats):
            key = (english.casefold(), other.casefold())
            if key in seen:
                continue
            seen.add(key)
            rows[english].setdefault(language, []).append(other)
        stats.cleaned = len(seen)
    corpus.rows = {english: rows[english] for english in sorted(rows)}
    return corpus


def overlap_key(text: str) -> str:
    """What two sentences share when one is the other up to case, punctuation and spacing ("Open File…",
    "open file"): the key under which held-out sentences are kept out of training."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if ch.isalnum())


def held_out_keys(test: dict[str, list[tuple[str, str]]]) -> tuple[set[str], dict[str, set[str]]]:
    """`overlap_key`s of the test split: every held-out English sentence, and each language's translations."""
    english = {overlap_key(en) for pairs in test.values() for en, _ in pairs}
    return english, {lang: {overlap_key(xx) for _, xx in pairs} for lang, pairs in test.items()}


def sentence_hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.casefold().encode("utf-8")).digest()[:8], "big")


def split_test(
    corpus: ParallelCorpus, test_size: int = 1000, min_test_words: int = 3
) -> dict[str, list[tuple[str, str]]]:
    """Pick held-out pairs per language by walking English sentences in hash order.

    A test pair must be unambiguous for retrieval: one translation, not shared with another English
    sentence in that language's test set, and a sentence-like English side (min words). Every English
    sentence used as a test item in any language, and every variant of it (`overlap_key`), is removed from
    the training rows of all languages; so is every variant of a held-out translation.
    A language with few pairs gives at most a fifth of them to the test side.
    """
    test: dict[str, list[tuple[str, str]]] = {lang: [] for lang in corpus.stats}
    quota = {lang: min(test_size, stats.cleaned // 5) for lang, stats in corpus.stats.items()}
    used_targets: dict[str, set[str]] = {lang: set() for lang in corpus.stats}
    for english in sorted(corpus.rows, key=sentence_hash):
        if len(english.split()) < min_test_words:
            continue
        for language, translations in corpus.rows[english].items():
            target = translations[0]
            if len(test[language]) >= quota[language] or target.casefold() in used_targets[language]:
                continue
            test[language].append((english, target))
            used_targets[language].add(target.casefold())
        if all(len(pairs) >= quota[lang] for lang, pairs in test.items()):
            break
    held_english, held_targets = held_out_keys(test)
    # Neither a held-out sentence nor a variant of it (case, punctuation, spacing) is trained on, in any
    # language, through any English row.
    for english, per_language in list(corpus.rows.items()):
        if overlap_key(english) in held_english:
            del corpus.rows[english]
            continue
        for language, translations in list(per_language.items()):
            kept = [t for t in translations if overlap_key(t) not in held_targets[language]]
            if kept:
                per_language[language] = kept
            else:
                del per_language[language]
        if not per_language:
            del corpus.rows[english]
    for language, pairs in test.items():
        corpus.stats[language].test = len(pairs)
    return test


def add_training_only(corpus: ParallelCorpus, extra: ParallelCorpus, test: dict[str, list[tuple[str, str]]]) -> None:
    """Merge `extra`'s pairs into the training rows, never touching the test split.

    An English sentence held out in any language is skipped, and so is a translation held out in its
    language's test set or already present in the row (all compared by `overlap_key`).
    """
    held_english, held_targets = held_out_keys(test)
    for english, per_language in extra.rows.items():
        if overlap_key(english) in held_english:
            continue
        row = corpus.rows.setdefault(english, {})
        for language, translations in per_language.items():
            present = {overlap_key(t) for t in row.get(language, [])} | held_targets.get(language, set())
            added = [t for t in translations if overlap_key(t) not in present]
            if added:
                row.setdefault(language, []).extend(added)
                corpus.stats[language].extra += len(added)
        if not row:
            del corpus.rows[english]
    corpus.rows = {english: corpus.rows[english] for english in sorted(corpus.rows)}


def drop_english_eval(corpus: ParallelCorpus, guard: EvalGuard) -> None:
    """Drop the training rows whose English side is an evaluation item of the English data directory
    (`lexsent data build`'s eval_hashes.txt): multilingual bundles are scored on the English sentence
    tasks too, and the catalogues these rows come from hold those tasks' paraphrase sentences."""
    guarded = [english for english in corpus.rows if item_hash(english) in guard.hashes]
    for english in guarded:
        del corpus.rows[english]
    corpus.english_eval_rows = len(guarded)


def count_training_pairs(corpus: ParallelCorpus) -> None:
    for stats in corpus.stats.values():
        stats.train = 0
    for per_language in corpus.rows.values():
        for language, translations in per_language.items():
            corpus.stats[language].train += len(translations)


def _replace(path: Path, lines: Iterable[str]) -> None:
    """Write beside `path`, then rename over it: an interrupted build leaves the old file whole."""
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("w", encoding="utf-8") as handle:
        handle.writelines(lines)
    os.replace(partial, path)


def write_corpus(corpus: ParallelCorpus, test: dict[str, list[tuple[str, str]]], out: Path) -> None:
    """`train.jsonl` (one multi-way row per English sentence), `test/<lang>.tsv`, `stats.json`. Test files
    of languages this build does not have are removed, so evaluation never scores a stale split."""
    out.mkdir(parents=True, exist_ok=True)
    (out / TEST_DIR).mkdir(exist_ok=True)
    rows = corpus.rows.items()
    _replace(out / TRAIN_FILE, (json.dumps({"en": en, "translations": t}, ensure_ascii=False) + "\n" for en, t in rows))
    for language, pairs in test.items():
        _replace(out / TEST_DIR / f"{language}.tsv", (f"{en}\t{xx}\n" for en, xx in pairs))
    for stale in (out / TEST_DIR).glob("*.tsv"):
        if stale.stem not in test:
            stale.unlink()
    stats = {lang: vars(s) for lang, s in corpus.stats.items()}
    _replace(out / STATS_FILE, [json.dumps(stats, indent=2) + "\n"])


def read_train(path: Path) -> Iterator[tuple[str, dict[str, list[str]]]]:
    with (path / TRAIN_FILE).open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            yield row["en"], row["translations"]


def read_test(path: Path, language: str) -> list[tuple[str, str]]:
    file = path / TEST_DIR / f"{language}.tsv"
    pairs = []
    for line in file.read_text(encoding="utf-8").splitlines():
        english, other = line.split("\t")
        pairs.append((english, other))
    return pairs


def test_languages(path: Path) -> list[str]:
    return sorted(p.stem for p in (path / TEST_DIR).glob("*.tsv") if p.stat().st_size > 0)


def build(
    out: Path,
    languages: Sequence[str] = DEFAULT_LANGUAGES,
    locale_root: Path = LOCALE_ROOT,
    test_size: int = 1000,
    rules: CleaningRules | None = None,
    extra_roots: Sequence[Path] = (),
    english_guard: EvalGuard | None = None,
) -> ParallelCorpus:
    """The corpus of `locale_root` split into train/test, plus training-only pairs from `extra_roots`,
    without the rows `english_guard` (the English data directory's held-out texts) names."""
    require_catalogues(languages, locale_root)
    corpus = collect(languages, locale_root, rules)
    test = split_test(corpus, test_size)
    for root in extra_roots:
        add_training_only(corpus, collect(languages, root, rules), test)
    if english_guard is not None:
        drop_english_eval(corpus, english_guard)
    count_training_pairs(corpus)
    write_corpus(corpus, test, out)
    return corpus
