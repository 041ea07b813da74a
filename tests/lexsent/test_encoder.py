"""Encoder behaviour: input validation, long-input policy, batching that never changes a vector."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import lexsent
from lexsent.encoder import default_threads
from lexsent.errors import InputTooLongError, InvalidInputError, LexsentError
from lexsent.tokenizer import LongInputPolicy

LONG = "word " * 500


@pytest.fixture(scope="module")
def encoder(tiny_bundle: Path) -> lexsent.Encoder:
    return lexsent.load(tiny_bundle, threads=2)


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ([], "input is empty"),
        ([""], r"input\[0\] is an empty string"),
        (["ok", "   "], r"input\[1\] is an empty string"),
        (["ok", 3], r"input\[1\] is int, expected a string"),
        ([None], r"input\[0\] is NoneType"),
        ("a bare string", "expected a list of strings"),
        (["ok", "caf\udce9"], r"input\[1\] is not valid Unicode \(a lone surrogate at character 3\)"),
    ],
)
def test_bad_inputs_are_typed_errors(encoder: lexsent.Encoder, texts: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as info:
        encoder.encode(texts)  # type: ignore[arg-type]
    assert info.value.kind.http_status == 422 and info.value.kind.grpc_code == "INVALID_ARGUMENT"


def test_long_input_truncate_flags_it(encoder: lexsent.Encoder) -> None:
    result = encoder.embed(["short text", LONG])
    assert result.truncated == [False, True]
    assert result.token_counts[1] == encoder.manifest.max_length
    assert encoder.tokenizer.count(LONG) > encoder.manifest.max_length


def test_long_input_error_policy(encoder: lexsent.Encoder) -> None:
    with pytest.raises(InputTooLongError, match=r"input\[1\] has \d+ tokens but the model's max_length is 64"):
        encoder.encode(["fine", LONG], LongInputPolicy.ERROR)
    strict = lexsent.load(encoder.bundle.path, long_input=LongInputPolicy.ERROR)
    with pytest.raises(InputTooLongError):
        strict.encode([LONG])
    assert strict.encode(["fine"]).shape == (1, strict.dim)


def test_vectors_independent_of_batching(tiny_bundle: Path) -> None:
    texts = [f"sentence number {i} " + "pad " * (i % 17) for i in range(70)]
    small = lexsent.load(tiny_bundle, max_batch_tokens=64)  # forces many small batches
    big = lexsent.load(tiny_bundle, max_batch_tokens=1 << 16)
    a, b = small.encode(texts), big.encode(texts)
    assert a.dtype == np.float32 and a.shape == (70, small.dim)
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(a[13], big.encode([texts[13]])[0], atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)  # manifest says normalized


def test_the_default_model_gives_the_same_vectors_with_a_cuda_sized_run_budget(default_bundle: Path) -> None:
    """With CUDA's 8,192 tokens a packed run holds many rows; a cached bundle whose graph took one row
    (an export format of this project's past) fails here, not first on a GPU."""
    texts = [f"item {i}: " + "a longer sentence " * (i % 9) for i in range(120)]
    wide = lexsent.load(default_bundle, max_batch_tokens=8192)
    narrow = lexsent.load(default_bundle)
    np.testing.assert_allclose(wide.encode(texts), narrow.encode(texts), atol=1e-5)


def test_a_run_stops_between_batches_once_abandoned(tiny_bundle: Path) -> None:
    from lexsent.encoder import RunAbandonedError

    small = lexsent.load(tiny_bundle, max_batch_tokens=64)
    items = small.tokenize([f"sentence number {i} " + "pad " * 10 for i in range(20)])  # several runs
    asked: list[int] = []

    def abandoned() -> bool:
        asked.append(1)
        return len(asked) >= 2

    with pytest.raises(RunAbandonedError, match="after 2 runs"):
        small.run(items, abandoned=abandoned)
    np.testing.assert_array_equal(small.run(items, abandoned=lambda: False), small.run(items))


def test_cpu_runs_default_to_small_length_sorted_batches(tiny_bundle: Path) -> None:
    from lexsent.batching import plan_batches
    from lexsent.encoder import CPU_RUN_TOKENS

    encoder = lexsent.load(tiny_bundle, device=lexsent.Device.CPU)
    assert encoder.max_batch_tokens == CPU_RUN_TOKENS == 256
    assert lexsent.load(tiny_bundle, device=lexsent.Device.CPU, max_batch_tokens=4096).max_batch_tokens == 4096
    # 32 short inputs of mixed length become several runs, each of similar lengths within 256 padded tokens.
    lengths = [len(t) for t in encoder.tokenize([f"word {'x ' * (i % 23)}" for i in range(32)])]
    runs = plan_batches(lengths, encoder.max_batch_tokens)
    assert len(runs) > 1 and all(len(run) * max(lengths[i] for i in run) <= 256 for run in runs)


def test_token_id_input(encoder: lexsent.Encoder) -> None:
    tokens = encoder.tokenize(["hello world"])
    from_ids = encoder.run(encoder.tokenizer.from_ids([tokens[0].ids]))
    np.testing.assert_allclose(from_ids, encoder.encode(["hello world"]), atol=1e-6)
    with pytest.raises(InvalidInputError, match=r"ids must be integers in \[0, "):
        encoder.tokenizer.from_ids([[1, 10**9]])
    with pytest.raises(InvalidInputError, match="empty token-id list"):
        encoder.tokenizer.from_ids([[]])


def test_errors_share_one_base(encoder: lexsent.Encoder) -> None:
    with pytest.raises(LexsentError):
        encoder.encode([])


@pytest.mark.parametrize("value", ["abc", "0", "-1", "2.5", "", "٤"])
def test_default_threads_refuses_a_bad_lexsent_threads(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEXSENT_THREADS", value)
    with pytest.raises(InvalidInputError, match="LEXSENT_THREADS must be a whole number of at least 1"):
        default_threads()


@pytest.mark.parametrize("threads", [0, -1])
def test_load_refuses_a_thread_count_below_one(tiny_bundle: Path, threads: int) -> None:
    with pytest.raises(InvalidInputError, match=f"threads must be at least 1, got {threads}"):
        lexsent.load(tiny_bundle, threads=threads)


def test_default_threads_reads_lexsent_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEXSENT_THREADS", " 3 ")
    assert default_threads() == 3
    monkeypatch.delenv("LEXSENT_THREADS")
    assert default_threads() == (os.cpu_count() or 1)
