from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import lexsent
from lexsent.errors import ExportError, InvalidInputError, NotFoundError
from lexsent.manifest import Manifest
from tests.exporter.tiny_models import make_tiny_non_encoder
from tests.training.conftest import toy_sentences
from training.mirror.encoder import PoolingMode, load_backbone
from training.mirror.trainer import MirrorConfig, MirrorModel, fit, train_mirror
from training.progress import LossLog


def _config(tiny_mlm: Path, toy_data: Path, tmp_path: Path, **overrides: object) -> MirrorConfig:
    base = dict(model=str(tiny_mlm), data_dir=str(toy_data), run_dir=str(tmp_path / "run"),
                models_dir=str(tmp_path / "models"), items=96, batch_size=32, lr=1e-3, threads=2, device="cpu",
                progress=False, name="toy-mirror")  # fmt: skip
    base.update(overrides)
    return MirrorConfig(**base)  # type: ignore[arg-type]


def test_mode_defaults_follow_the_paper() -> None:
    sentence, word = MirrorConfig(mode="sentence"), MirrorConfig(mode="word")
    assert (sentence.temperature, sentence.epochs, sentence.batch_size, sentence.lr) == (0.04, 1, 200, 2e-5)
    assert (word.temperature, word.epochs, word.span, word.dropout) == (0.2, 2, 5, 0.1)
    assert sentence.items == word.items == 10000


@pytest.mark.parametrize(
    ("overrides", "flag"),
    [
        ({"items": 0}, "--items"),
        ({"items": 1}, "--items"),  # one item has no negatives: loss 0 and an untrained "model"
        ({"batch_size": 1}, "--batch-size"),
        ({"epochs": 0}, "--epochs"),  # was silently replaced by the mode's default
        ({"epochs": -1}, "--epochs"),  # was 0 steps and an untrained "model"
        ({"temperature": 0.0}, "--temperature"),
        ({"lr": -1.0}, "--lr"),
        ({"dropout": 1.0}, "--dropout"),
    ],
)
def test_bad_settings_are_refused_naming_the_flag(overrides: dict[str, object], flag: str) -> None:
    with pytest.raises(InvalidInputError, match=flag):
        MirrorConfig(mode="word", **overrides)  # type: ignore[arg-type]


def test_a_pool_smaller_than_a_batch_counts_its_real_examples(tiny_mlm: Path, toy_data: Path, tmp_path: Path) -> None:
    cfg = _config(tiny_mlm, toy_data, tmp_path, batch_size=200, epochs=2, export="none")
    items = toy_sentences()[:5]
    stats = fit(cfg, items, tmp_path / "model")
    assert stats is not None and stats["steps"] == 2  # one short batch of 5 per epoch
    assert stats["examples_per_s"] * stats["seconds"] == pytest.approx(2 * len(items))


def test_sentence_mirror_loss_falls_and_bundle_matches_torch(tiny_mlm: Path, toy_data: Path, tmp_path: Path) -> None:
    cfg = _config(tiny_mlm, toy_data, tmp_path, epochs=4, drophead=0.1)
    bundle = train_mirror(cfg)
    losses = [row["loss"] for row in LossLog(tmp_path / "run").read()]
    assert len(losses) == 12
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    assert (tmp_path / "run" / "loss.png").stat().st_size > 1000

    manifest = Manifest.read(bundle)
    assert manifest.kind.value == "sentence" and manifest.name == "toy-mirror"
    assert set(manifest.evaluation) == {"definition_example.p_at_1", "definition_example.mrr",
                                        "paraphrase.p_at_1", "paraphrase.mrr"}  # fmt: skip

    texts = ["the red cat opens the file", "a quiet river", "the empty printer deletes the folder"]
    onnx_vectors = lexsent.load(bundle, threads=1).encode(texts)
    from transformers import AutoTokenizer

    model_dir = tmp_path / "run" / "model"
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    model = MirrorModel(load_backbone(model_dir, 0.1), PoolingMode.MEAN).eval()
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        torch_vectors = torch.nn.functional.normalize(model(batch["input_ids"], batch["attention_mask"]), dim=-1)
    np.testing.assert_allclose(onnx_vectors, torch_vectors.numpy(), atol=1e-4)


def test_killed_mirror_run_resumes_to_the_same_weights(tiny_mlm: Path, toy_data: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    def run(name: str, **overrides: object) -> Path | None:
        cfg = _config(tiny_mlm, toy_data, tmp_path / name, epochs=2, drophead=0.1, save_every=2, export="none")
        for key, value in overrides.items():
            setattr(cfg, key, value)
        return train_mirror(cfg)

    straight = run("straight")
    assert straight is not None
    assert run("resumed", stop_at=4) is None  # inside the second of two 3-batch epochs
    assert len(LossLog(tmp_path / "resumed" / "run").read()) == 4
    resumed = run("resumed")
    assert resumed is not None
    assert json.loads((tmp_path / "resumed" / "run" / "throughput.json").read_text())["steps"] == 2  # only the rest
    a, b = load_file(str(straight / "model.safetensors")), load_file(str(resumed / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    losses = [row["loss"] for row in LossLog(tmp_path / "straight" / "run").read()]
    assert [row["loss"] for row in LossLog(tmp_path / "resumed" / "run").read()] == losses and len(losses) == 6


@pytest.mark.slow
def test_word_mode_exports_a_lexical_bundle(tiny_mlm: Path, toy_data: Path, tmp_path: Path) -> None:
    pooling = "cls"
    cfg = _config(tiny_mlm, toy_data, tmp_path, mode="word", items=22, batch_size=11, pooling=pooling)
    bundle = train_mirror(cfg)
    manifest = Manifest.read(bundle)
    assert manifest.kind.value == "lexical" and manifest.pooling.value == pooling
    assert len(LossLog(tmp_path / "run").read()) == 4  # 2 epochs x 2 batches
    assert -1.0 <= manifest.evaluation["word_similarity.spearman"] <= 1.0
    assert 0.0 <= manifest.evaluation["synonyms.p_at_1"] <= 1.0


def test_a_data_dir_without_its_eval_hashes_is_refused(tiny_mlm: Path, toy_data: Path, tmp_path: Path) -> None:
    """Without eval_hashes.txt nothing could keep evaluation items out, so the run does not start."""
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(toy_data, bare)
    (bare / "eval_hashes.txt").unlink()
    with pytest.raises(NotFoundError, match="lexsent data build"):
        train_mirror(_config(tiny_mlm, bare, tmp_path))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "bad name"}, r"bundle name 'bad name' is not allowed: .*\(set --name\)"),
        ({}, "is not a lexsent bundle .* choose another --name or --models-dir"),
    ],
)
def test_the_export_target_is_checked_before_training(
    tiny_mlm: Path, toy_data: Path, tmp_path: Path, overrides: dict[str, object], message: str
) -> None:
    (tmp_path / "models" / "toy-mirror").mkdir(parents=True)  # a folder the export would replace
    with pytest.raises(ExportError, match=message):
        train_mirror(_config(tiny_mlm, toy_data, tmp_path, **overrides))
    assert not (tmp_path / "run").exists()  # nothing trained, nothing recorded


def test_max_length_is_clamped_to_the_backbone_positions(
    tiny_mlm: Path, toy_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tiny MLM has 16 positions; the sentence default of 64 would fail on the first long batch."""
    assert train_mirror(_config(tiny_mlm, toy_data, tmp_path, max_length=64, export="none")) is not None
    assert "--max-length 64 exceeds the model's 16 positions; using 16" in capsys.readouterr().err
    assert json.loads((tmp_path / "run" / "run_config.json").read_text())["max_length"] == 16


def test_a_diverged_run_stops_at_its_first_nan_loss(tiny_mlm: Path, toy_data: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"the loss became nan at step \d+ \(lr 1e\+30\): the run diverged"):
        train_mirror(_config(tiny_mlm, toy_data, tmp_path, lr=1e30, epochs=3, export="none"))
    assert all(np.isfinite(row["loss"]) for row in LossLog(tmp_path / "run").read())


def test_the_eval_data_is_checked_before_training(tiny_mlm: Path, toy_data: Path, tmp_path: Path) -> None:
    """The exported bundle is scored on it; a broken file used to surface only after the whole run."""
    import shutil

    data = Path(shutil.copytree(toy_data, tmp_path / "data"))
    (data / "eval" / "paraphrase.jsonl").write_text('{"a": "only one side"}\n')
    with pytest.raises(InvalidInputError, match=r"paraphrase\.jsonl:1: missing key 'b'"):
        train_mirror(_config(tiny_mlm, data, tmp_path))
    assert not (tmp_path / "run").exists()
    assert train_mirror(_config(tiny_mlm, data, tmp_path, mode="word")) is not None  # paraphrase is not its task


def test_a_decoder_model_is_refused_before_training(
    toy_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A GPT-2 would train and export, each token's vector seeing only the tokens before it."""
    from cli.main import main

    gpt2 = make_tiny_non_encoder("gpt2", tmp_path / "gpt2")
    capsys.readouterr()
    dirs = ["--data-dir", str(toy_data), "--run-dir", str(tmp_path / "run"), "--models-dir", str(tmp_path / "models")]
    argv = ["train", "mirror", "--model", str(gpt2), *dirs, "--items", "32", "--batch-size", "16", "--threads", "2"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lexsent train: error: {gpt2}: model_type 'gpt2' is a decoder: ") and err.count("\n") == 1
    assert "each token sees only the tokens before it" in err and "bidirectional encoder such as BERT" in err
    assert not (tmp_path / "run").exists() and not (tmp_path / "models").exists()  # nothing trained or written
    with pytest.raises(ExportError, match="model_type 'gpt2' is a decoder"):
        fit(_config(gpt2, toy_data, tmp_path, export="none"), toy_sentences()[:4], tmp_path / "model")
