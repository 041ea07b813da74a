from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cli.main import main
from lexsent.bundle import Bundle
from lexsent.manifest import Manifest


def test_eval_cli_scores_by_kind_and_records_into_the_manifest(
    tiny_bundle: Path, toy_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = Path(shutil.copytree(tiny_bundle, tmp_path / "bundle"))  # the fixture is shared: record into a copy
    out = tmp_path / "evals" / "scores.json"  # the directory is made, as the documented commands need
    code = main(["eval", str(bundle), "--data-dir", str(toy_data), "--record", "manifest", "--json", str(out)])
    assert code == 0
    scores = json.loads(out.read_text())
    assert set(scores) == {"definition_example.p_at_1", "definition_example.mrr", "paraphrase.p_at_1", "paraphrase.mrr"}
    assert all(0.0 <= v <= 1.0 for v in scores.values())
    assert scores["definition_example.mrr"] >= scores["definition_example.p_at_1"]
    assert Manifest.read(bundle).evaluation == scores
    Bundle.open(bundle)  # the fingerprint covers model + tokenizer, so recording keeps it valid
    assert "definition_example.p_at_1" in capsys.readouterr().out


def test_eval_cli_rejects_unknown_task(tiny_bundle: Path, toy_data: Path) -> None:
    assert main(["eval", str(tiny_bundle), "--data-dir", str(toy_data), "--task", "nope"]) == 2


def test_eval_cli_reports_missing_data(tiny_bundle: Path, tmp_path: Path) -> None:
    assert main(["eval", str(tiny_bundle), "--data-dir", str(tmp_path), "--task", "synonyms"]) == 2


def test_an_empty_eval_file_is_an_error_and_records_nothing(
    tiny_bundle: Path, toy_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It used to score NaN, which `--record manifest` wrote as null: the schema then refused the bundle in
    eval, encode and serve alike, and --json got a bare NaN token."""
    bundle = Path(shutil.copytree(tiny_bundle, tmp_path / "bundle"))
    data = Path(shutil.copytree(toy_data, tmp_path / "data"))
    (data / "eval" / "paraphrase.jsonl").write_text("")
    before = (bundle / "lexsent.json").read_bytes()
    out = tmp_path / "scores.json"
    args = ["eval", str(bundle), "--data-dir", str(data), "--task", "paraphrase", "--record", "manifest"]
    assert main([*args, "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{data / 'eval' / 'paraphrase.jsonl'} is empty" in err
    assert (bundle / "lexsent.json").read_bytes() == before and not out.exists()
    Bundle.open(bundle)


def test_a_truncated_eval_line_is_named(
    tiny_bundle: Path, toy_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = Path(shutil.copytree(toy_data, tmp_path / "data"))
    path = data / "eval" / "synonyms.jsonl"
    path.write_text(path.read_text() + '{"word": "garden", "syno')
    assert main(["eval", str(tiny_bundle), "--data-dir", str(data), "--task", "synonyms"]) == 2
    assert (
        capsys.readouterr().err == f"lexsent eval: error: {path}:3: not valid JSON (Unterminated string starting at)\n"
    )
