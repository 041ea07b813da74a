from __future__ import annotations

import json
from pathlib import Path

import pytest

from lexsent.errors import InvalidInputError
from training.data.gettext_corpus import clean
from training.data.splits import EvalGuard, LeakError, is_eval
from training.data.wordnet import Synset, parse_line
from training.data.wordnet_similarity import WuPalmer


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Could not open file %s: %s", "Could not open file"),
        ("Deleting %(count)d files in {0}", "Deleting files in"),
        ("_Open the <b>selected</b> &amp; recent files", "Open the selected & recent files"),
        ("&Save all open documents", "Save all open documents"),
        ("use --force to overwrite the file", "use to overwrite the file"),
        ("%s", None),
        ("OK", None),
        ("Ошибка открытия файла данных", None),
    ],
)
def test_clean_removes_placeholders_markup_and_accelerators(raw: str, expected: str | None) -> None:
    assert clean(raw) == expected


def test_split_is_deterministic_and_close_to_the_fraction() -> None:
    keys = [f"item {i}" for i in range(4000)]
    first = [is_eval(k, 0.1, "s") for k in keys]
    assert first == [is_eval(k, 0.1, "s") for k in keys]
    assert 0.08 < sum(first) / len(first) < 0.12
    assert first != [is_eval(k, 0.1, "other") for k in keys]
    assert is_eval("Open  File", 0.5, "s") == is_eval("open file", 0.5, "s")


def test_guard_round_trips_and_refuses_eval_items(tmp_path: Path) -> None:
    guard = EvalGuard(set())
    guard.add(["A held-out sentence"])
    guard.write(tmp_path)
    loaded = EvalGuard.load(tmp_path)
    loaded.check(["a training sentence"])
    with pytest.raises(LeakError, match="HELD-OUT"):
        loaded.check(["a  HELD-OUT sentence"])


def test_parse_wordnet_data_line() -> None:
    line = (
        "02084071 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 002 @ 02083346 n 0000 @i 01317541 n 0000 "
        '| a member of the genus Canis; "the dog barked all night"; "a dog"'
    )
    synset = parse_line(line)
    assert synset.key == "n02084071"
    assert synset.lemmas == ["dog", "domestic dog", "Canis familiaris"]
    assert synset.hypernyms == ["n02083346", "n01317541"]
    assert synset.definition == "a member of the genus Canis"
    assert synset.examples == ["the dog barked all night"]  # "a dog" is too short to be an example


def test_wu_palmer_matches_hand_computation() -> None:
    #        root
    #       /    \
    #   animal   thing
    #   /    \
    #  dog   cat
    #  |
    # puppy
    def s(key: str, lemma: str, parents: list[str]) -> Synset:
        return Synset(key, "n", [lemma], "", [], parents)

    wn = WuPalmer({k: s(k, lemma, p) for k, lemma, p in [
        ("r", "root", []), ("a", "animal", ["r"]), ("t", "thing", ["r"]),
        ("d", "dog", ["a"]), ("c", "cat", ["a"]), ("p", "puppy", ["d"]),
    ]})  # fmt: skip
    assert wn.synset_similarity("d", "c") == pytest.approx(2 * 2 / (1 + 1 + 2 * 2))  # lcs animal, depth 2
    assert wn.synset_similarity("p", "c") == pytest.approx(2 * 2 / (2 + 1 + 2 * 2))
    assert wn.synset_similarity("p", "t") == pytest.approx(2 * 1 / (3 + 1 + 2 * 1))  # lcs root, depth 1
    assert wn.word_similarity("dog", "dog") == 1.0
    assert wn.word_similarity("dog", "unknown") is None


@pytest.mark.slow
def test_every_evaluation_text_of_a_real_build_is_guarded(tmp_path: Path) -> None:
    """On the machine's catalogues and WordNet (minutes): each text any English task evaluates on has its
    hash in eval_hashes.txt, and none is in a training file. Paraphrase pairs may come from catalogues
    outside the msgid list; before 2026-12-01 about 250 of their sentences were missing from the guard."""
    from training.data.build import build
    from training.data.splits import item_hash

    build(tmp_path)
    guard = EvalGuard.load(tmp_path)

    def rows(name: str) -> list[dict[str, object]]:
        return [json.loads(line) for line in (tmp_path / "eval" / name).read_text().splitlines() if line]

    texts = {str(r[k]) for r in rows("paraphrase.jsonl") for k in ("a", "b")}
    texts |= set((tmp_path / "eval" / "distractors.txt").read_text().splitlines())
    texts |= {str(r[k]) for r in rows("definition_example.jsonl") for k in ("definition", "example")}
    texts |= {str(w) for r in rows("synonyms.jsonl") for w in [r["word"], *r["synonyms"]]}  # type: ignore[list-item]
    texts |= {str(r[k]) for r in rows("word_similarity.jsonl") for k in ("a", "b")}
    assert [t for t in texts if item_hash(t) not in guard.hashes] == []
    for name in ("mlm_corpus.txt", "sentences.train.txt", "words.train.txt"):
        guard.check((tmp_path / name).read_text().splitlines())


@pytest.mark.parametrize(
    ("content", "build_count", "message"),
    [
        (b"", None, "is empty, so it would keep no evaluation item out of training"),
        (b"\n\n", None, "is empty"),
        (b"not-a-hash\n", None, r"eval_hashes\.txt:1: 'not-a-hash' is not a sha256 hex digest"),
        (b"%s\n%s\n" % (b"a" * 64, b"B" * 64), None, r"eval_hashes\.txt:2: 'BBBB.*' is not a sha256"),
        (b"\xe9t\xe9\n", None, "non-ASCII byte at 0"),
        (b"%s\n" % (b"a" * 64), 2, r"holds 1 hashes but .*build\.json records 2: the file is truncated"),
    ],
)
def test_an_unusable_guard_is_refused_not_trained_past(
    tmp_path: Path, content: bytes, build_count: int | None, message: str
) -> None:
    """An empty or garbage eval_hashes.txt (a build killed mid-write, a wrong file) used to load as a guard
    that refuses nothing, so evaluation items went into training silently."""
    (tmp_path / "eval_hashes.txt").write_bytes(content)
    if build_count is not None:
        (tmp_path / "build.json").write_text(json.dumps({"counts": {"eval_hashes": build_count}}))
    with pytest.raises(InvalidInputError, match=message):
        EvalGuard.load(tmp_path)


def test_a_guard_matching_its_build_record_loads(tmp_path: Path) -> None:
    guard = EvalGuard(set())
    guard.add(["one held-out sentence", "another"])
    guard.write(tmp_path)
    (tmp_path / "build.json").write_text(json.dumps({"counts": {"eval_hashes": 2}}))
    assert EvalGuard.load(tmp_path).hashes == guard.hashes
