from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lexsent.errors import InvalidInputError
from tests.training.conftest import tiny_mlm_config
from training.data.splits import LeakError, item_hash
from training.mlm.trainer import train_mlm
from training.progress import LossLog


def _losses(run: Path) -> list[float]:
    return [row["loss"] for row in LossLog(run).read()]


def test_loss_falls_and_output_is_a_hf_model(tiny_mlm: Path) -> None:
    from transformers import AutoModel, AutoTokenizer

    losses = _losses(tiny_mlm.parent)
    assert len(losses) == 40
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in tiny_mlm.iterdir()}
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_mlm), local_files_only=True)
    model = AutoModel.from_pretrained(str(tiny_mlm), local_files_only=True)
    batch = tokenizer(["the red cat opens the file"], return_tensors="pt")
    assert model(**batch).last_hidden_state.shape[-1] == 32
    assert (tiny_mlm.parent / "loss.png").stat().st_size > 1000


@pytest.mark.parametrize("masking", ["token", "span"])
def test_resumed_run_reproduces_uninterrupted_run(toy_data: Path, tmp_path: Path, masking: str) -> None:
    straight = tiny_mlm_config(toy_data, tmp_path / "straight", steps=12, save_every=4, masking=masking)
    assert train_mlm(straight) is not None  # type: ignore[arg-type]
    vocab = str(tmp_path / "straight" / "tokenizer.json")  # WordPiece training itself is not run-to-run stable
    common = dict(steps=12, save_every=4, masking=masking, tokenizer=vocab)
    interrupted = tiny_mlm_config(toy_data, tmp_path / "resumed", stop_at=6, **common)
    assert train_mlm(interrupted) is None  # type: ignore[arg-type]
    assert len(_losses(tmp_path / "resumed")) == 6
    resumed = tiny_mlm_config(toy_data, tmp_path / "resumed", **common)
    assert train_mlm(resumed) is not None  # type: ignore[arg-type]

    assert _losses(tmp_path / "resumed") == _losses(tmp_path / "straight")
    a = load_file(str(tmp_path / "straight" / "model" / "model.safetensors"))
    b = load_file(str(tmp_path / "resumed" / "model" / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_a_run_dir_is_resumed_only_with_its_own_settings(toy_data: Path, tmp_path: Path) -> None:
    """A checkpoint made with other settings is neither continued nor returned as the new run's model."""
    run = tmp_path / "run"
    assert train_mlm(tiny_mlm_config(toy_data, run, steps=8, save_every=4)) is not None  # type: ignore[arg-type]
    record = (run / "run_config.json").read_text()
    with pytest.raises(InvalidInputError, match=r"other settings \(lr: 0.003 → 0.001\)\. Repeat"):
        train_mlm(tiny_mlm_config(toy_data, run, steps=8, save_every=4, lr=1e-3))  # type: ignore[arg-type]
    assert (run / "run_config.json").read_text() == record
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-00000004.pt", "step-00000008.pt"]
    # more threads and another output are runtime settings: the finished run resumes (0 steps) unchanged
    assert train_mlm(tiny_mlm_config(toy_data, run, steps=8, save_every=4, threads=1, out=str(tmp_path / "o")))  # type: ignore[arg-type]


def test_resume_never_starts_over_without_the_old_run(toy_data: Path, tmp_path: Path) -> None:
    """The old run's checkpoints and vocabulary would otherwise be picked up: a later step number wins a
    later resume, and the run dir's tokenizer.json replaced the new --vocab-size."""
    run = tmp_path / "run"
    assert train_mlm(tiny_mlm_config(toy_data, run, steps=8, save_every=4)) is not None  # type: ignore[arg-type]
    fresh = tiny_mlm_config(toy_data, run, steps=6, save_every=2, stop_at=2, vocab_size=150, resume="never")
    assert train_mlm(fresh) is None  # type: ignore[arg-type]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-00000002.pt"]
    assert len(_losses(run)) == 2
    resumed = tiny_mlm_config(toy_data, run, steps=6, save_every=2, vocab_size=150)
    out = train_mlm(resumed)  # type: ignore[arg-type]
    assert out is not None and len(_losses(run)) == 6
    assert json.loads((out / "config.json").read_text())["vocab_size"] != 120


def test_training_refuses_evaluation_items(toy_data: Path, tmp_path: Path) -> None:
    leaky = tmp_path / "leaky"
    leaky.mkdir()
    for name in ("mlm_corpus.txt",):
        (leaky / name).write_text((toy_data / name).read_text())
    first = (toy_data / "mlm_corpus.txt").read_text().splitlines()[3]
    (leaky / "eval_hashes.txt").write_text(item_hash(first.upper()) + "\n")
    with pytest.raises(LeakError):
        train_mlm(tiny_mlm_config(leaky, tmp_path / "run"))  # type: ignore[arg-type]
    assert json.loads((tmp_path / "run" / "run_config.json").read_text())["vocab_size"] == 120


@pytest.mark.parametrize(
    ("overrides", "flag"),
    [
        ({"save_every": 0}, "--save-every"),
        ({"steps": 0}, "--steps"),
        ({"hidden": 32, "heads": 3}, "--heads 3"),
        ({"hidden": 0}, "--hidden must be at least 1"),  # was a ZeroDivisionError
        ({"hidden": -4}, "--hidden must be at least 1"),
    ],
)
def test_bad_settings_are_refused_naming_the_flag(overrides: dict[str, object], flag: str) -> None:
    from lexsent.errors import InvalidInputError
    from training.mlm.trainer import MlmConfig

    with pytest.raises(InvalidInputError, match=flag):
        MlmConfig(**overrides)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("corpus", "message"),
    [(b"", r" is empty \(no non-blank lines\)"), (b"caf\xe9 au lait\n", r": not UTF-8 text \(byte 3\)")],
)
def test_an_unusable_corpus_is_one_clear_error(toy_data: Path, tmp_path: Path, corpus: bytes, message: str) -> None:
    import shutil

    data = Path(shutil.copytree(toy_data, tmp_path / "data"))
    (data / "mlm_corpus.txt").write_bytes(corpus)
    with pytest.raises(InvalidInputError, match=f"mlm_corpus.txt{message}"):
        train_mlm(tiny_mlm_config(data, tmp_path / "run"))  # type: ignore[arg-type]


def test_a_given_tokenizer_is_checked_before_it_is_copied_into_the_run(
    toy_data: Path, tmp_path: Path, tiny_mlm: Path
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{}")
    vocab = json.loads((tiny_mlm / "tokenizer.json").read_text())  # the same vocabulary, [SEP] and [MASK] swapped
    vocab["model"]["vocab"] = {("[MASK]" if t == "[SEP]" else "[SEP]" if t == "[MASK]" else t): i
                               for t, i in vocab["model"]["vocab"].items()}  # fmt: skip
    swapped = tmp_path / "swapped.json"
    swapped.write_text(json.dumps(vocab))
    for path, message in [
        (tmp_path / "absent.json", "cannot load it"),
        (broken, "cannot load it"),
        (swapped, r"needs \[PAD\], \[UNK\], \[CLS\], \[SEP\], \[MASK\] at ids 0-4 \(found .*\[SEP\]=4"),
    ]:
        run = tmp_path / f"run-{path.stem}"
        with pytest.raises(InvalidInputError, match=message):
            train_mlm(tiny_mlm_config(toy_data, run, tokenizer=str(path)))  # type: ignore[arg-type]
        assert not (run / "tokenizer.json").exists()
