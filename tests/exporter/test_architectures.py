"""Only bidirectional encoders are exported: a decoder-only model (GPT-2, Llama, ...) would export and pass
parity, yet each token's vector sees only the tokens before it; an encoder-decoder (T5, BART) fails deep
inside. Both are refused from config.json, before any weights are loaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from transformers import AutoConfig

from exporter import export
from exporter.export import export_bundle
from exporter.source import read_source
from lexsent.errors import ExportError
from tests.conftest import CACHE, REPO
from tests.exporter.tiny_models import make_tiny_model, make_tiny_non_encoder

CAUSAL = "with causal attention each token sees only the tokens before it"
SEQ2SEQ = "is an encoder-decoder (seq2seq) model"
INSTEAD = "use a bidirectional encoder such as BERT, RoBERTa, XLM-R or MiniLM"


def _config_dir(root: Path, model_type: str, **settings: object) -> Path:
    """A directory with config.json alone: enough for the check, which runs before anything else is read."""
    out = root / model_type
    AutoConfig.for_model(model_type, **settings).save_pretrained(out)
    return out


def _refuse_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    def load(path: Path) -> None:
        raise AssertionError(f"{path} was loaded before being refused")

    monkeypatch.setattr(export, "_load_backbone", load)


@pytest.mark.parametrize(("model_type", "reason"), [("gpt2", CAUSAL), ("t5", SEQ2SEQ), ("bart", SEQ2SEQ)])
def test_decoder_and_seq2seq_models_are_refused_before_loading(
    model_type: str, reason: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = make_tiny_non_encoder(model_type, tmp_path / "src")
    _refuse_loading(monkeypatch)
    with pytest.raises(ExportError) as caught:
        export_bundle(src, tmp_path / "b")
    message = caught.value.message
    assert message.startswith(f"{src}: model_type '{model_type}' ") and reason in message and INSTEAD in message
    assert "\n" not in message
    assert [p.name for p in tmp_path.iterdir()] == ["src"]  # no bundle, no staging folder


def test_a_bert_configured_as_a_decoder_is_refused_and_says_by_which_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bert, roberta, ... also have causal-LM classes: the type alone is fine, is_decoder is what refuses."""
    src = make_tiny_model("bert", tmp_path / "src")
    config = AutoConfig.from_pretrained(str(src))
    config.is_decoder = True
    config.save_pretrained(str(src))
    _refuse_loading(monkeypatch)
    with pytest.raises(ExportError, match=r"model_type 'bert' is a decoder \(its config.json sets is_decoder: true\)"):
        export_bundle(src, tmp_path / "b")


def test_cli_export_refuses_a_decoder_in_one_line(tmp_path: Path) -> None:
    src = make_tiny_non_encoder("gpt2", tmp_path / "gpt2")
    env = {**os.environ, "LEXSENT_DATA_DIR": str(CACHE), "LEXSENT_THREADS": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "cli", "export", str(src), "--out", str(tmp_path / "b")],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr  # no traceback
    assert lines[0].startswith(f"lexsent export: error: {src}: model_type 'gpt2' is a decoder: ")
    assert CAUSAL in lines[0] and INSTEAD in lines[0]
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize(
    ("model_type", "settings", "reason"),
    [
        ("llama", {}, "is a decoder: "),
        ("qwen2", {}, "is a decoder: "),
        ("mistral", {}, "is a decoder: "),
        ("modernbert-decoder", {}, "is a decoder: "),
        ("roberta", {"is_decoder": True}, r"is a decoder \(its config.json sets is_decoder: true\)"),
        ("xlm", {"causal": True}, r"is a decoder \(its config.json sets causal: true\)"),
        ("xlnet", {"attn_type": "uni"}, r"is a decoder \(its config.json sets attn_type: \"uni\"\)"),
        ("mt5", {}, "is an encoder-decoder"),
        ("pegasus", {}, "is an encoder-decoder"),
        (
            "encoder-decoder",
            {"encoder": {"model_type": "bert"}, "decoder": {"model_type": "gpt2"}},
            "is an encoder-decoder",
        ),
    ],
)
def test_non_encoders_are_refused_from_config_json_alone(
    model_type: str, settings: dict[str, object], reason: str, tmp_path: Path
) -> None:
    src = _config_dir(tmp_path, model_type, **settings)
    with pytest.raises(ExportError, match=f"model_type '{model_type}' {reason}"):
        read_source(src)


@pytest.mark.parametrize(
    "model_type",
    [
        "bert", "roberta", "xlm-roberta", "distilbert", "electra", "deberta", "deberta-v2", "mpnet", "camembert",
        "albert", "modernbert", "longformer", "xlm", "big_bird", "rembert",
        "xlnet", "bert-generation",  # causal-LM classes too, yet bidirectional with their default settings
    ],
)  # fmt: skip
def test_bidirectional_encoders_pass_the_check(model_type: str, tmp_path: Path) -> None:
    assert read_source(_config_dir(tmp_path, model_type)).model_type == model_type
