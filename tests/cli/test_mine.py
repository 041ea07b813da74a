"""`lexsent mine` end to end: planted pairs hidden among distractors are found, distractors left alone."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from cli.main import main

SENTENCES = [
    "The printer is out of paper.",
    "Could not connect to the database server.",
    "Your password has expired, please choose a new one.",
    "The file was saved to your home folder.",
    "Do you want to delete this message permanently?",
    "The download finished in twelve seconds.",
    "A new version of the application is available.",
    "The battery is almost empty.",
    "Please restart the computer to finish installing updates.",
    "No results match your search.",
    "The meeting has been moved to Thursday afternoon.",
    "Click here to add a new contact.",
]
PARAPHRASES = [
    "the printer has no paper left",
    "connection to the database server failed",
    "your password expired, pick a new one",
    "the file has been saved in your home directory",
    "delete this message forever?",
    "download completed after twelve seconds",
    "there is a newer version of this app",
    "battery nearly empty",
    "restart your computer so the updates can finish installing",
    "nothing matches what you searched for",
    "the meeting was rescheduled to thursday afternoon",
    "press here to create another contact",
]
DISTRACTORS_A = ["Bananas are rich in potassium.", "The river flooded the valley last spring."]
DISTRACTORS_B = ["my cat sleeps on the sofa all day", "the concert starts at eight tonight"]


def test_mine_finds_planted_pairs(default_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(3)
    a_lines = SENTENCES[:8] + DISTRACTORS_A
    b_lines = PARAPHRASES[:8] + DISTRACTORS_B + PARAPHRASES[10:]
    rng.shuffle(b_lines)
    (tmp_path / "a.txt").write_text("\n".join(a_lines) + "\n\n")
    (tmp_path / "b.txt").write_text("\n".join(b_lines) + "\n")
    out = tmp_path / "pairs.tsv"
    code = main(
        [
            "mine",
            str(tmp_path / "a.txt"),
            str(tmp_path / "b.txt"),
            "--model",
            str(default_bundle),
            "--threshold",
            "1.1",
            "--out",
            str(out),
            "--threads",
            "1",
        ]
    )
    assert code == 0
    found = {(row.split("\t")[3], row.split("\t")[4]) for row in out.read_text().splitlines()}
    planted = set(zip(SENTENCES[:8], PARAPHRASES[:8], strict=True))
    assert len(found & planted) >= 7
    assert not {a for a, _ in found} & set(DISTRACTORS_A)
    assert "pairs (threshold 1.100)" in capsys.readouterr().err


def test_mine_rejects_an_empty_file(default_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.txt").write_text("\n\n")
    (tmp_path / "b.txt").write_text("hello\n")
    assert main(["mine", str(tmp_path / "a.txt"), str(tmp_path / "b.txt"), "--model", str(default_bundle)]) == 2
    assert "no non-empty lines" in capsys.readouterr().err


def test_mine_without_a_model_says_how_to_get_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./models/distill-bilstm here
    (tmp_path / "a.txt").write_text("hello\n")
    assert main(["mine", "a.txt", "a.txt"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "./models/distill-bilstm" in err
    assert "lexsent train distill" in err and "--model default" in err


def test_mine_takes_the_default_model_by_name(
    default_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEXSENT_DATA_DIR", str(default_bundle.parent.parent))  # where the cached export lives
    (tmp_path / "a.txt").write_text("\n".join(SENTENCES[:3]) + "\n")
    (tmp_path / "b.txt").write_text("\n".join(reversed(PARAPHRASES[:3])) + "\n")
    out = tmp_path / "pairs.tsv"
    assert (
        main(["mine", str(tmp_path / "a.txt"), str(tmp_path / "b.txt"), "--model", "default", "--out", str(out)]) == 0
    )
    rows = [line.split("\t") for line in out.read_text().splitlines()]
    assert sorted((int(r[1]), int(r[2])) for r in rows) == [(1, 3), (2, 2), (3, 1)]  # 1-based file lines


def test_mine_reports_file_line_numbers_and_escapes_tabs(
    default_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Blank lines count in the line numbers, and a tab inside a sentence cannot add a column."""
    (tmp_path / "a.txt").write_text(f"\n{SENTENCES[0]}\n\nThe battery\tis almost empty.\n")
    (tmp_path / "b.txt").write_text(f"{PARAPHRASES[7]}\n\n\n{PARAPHRASES[0]}\n")
    out = tmp_path / "pairs.tsv"
    args = ["mine", str(tmp_path / "a.txt"), str(tmp_path / "b.txt"), "--model", str(default_bundle), "--out", str(out)]
    assert main([*args, "--threshold", "0"]) == 0
    rows = sorted(line.split("\t")[1:] for line in out.read_text().splitlines())
    escaped = "The battery\\tis almost empty."
    assert rows == [["2", "4", SENTENCES[0], PARAPHRASES[0]], ["4", "1", escaped, PARAPHRASES[7]]]
    with pytest.raises(SystemExit):
        main([*args, "--threshold", "nan"])
    assert "must be a finite number" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*args, "--threads", "0"])  # was "every core" (and -1 reached onnxruntime)
    assert "--threads: must be at least 1, not 0" in capsys.readouterr().err
