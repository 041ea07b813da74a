"""The open-file limit at server start: the soft limit is raised towards the hard one (never lowered), and
a limit that cannot hold the stored collections plus headroom is a warning naming the numbers."""

from __future__ import annotations

import logging
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lexsent.collections import CollectionConfig, CollectionStore
from server import fdlimit
from server.launch import free_port, wait_ready

REPO = Path(__file__).resolve().parents[2]
INF = resource.RLIM_INFINITY
# Runs argv[3:] under the open-file limits argv[1] / argv[2] (no preexec_fn: pytest has threads running).
LIMITED = (
    "import os, resource, sys; "
    "resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[2]))); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[3:]])"
)


def limited(soft: int, hard: int, *argv: str) -> list[str]:
    return [sys.executable, "-c", LIMITED, str(soft), str(hard), *argv]


class FakeLimits:
    """Stands in for getrlimit/setrlimit: `ceiling` is the largest soft limit the 'kernel' accepts."""

    def __init__(self, soft: int, hard: int, ceiling: int | None = None) -> None:
        self.soft, self.hard, self.ceiling = soft, hard, ceiling
        self.asked: list[int] = []

    def getrlimit(self, which: int) -> tuple[int, int]:
        assert which == resource.RLIMIT_NOFILE
        return self.soft, self.hard

    def setrlimit(self, which: int, limits: tuple[int, int]) -> None:
        assert which == resource.RLIMIT_NOFILE and limits[1] == self.hard  # the hard limit is left alone
        self.asked.append(limits[0])
        if self.ceiling is not None and limits[0] > self.ceiling:
            raise ValueError("not allowed to raise maximum limit")
        self.soft = limits[0]


def fake(monkeypatch: pytest.MonkeyPatch, soft: int, hard: int, ceiling: int | None = None) -> FakeLimits:
    limits = FakeLimits(soft, hard, ceiling)
    monkeypatch.setattr(fdlimit.resource, "getrlimit", limits.getrlimit)
    monkeypatch.setattr(fdlimit.resource, "setrlimit", limits.setrlimit)
    return limits


def test_the_soft_limit_is_raised_to_the_hard_one(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = fake(monkeypatch, 1024, 4096)
    assert fdlimit.raise_soft_limit() == 4096
    assert (limits.soft, limits.asked) == (4096, [4096])


@pytest.mark.parametrize(("soft", "hard"), [(4096, 4096), (INF, INF)])
def test_a_limit_that_cannot_rise_is_left_as_it_is(monkeypatch: pytest.MonkeyPatch, soft: int, hard: int) -> None:
    limits = fake(monkeypatch, soft, hard)
    assert fdlimit.raise_soft_limit() == soft
    assert limits.asked == []


def test_an_unlimited_hard_limit_gets_the_largest_soft_limit_the_os_takes(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = fake(monkeypatch, 256, INF, ceiling=1 << 16)
    assert fdlimit.raise_soft_limit() == 1 << 16
    assert limits.asked == [1 << 20, 1 << 16]


def test_it_is_never_lowered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above every fallback already, with the largest refused: kept, not cut down to a fallback."""
    limits = fake(monkeypatch, 1 << 18, INF, ceiling=1 << 19)
    assert fdlimit.raise_soft_limit() == 1 << 18
    assert (limits.soft, limits.asked) == (1 << 18, [1 << 20])


def test_a_refused_raise_keeps_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = fake(monkeypatch, 1024, 4096, ceiling=1024)
    assert fdlimit.raise_soft_limit() == 1024
    assert (limits.soft, limits.asked) == (1024, [4096])


def test_a_limit_short_of_the_stored_collections_is_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake(monkeypatch, 512, 1030)
    with caplog.at_level(logging.INFO, logger="lexsent.server"):
        assert fdlimit.prepare(stored=10, max_collections=1000) == 1030
    assert "open-file limit raised from 512 to 1030" in caplog.text
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.getMessage().startswith(
        "the open-file limit is 1030, but the 10 stored collections hold 11 descriptors and connections need "
        "about 1024 more"
    )


def test_a_limit_short_of_max_collections_is_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake(monkeypatch, 1030, 1030)
    with caplog.at_level(logging.WARNING, logger="lexsent.server"):
        fdlimit.prepare(stored=0, max_collections=1000)
    [warning] = caplog.records
    assert warning.getMessage().startswith(
        "the open-file limit is 1030, but --max-collections / LEXSENT_MAX_COLLECTIONS (1000) collections and "
        "connections would need about 2025 descriptors"
    )


def test_enough_descriptors_is_no_warning(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    fake(monkeypatch, 1024, 1 << 20)
    with caplog.at_level(logging.WARNING, logger="lexsent.server"):
        assert fdlimit.prepare(stored=5000, max_collections=10_000) == 1 << 20
    assert caplog.records == []


def test_a_real_process_gets_its_soft_limit_raised() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != INF and hard <= 256:
        pytest.skip(f"hard open-file limit {hard}: no room below it")
    child = (
        "import resource; from server import fdlimit; "
        "before = resource.getrlimit(resource.RLIMIT_NOFILE); now = fdlimit.raise_soft_limit(); "
        "print(before[0], now, *resource.getrlimit(resource.RLIMIT_NOFILE))"
    )
    result = subprocess.run(limited(256, hard, "-c", child), cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    before, returned, now_soft, now_hard = (int(v) for v in result.stdout.split())
    assert before == 256 and now_hard == hard
    assert returned == now_soft > 256 and (now_soft == hard or hard == INF)


def test_lexsent_serve_raises_its_limit_and_warns_when_it_is_short(tiny_bundle: Path, tmp_path: Path) -> None:
    """A real `lexsent serve` under a 512 / 1030 limit with 10 stored collections: started, soft limit 1030
    (read back from /proc), and a warning that 1030 cannot hold them and the headroom."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if not Path("/proc/self/limits").exists() or (hard != INF and hard < 1030):
        pytest.skip("needs /proc and a hard open-file limit of at least 1030")
    data = tmp_path / "data"
    store = CollectionStore(data / "collections")
    for i in range(10):
        store.create(CollectionConfig(f"c{i}", 2))
    store.close()
    http_port, grpc_port = free_port(), free_port()
    command = limited(512, 1030, "-m", "cli.main", "serve", "--model", str(tiny_bundle), "--threads", "1")
    command += ["--data-dir", str(data), "--http-port", str(http_port), "--grpc-port", str(grpc_port)]
    command += ["--log-format", "text"]
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env={**os.environ, "LEXSENT_MAX_COLLECTIONS": "10"},  # only the stored collections' warning
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(f"http://127.0.0.1:{http_port}/health/ready", process, timeout=60, log=log_path)
        limits = Path(f"/proc/{process.pid}/limits").read_text()
        [row] = [line for line in limits.splitlines() if line.startswith("Max open files")]
        assert row.split()[3:5] == ["1030", "1030"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    text = log_path.read_text()
    assert "open-file limit raised from 512 to 1030" in text
    assert "the open-file limit is 1030, but the 10 stored collections hold 11 descriptors" in text
