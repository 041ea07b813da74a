"""`lexsent encode` and `lexsent export` as a user runs them: real processes, JSON lines out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import lexsent
from tests.conftest import CACHE, REPO
from tests.exporter.tiny_models import make_tiny_model


def _lexsent(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LEXSENT_DATA_DIR": str(CACHE), "LEXSENT_THREADS": "2"}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
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
    assert done.returncode == 2 and "stdin line 5 is longer than the model's max_length (64 tokens)" in done.stderr


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
