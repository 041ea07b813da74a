"""LASER trainer on a toy corpus: loss falls, resume is exact, padding never changes a vector."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lexsent.errors import InvalidInputError
from training.multilingual.bilstm import BiLstmEncoder, EncoderConfig, reverse_within_length
from training.multilingual.laser import LaserConfig, train_laser
from training.multilingual.loop import Outcome, Resume
from training.multilingual.vocab import VocabKind


def _config(data: Path, run: Path, **overrides: object) -> LaserConfig:
    base: dict[str, object] = dict(
        data_dir=str(data),
        run_dir=str(run),
        languages=["de", "fr"],
        second_target="fr",
        vocab=VocabKind.BPE,
        vocab_size=120,
        embed_dim=16,
        hidden=16,
        decoder_hidden=24,
        lang_dim=4,
        batch_size=8,
        lr=1e-2,
        steps=40,
        save_every=10,
        threads=1,
        device="cpu",
        show_progress=False,
    )
    base.update(overrides)
    return LaserConfig(**base)  # type: ignore[arg-type]


def _losses(run: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (run / "loss.jsonl").read_text().splitlines()]


def test_reverse_within_length_keeps_padding_in_place() -> None:
    x = torch.arange(10.0).reshape(2, 5, 1)
    out = reverse_within_length(x, torch.tensor([3, 5]))
    assert out[:, :, 0].tolist() == [[2, 1, 0, 3, 4], [9, 8, 7, 6, 5]]


@pytest.mark.parametrize("layers", [1, 2])
def test_padding_does_not_change_the_embedding(layers: int) -> None:
    torch.manual_seed(0)
    encoder = BiLstmEncoder(EncoderConfig(vocab_size=30, pad_id=0, embed_dim=8, hidden=6, layers=layers)).eval()
    ids = torch.tensor([[5, 6, 7, 0, 0, 0], [3, 4, 5, 6, 7, 8]])
    mask = (ids != 0).long()
    with torch.no_grad():
        _, batched = encoder(ids, mask)
        _, alone = encoder(ids[:1, :3], mask[:1, :3])
    torch.testing.assert_close(batched[0], alone[0], atol=1e-6, rtol=0)


def test_loss_falls_and_writes_encoder_and_plot(parallel_dir: Path, tmp_path: Path) -> None:
    path, outcome = train_laser(_config(parallel_dir, tmp_path / "run", steps=60))
    assert outcome is Outcome.FINISHED and path.is_file()
    losses = _losses(tmp_path / "run")
    assert len(losses) == 60
    assert sum(losses[-10:]) / 10 < 0.6 * sum(losses[:10]) / 10
    assert (tmp_path / "run" / "loss.png").stat().st_size > 0


def test_resume_reproduces_an_uninterrupted_run(parallel_dir: Path, tmp_path: Path) -> None:
    straight, _ = train_laser(_config(parallel_dir, tmp_path / "a", steps=20, resume=Resume.NEVER))
    _, stopped = train_laser(_config(parallel_dir, tmp_path / "b", steps=20, stop_at=10))
    assert stopped is Outcome.STOPPED
    resumed, _ = train_laser(_config(parallel_dir, tmp_path / "b", steps=20))
    a = torch.load(straight, weights_only=True)["state"]
    b = torch.load(resumed, weights_only=True)["state"]
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")


def test_languages_the_corpus_lacks_are_refused_before_a_tokenizer_is_trained(
    parallel_dir: Path, tmp_path: Path
) -> None:
    """It used to train a 4-token vocabulary on nothing, save it, crash, and hand it to the corrected rerun."""
    run = tmp_path / "run"
    with pytest.raises(InvalidInputError, match=r"no training rows for --langs it; its languages: de fr$"):
        train_laser(_config(parallel_dir, run, languages=["it"], second_target="it"))
    assert not (run / "tokenizer.json").exists()


@pytest.mark.parametrize(
    ("overrides", "flag"),
    [({"batch_size": 0}, "--batch-size"), ({"steps": 0}, "--steps"), ({"vocab_size": 4}, "--vocab-size")],
)
def test_bad_settings_are_refused_naming_the_flag(
    parallel_dir: Path, tmp_path: Path, overrides: dict[str, object], flag: str
) -> None:
    with pytest.raises(InvalidInputError, match=f"{flag} must be at least"):
        _config(parallel_dir, tmp_path / "run", **overrides)
