"""`lexsent train` and `lexsent data` answer bad settings and paths with one line and exit 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["train", "mirror", "--items", "0"], "--items must be at least 2"),
        (["train", "mirror", "--temperature", "0"], "--temperature must be positive"),
        (["train", "mlm", "--save-every", "0"], "--save-every must be at least 1"),
        (["train", "mlm", "--hidden", "32", "--heads", "3"], "multiple of --heads"),
        (["train", "laser", "--langs", "de", "fr", "--run-dir", "/nonexistent/r"], "--second-target es is not among"),
    ],
)
def test_bad_settings_exit_2_with_the_flag(argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lexsent {argv[0]}: error: ") and fragment in err and "Traceback" not in err


def test_unwritable_output_path_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    assert main(["data", "build", "--out", str(blocker / "data")]) == 2
    assert "Not a directory" in capsys.readouterr().err


def test_parallel_with_an_english_data_dir_lacking_its_guard_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "parallel", "--english-data", str(tmp_path), "--out", str(tmp_path / "p")]) == 2
    assert "eval_hashes.txt missing" in capsys.readouterr().err
