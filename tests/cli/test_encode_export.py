"""`lexsent encode` and `lexsent export` as a user runs them: real processes, JSON lines out."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lexsent
from cli.main import main
from tests.conftest import CACHE, REPO
from tests.exporter.tiny_models import make_tiny_model


def _lexsent(*args: str, stdin: str | None = None, stdout: int = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    """surrogateescape: a lone surrogate in `stdin` or `args` reaches the process as the raw byte."""
    env = {**os.environ, "LEXSENT_DATA_DIR": str(CACHE), "LEXSENT_THREADS": "2"}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        input=stdin,
        stdout=stdout,
        stderr=subprocess.PIPE,
        encoding="utf-8",
        errors="surrogateescape",
        env=env,
        cwd=REPO,
        timeout=300,
    )


def test_encode_default_model_from_args(default_bundle: Path) -> None:
    done = _lexsent("encode", "hello", "good morning")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["text"] for r in rows] == ["hello", "good morning"]
    assert rows[0]["model"] == "all-MiniLM-L6-v2" and rows[0]["truncated"] is False
    want = lexsent.load(default_bundle).encode(["hello", "good morning"])
    np.testing.assert_allclose(np.array([r["embedding"] for r in rows]), want, atol=1e-6)


def test_encode_reads_stdin(tiny_bundle: Path) -> None:
    stdin = "\ufeffa\r\nb\n\n   \nc\n"  # a BOM, CRLF, a blank and a whitespace-only line
    done = _lexsent("encode", "--model", str(tiny_bundle), "--batch-size", "2", stdin=stdin)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["text"] for line in done.stdout.splitlines()] == ["a", "b", "c"]
    long = "a\nb\nc\n\n" + "word " * 200 + "\n"
    done = _lexsent("encode", "--model", str(tiny_bundle), "--batch-size", "2", "--long-input", "error", stdin=long)
    assert done.returncode == 2
    assert re.search(r"stdin line 5 has \d{3} tokens but the model's max_length is 64", done.stderr), done.stderr


def test_encode_refuses_input_that_is_not_utf8(tiny_bundle: Path) -> None:
    done = _lexsent("encode", "--model", str(tiny_bundle), stdin="ok\n\udcff\udcfe bad\n")
    assert (done.returncode, done.stderr) == (2, "lexsent encode: error: stdin line 2 is not valid UTF-8\n")
    done = _lexsent("encode", "--model", str(tiny_bundle), "ok", "caf\udce9")  # Latin-1 bytes in argv
    assert (done.returncode, done.stderr) == (2, "lexsent encode: error: input[1] is not valid UTF-8\n")


def test_encode_into_a_closed_pipe_exits_quietly(tiny_bundle: Path) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader has gone, as `| head -1` goes after its first line
    try:
        done = _lexsent("encode", "--model", str(tiny_bundle), "a", "b", stdout=write)
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (141, "")  # no "Broken pipe", no "Exception ignored" at exit


@pytest.mark.parametrize(
    ("env", "flags", "message"),
    [
        ({"LEXSENT_THREADS": "abc"}, [], "LEXSENT_THREADS must be a whole number of at least 1, got 'abc'"),
        ({"LEXSENT_THREADS": "0"}, [], "LEXSENT_THREADS must be a whole number of at least 1, got '0'"),
        ({}, ["--threads", "0"], "--threads must be at least 1, got 0"),
        ({}, ["--threads", "-1"], "--threads must be at least 1, got -1"),
    ],
)
def test_encode_refuses_bad_thread_counts(
    env: dict[str, str],
    flags: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["encode", "--data-dir", "/nonexistent", *flags, "hi"]) == 2  # refused before any model is sought
    assert capsys.readouterr().err == f"lexsent encode: error: {message}\n"


def test_eval_default_refuses_a_bad_lexsent_threads(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEXSENT_THREADS", "0")
    assert main(["eval", "default", "--task", "nope"]) == 2
    assert (
        capsys.readouterr().err
        == "lexsent eval: error: LEXSENT_THREADS must be a whole number of at least 1, got '0'\n"
    )


def test_encode_long_input_error_policy(tiny_bundle: Path) -> None:
    done = _lexsent("encode", "--model", str(tiny_bundle), "--long-input", "error", "word " * 200)
    assert done.returncode == 2
    assert "max_length is 64" in done.stderr and not done.stdout


def test_encode_bad_bundle_is_clear(tmp_path: Path) -> None:
    done = _lexsent("encode", "--model", str(tmp_path), "hi")
    assert done.returncode == 2 and "missing model.onnx" in done.stderr


def test_export_cli_with_int8(tmp_path: Path) -> None:
    src = make_tiny_model("distilbert", tmp_path / "src")
    done = _lexsent("export", str(src), "--out", str(tmp_path / "d"), "--pooling", "cls", "--quantize", "int8")
    assert done.returncode == 0, done.stderr
    reports = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["name"] for r in reports] == ["d", "d-int8"]
    assert reports[0]["parity"]["max_abs_diff"] <= 1e-4 and reports[1]["parity"]["mean_cosine"] >= 0.99
    assert lexsent.load(tmp_path / "d").manifest.pooling.value == "cls"


@pytest.mark.parametrize("value", ["0", "-2"])
def test_eval_refuses_a_thread_count_below_one(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:  # 0 once reached `threads or every core` in lexsent.load
        main(["eval", "default", "--threads", value])
    assert exit_.value.code == 2
    assert f"argument --threads: must be at least 1, not {value}" in capsys.readouterr().err
