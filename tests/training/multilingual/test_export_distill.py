"""Distillation on a toy corpus and BiLSTM → ONNX export: parity on padded batches, served like any bundle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import lexsent
from lexsent.errors import ExportError, InvalidInputError
from lexsent.manifest import ModelKind, Pooling
from training.multilingual.distill import DistillConfig, train_distill
from training.multilingual.export import export_encoder, load_encoder
from training.multilingual.laser import LaserConfig, train_laser
from training.multilingual.loop import Outcome
from training.multilingual.tatoeba import evaluate_bundle
from training.multilingual.vocab import VocabKind

SMALL = dict(vocab=VocabKind.BPE, vocab_size=120, embed_dim=16, hidden=16, threads=1, device="cpu", show_progress=False)


@pytest.fixture(scope="module")
def laser_checkpoint(parallel_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("laser")
    cfg = LaserConfig(
        data_dir=str(parallel_dir),
        run_dir=str(run),
        languages=["de", "fr"],
        second_target="fr",
        decoder_hidden=24,
        lang_dim=4,
        layers=2,
        batch_size=8,
        steps=8,
        **SMALL,  # type: ignore[arg-type]
    )
    path, _ = train_laser(cfg)
    return path


def test_export_parity_and_padding_invariance(laser_checkpoint: Path, parallel_dir: Path, tmp_path: Path) -> None:
    bundle = export_encoder(laser_checkpoint, tmp_path / "toy-laser", name="toy-laser")
    manifest = json.loads((bundle / "lexsent.json").read_text())
    assert manifest["kind"] == ModelKind.MULTILINGUAL.value and manifest["pooling"] == Pooling.MAX.value
    assert manifest["parity"]["max_abs_diff"] <= 1e-4 and manifest["languages"] == ["en", "de", "fr"]
    encoder = lexsent.load(bundle, threads=1)
    texts = ["öffne die Datei", "close the printer window now please", "fichier"]
    batched = encoder.encode(texts)
    singles = np.vstack([encoder.encode([t]) for t in texts])
    np.testing.assert_allclose(batched, singles, atol=1e-5)
    model, _ = load_encoder(laser_checkpoint)
    tok = encoder.tokenize(texts[:1])[0]
    with torch.no_grad():
        _, reference = model(torch.tensor([tok.ids]), torch.ones(1, len(tok.ids), dtype=torch.long))
    np.testing.assert_allclose(batched[0], reference[0].numpy(), atol=1e-4)
    scores = evaluate_bundle(bundle, parallel_dir, threads=1)
    assert 0.0 <= scores["tatoeba_error_margin"] <= 1.0
    assert "tatoeba_error_cosine" in lexsent.load(bundle).manifest.evaluation


def test_export_refuses_a_bundle_when_parity_fails(
    laser_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("exporter.parity.FP32_MAX_ABS_DIFF", -1.0)
    with pytest.raises(ExportError):
        export_encoder(laser_checkpoint, tmp_path / "bad", name="bad")
    assert not (tmp_path / "bad").exists()


def test_distill_student_learns_the_teacher_space(parallel_dir: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    cfg = DistillConfig(
        data_dir=str(parallel_dir),
        run_dir=str(tmp_path / "run"),
        teacher=str(tiny_bundle),
        languages=["de", "fr"],
        batch_size=8,
        lr=1e-2,
        steps=60,
        max_rows=None,
        **SMALL,  # type: ignore[arg-type]
    )
    path, outcome = train_distill(cfg)
    assert outcome is Outcome.FINISHED
    losses = [json.loads(line)["loss"] for line in (tmp_path / "run" / "loss.jsonl").read_text().splitlines()]
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    bundle = export_encoder(path, tmp_path / "student", name="student")
    assert lexsent.load(bundle).dim == lexsent.load(tiny_bundle).dim


def _transformer_cfg(parallel_dir: Path, tiny_bundle: Path, run: Path, **overrides: object) -> DistillConfig:
    base = dict(
        data_dir=str(parallel_dir),
        run_dir=str(run),
        teacher=str(tiny_bundle),
        student=str(tiny_bundle.parent / "src"),  # the teacher's own backbone, as with the packaged MiniLM
        languages=["de", "fr"],
        batch_size=8,
        lr=3e-3,
        steps=30,
        save_every=10,
        max_rows=None,
        threads=1,
        device="cpu",
        show_progress=False,
    )
    base.update(overrides)
    return DistillConfig(**base)  # type: ignore[arg-type]


def test_transformer_student_learns_exports_and_resumes(parallel_dir: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    path, outcome = train_distill(_transformer_cfg(parallel_dir, tiny_bundle, tmp_path / "run"))
    assert outcome is Outcome.FINISHED and (path / "config.json").exists() and (path / "tokenizer.json").exists()
    losses = [json.loads(line)["loss"] for line in (tmp_path / "run" / "loss.jsonl").read_text().splitlines()]
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])

    from exporter.export import export_bundle
    from training.multilingual.transformer_student import TransformerStudent, student_tokenizer

    bundle = export_bundle(
        path, tmp_path / "student", name="student", kind="multilingual", languages=["en", "de", "fr"]
    )
    encoder = lexsent.load(bundle, threads=1)
    assert encoder.manifest.kind is ModelKind.MULTILINGUAL and encoder.manifest.parity.max_abs_diff <= 1e-4
    texts = ["öffne die Datei", "close the printer"]
    tok, _ = student_tokenizer(path)
    student = TransformerStudent(path, dropout=0.0).eval()
    with torch.no_grad():
        for text, vector in zip(texts, encoder.encode(texts), strict=True):
            ids = torch.tensor([tok.encode(text).ids])
            np.testing.assert_allclose(vector, student(ids, torch.ones_like(ids))[0].numpy(), atol=1e-4)

    stopped = _transformer_cfg(parallel_dir, tiny_bundle, tmp_path / "resumed", stop_at=10)
    assert train_distill(stopped)[1] is Outcome.STOPPED
    resumed, _ = train_distill(_transformer_cfg(parallel_dir, tiny_bundle, tmp_path / "resumed"))
    a = _weights(path)
    b = _weights(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _weights(directory: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(directory / "model.safetensors"))


def test_transformer_student_must_match_the_teacher_width(
    parallel_dir: Path, tiny_bundle: Path, default_bundle: Path, tmp_path: Path
) -> None:
    cfg = _transformer_cfg(parallel_dir, default_bundle, tmp_path / "run")
    cfg.student = str(tiny_bundle.parent / "src")
    with pytest.raises(InvalidInputError, match="teacher's width"):
        train_distill(cfg)


def test_cli_distill_transformer_student_defaults(
    parallel_dir: Path, tiny_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`lexsent train distill --student DIR`: the transformer learning rate and an output name from the
    student are the defaults; the run ends exported, evaluated and recorded in the manifest."""
    from cli.main import main

    monkeypatch.chdir(tmp_path)
    student = tiny_bundle.parent / "src"
    argv = ["train", "distill", "--student", str(student), "--teacher", str(tiny_bundle)]
    argv += ["--data-dir", str(parallel_dir), "--langs", "de", "fr", "--steps", "4", "--batch-size", "4"]
    assert main([*argv, "--threads", "1", "--device", "cpu"]) == 0
    assert json.loads((tmp_path / "runs" / "distill" / "run_config.json").read_text())["lr"] == 1e-4
    manifest = lexsent.load(tmp_path / "models" / f"distill-{student.name}").manifest
    assert manifest.kind is ModelKind.MULTILINGUAL and "tatoeba_error_margin" in manifest.evaluation


def test_cli_stopped_transformer_run_says_how_to_use_the_student_so_far(
    parallel_dir: Path,
    tiny_bundle: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from cli.main import main

    monkeypatch.chdir(tmp_path)
    argv = ["train", "distill", "--student", str(tiny_bundle.parent / "src"), "--teacher", str(tiny_bundle)]
    argv += ["--data-dir", str(parallel_dir), "--langs", "de", "fr", "--steps", "50", "--batch-size", "4"]
    assert main([*argv, "--max-minutes", "1e-6", "--threads", "1", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "stopped early" in out and not (tmp_path / "models").exists()
    command = next(line for line in out.splitlines() if line.startswith("to use the student so far: "))
    student = Path(command.split("lexsent export ", 1)[1].split(" --out")[0])
    assert student == Path("runs/distill/student") and (student / "config.json").is_file()  # the default run dir
    assert main(["export", str(student), "--out", "stopped", "--kind", "multilingual", "--pooling", "mean",
                 "--normalize", "--threads", "1"]) == 0  # fmt: skip
    assert lexsent.load(tmp_path / "stopped").manifest.kind is ModelKind.MULTILINGUAL


def test_a_seq2seq_student_is_refused_before_the_teacher_runs(tmp_path: Path) -> None:
    from tests.exporter.tiny_models import make_tiny_non_encoder

    t5 = make_tiny_non_encoder("t5", tmp_path / "t5")
    cfg = DistillConfig(data_dir=str(tmp_path / "no data"), run_dir=str(tmp_path / "run"), student=str(t5))
    with pytest.raises(ExportError, match=r"model_type 't5' is an encoder-decoder \(seq2seq\) model"):
        train_distill(cfg)
    assert not (tmp_path / "run").exists()  # refused before the run dir, the corpus or the teacher


def test_bilstm_student_refuses_a_transplanted_vocabulary(parallel_dir: Path, tmp_path: Path) -> None:
    from training.multilingual.distill import StudentVocab

    cfg = DistillConfig(data_dir=str(parallel_dir), run_dir=str(tmp_path / "run"), student_vocab=StudentVocab.XLMR)
    with pytest.raises(InvalidInputError, match="--vocab xlmr"):
        train_distill(cfg)
    assert not (tmp_path / "run").exists()  # refused before anything is written


def test_rank_loss_matches_hand_computed_cross_entropy_and_skips_near_duplicates() -> None:
    from training.multilingual.distill import FALSE_NEGATIVE_COS, RANK_TEMPERATURE, rank_loss

    e = torch.eye(3)
    twin = torch.nn.functional.normalize(e[0] + 0.05 * e[1], dim=0)  # cos 0.9988 with row 0: a near-duplicate
    bank = torch.stack([e[0], e[1], e[2], twin])
    assert float(twin @ e[0]) > FALSE_NEGATIVE_COS
    predicted = torch.tensor([[1.0, 0.9, 0.3], [0.9, 0.8, 1.0]])  # unnormalised: the loss normalises
    loss = rank_loss(predicted, bank, torch.tensor([0, 2]))
    unit = predicted / predicted.norm(dim=1, keepdim=True)
    sims = (unit @ bank.T).double().numpy() / RANK_TEMPERATURE
    first = -sims[0, 0] + np.log(np.exp(sims[0, [0, 1, 2]]).sum())  # the twin is left out for row 0
    second = -sims[1, 2] + np.log(np.exp(sims[1]).sum())  # row 2 has no near-duplicate: all four compete
    assert float(loss) == pytest.approx((first + second) / 2, rel=1e-4)
    assert first > 0.05 and second > 0.05  # both terms matter: not a test of two zeros


def test_ranking_objective_with_language_balanced_batches_learns(
    parallel_dir: Path, tiny_bundle: Path, tmp_path: Path
) -> None:
    from training.multilingual.distill import Objective

    cfg = _transformer_cfg(
        parallel_dir, tiny_bundle, tmp_path / "run", objective=Objective.MSE_RANK, language_alpha=0.5, steps=40
    )
    _, outcome = train_distill(cfg)
    assert outcome is Outcome.FINISHED
    losses = [json.loads(line)["loss"] for line in (tmp_path / "run" / "loss.jsonl").read_text().splitlines()]
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])
