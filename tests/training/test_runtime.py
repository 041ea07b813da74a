"""Thread pinning: `--threads`, then LEXSENT_THREADS, then OMP_NUM_THREADS (what the Makefile exports)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from lexsent.errors import InvalidInputError
from training.runtime import set_threads


@pytest.fixture(autouse=True)
def restore_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(
    ("threads", "lexsent", "omp", "expected"),
    [
        (3, "2", "1", 3),
        (None, "2", "1", 2),
        (None, None, "1", 1),
        (None, None, "4,2", None),  # OpenMP's nested form is not a count: every core
        (None, None, "x", None),
    ],
)
def test_thread_count_precedence(
    monkeypatch: pytest.MonkeyPatch, threads: int | None, lexsent: str | None, omp: str | None, expected: int | None
) -> None:
    for name, value in (("LEXSENT_THREADS", lexsent), ("OMP_NUM_THREADS", omp)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    monkeypatch.setattr("os.cpu_count", lambda: 5)
    assert set_threads(threads) == (expected or 5) == torch.get_num_threads()


@pytest.mark.parametrize("threads", [0, -1])
def test_threads_below_one_are_refused_not_read_as_every_core(threads: int) -> None:
    with pytest.raises(InvalidInputError, match=f"--threads must be at least 1, got {threads}"):
        set_threads(threads)


@pytest.mark.parametrize("value", ["abc", "0", ""])
def test_a_bad_lexsent_threads_is_refused_not_ignored(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """It fell back to every core, as `lexsent encode` and `serve` never did."""
    monkeypatch.setenv("LEXSENT_THREADS", value)
    with pytest.raises(InvalidInputError, match=f"LEXSENT_THREADS must be a whole number of at least 1, got {value!r}"):
        set_threads(None)
