"""Parallel corpus builder on real gettext catalogues (a few small .mo files in tests/fixtures/locale)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lexsent.errors import NotFoundError
from training.data.splits import EvalGuard
from training.multilingual.corpus import (
    CleaningRules,
    LanguageStats,
    ParallelCorpus,
    build,
    clean,
    keep_pair,
    overlap_key,
    read_catalog,
    read_test,
    read_train,
    split_test,
)
from training.multilingual.corpus import test_languages as held_out_languages  # not collected as a test

LOCALE = Path(__file__).resolve().parents[2] / "fixtures" / "locale"
LANGS = ["de", "fr", "ja"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("_File", "File"),
        ("&Open", "Open"),
        ("ファイル(_F)", "ファイル"),
        ("<b>Bold</b> text &amp; more", "Bold text & more"),
        ('cannot open file "%s": %m\n', "cannot open file"),
        ("%(name)s is %3$d done", "is done"),
        ("{0} items in ${dir}", "items in"),
        ("  -d, --debug   generate debug output", "generate debug output"),
        ("-" * 40, ""),
        ("R&D and Rock && roll", "R&D and Rock && roll"),
    ],
)
def test_clean_strips_placeholders_markup_accelerators(raw: str, expected: str) -> None:
    assert clean(raw) == expected


def test_keep_pair_filters_copies_and_length_ratio() -> None:
    rules = CleaningRules(max_ratio=3.0)
    assert keep_pair("Open the file", "Datei öffnen", rules)
    assert not keep_pair("Open the file", "open the FILE", rules)  # untranslated copy
    assert not keep_pair("Open", "Öffnen Sie die Datei bitte jetzt sofort im Editor", rules)
    assert keep_pair("Open the file", "ファイルを開く", rules)  # CJK counts 3 per character


def test_read_catalog_yields_real_pairs() -> None:
    pairs = dict(read_catalog(LOCALE / "de" / "LC_MESSAGES" / "xdg-user-dirs.mo"))
    assert pairs["Desktop"] == "Schreibtisch"


def test_build_splits_held_out_pairs_never_trained_on(tmp_path: Path) -> None:
    corpus = build(tmp_path, LANGS, LOCALE, test_size=15)
    train = list(read_train(tmp_path))
    assert len(train) == len(corpus.rows) > 50
    assert any({"de", "fr", "ja"} <= set(t) for _, t in train), "no multi-way row joined through English"
    train_english = {overlap_key(en) for en, _ in train}
    for lang in LANGS:
        test = read_test(tmp_path, lang)
        stats = corpus.stats[lang]
        assert 0 < len(test) == stats.test <= 15
        assert stats.train + stats.test <= stats.cleaned <= stats.raw
        assert all(len(en.split()) >= 3 for en, _ in test)
        assert not {overlap_key(en) for en, _ in test} & train_english
        trained_targets = {overlap_key(s) for _, t in train for s in t.get(lang, [])}
        assert not {overlap_key(xx) for _, xx in test} & trained_targets
        assert len({xx for _, xx in test}) == len(test)


def test_variants_of_held_out_sentences_are_not_trained_on() -> None:
    """UI catalogues repeat strings up to case and punctuation ("Open the file…", "open the File"): such a
    variant of a test sentence, or of its translation, would let a model recall the test pair."""
    assert overlap_key("Open the File…") == overlap_key("open the file") == overlap_key("open  the-file")
    assert overlap_key("ファイルを開く。") == overlap_key("ファイルを 開く")
    rows = {
        "open the file now": {"de": ["Datei jetzt öffnen"]},
        "Open the File now…": {"de": ["Datei jetzt öffnen…"]},  # the same pair, punctuated
        "close the window please": {"de": ["Datei jetzt öffnen!"]},  # another row reusing the held-out target
        "save the document first": {"de": ["Zuerst das Dokument speichern"]},
    }
    corpus = ParallelCorpus(rows=rows, stats={"de": LanguageStats(cleaned=5)})
    test = split_test(corpus, test_size=1)
    assert len(test["de"]) == 1
    assert test["de"] == [("open the file now", "Datei jetzt öffnen")]  # the first in hash order
    assert corpus.rows == {"save the document first": {"de": ["Zuerst das Dokument speichern"]}}


def test_build_is_deterministic(tmp_path: Path) -> None:
    build(tmp_path / "a", LANGS, LOCALE, test_size=10)
    build(tmp_path / "b", LANGS, LOCALE, test_size=10)
    for name in ["train.jsonl", "test/de.tsv", "test/ja.tsv", "stats.json"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_training_only_roots_add_pairs_but_never_change_the_test_split(tmp_path: Path) -> None:
    """A second root (here: gprof's catalogues) adds training pairs; the test split stays the primary's."""
    import shutil

    primary, extra = tmp_path / "primary", tmp_path / "extra"
    for lang in LANGS:
        for root, names in ((primary, ["xdg-user-dirs.mo", "pg_archivecleanup-15.mo"]), (extra, ["gprof.mo"])):
            (root / lang / "LC_MESSAGES").mkdir(parents=True)
            for name in names:
                shutil.copy(LOCALE / lang / "LC_MESSAGES" / name, root / lang / "LC_MESSAGES" / name)
    # The extra root also repeats a primary catalogue: its held-out pairs must not come back as training.
    shutil.copy(LOCALE / "de" / "LC_MESSAGES" / "pg_archivecleanup-15.mo", extra / "de" / "LC_MESSAGES")

    alone = build(tmp_path / "alone", LANGS, primary, test_size=5)
    merged = build(tmp_path / "merged", LANGS, primary, test_size=5, extra_roots=[extra])
    train = list(read_train(tmp_path / "merged"))
    gprof = {clean(en) for en, _ in read_catalog(extra / "de" / "LC_MESSAGES" / "gprof.mo")}
    assert gprof & {en for en, _ in train}, "no gprof sentence reached the training rows"
    for lang in LANGS:
        test = read_test(tmp_path / "merged", lang)
        assert test == read_test(tmp_path / "alone", lang) and test
        stats = merged.stats[lang]
        assert stats.extra > 0 and stats.train == alone.stats[lang].train + stats.extra
        trained = {overlap_key(s) for _, t in train for s in t.get(lang, [])}
        assert trained.isdisjoint({overlap_key(xx) for _, xx in test})
        assert {overlap_key(en) for en, _ in train}.isdisjoint({overlap_key(en) for en, _ in test})


def test_rows_holding_an_english_eval_item_are_not_trained_on(tmp_path: Path) -> None:
    """The English sentence tasks score multilingual bundles too: their held-out texts stay out."""
    plain = build(tmp_path / "plain", LANGS, LOCALE, test_size=10)
    english = sorted(plain.rows)[:3]
    guard = EvalGuard(set())
    guard.add([english[0].upper(), english[2]])  # compared as the English guard does: case and spaces
    guarded = build(tmp_path / "guarded", LANGS, LOCALE, test_size=10, english_guard=guard)
    assert guarded.english_eval_rows == 2
    assert set(plain.rows) - set(guarded.rows) == {english[0], english[2]}
    assert {en for en, _ in read_train(tmp_path / "guarded")} == set(guarded.rows)
    for lang in LANGS:  # the multilingual test split does not depend on the English guard
        assert read_test(tmp_path / "guarded", lang) == read_test(tmp_path / "plain", lang)


def test_a_language_without_catalogues_is_refused_and_the_last_build_kept(tmp_path: Path) -> None:
    build(tmp_path, LANGS, LOCALE, test_size=10)
    before = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(NotFoundError) as info:
        build(tmp_path, ["de", "dee"], LOCALE, test_size=10)
    assert info.value.message.startswith(f"no catalogues (*.mo) for dee under {LOCALE}")
    assert info.value.message.endswith("languages there: de, fr, ja")
    with pytest.raises(NotFoundError, match="no-such-root: no such directory"):
        build(tmp_path, LANGS, tmp_path / "no-such-root", test_size=10)
    after = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before


def test_a_rebuild_with_fewer_languages_leaves_no_stale_test_split(tmp_path: Path) -> None:
    build(tmp_path, LANGS, LOCALE, test_size=10)
    build(tmp_path, LANGS[:1], LOCALE, test_size=10)
    assert held_out_languages(tmp_path) == [LANGS[0]]
    assert sorted(p.name for p in (tmp_path / "test").iterdir()) == [f"{LANGS[0]}.tsv"]
