"""The default model's first-use export: what a host without the export extra is told, and the export
lock, which no outcome leaves behind."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from exporter import default_model
from exporter.default_model import _exclusive, ensure_default_model
from lexsent.errors import ExportError


def block_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a serve-only install: `import torch` fails, also for the exporter imported afresh."""
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.delitem(sys.modules, "exporter.export", raising=False)


def test_without_torch_the_export_is_refused_with_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    block_torch(monkeypatch)
    with pytest.raises(ExportError) as refused:
        ensure_default_model(tmp_path)
    message = refused.value.message
    assert f"is not exported in {tmp_path / 'models'} yet, and exporting it needs torch, which is not" in message
    assert "pip install -e '.[export]' from a checkout" in message
    assert message.endswith(default_model.ELSEWHERE)
    assert list((tmp_path / "models").iterdir()) == []  # no .export.lock


def test_the_caller_says_what_to_do_instead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    block_torch(monkeypatch)
    with pytest.raises(ExportError, match=r"; or pass --model DIR$"):
        ensure_default_model(tmp_path, instead="or pass --model DIR")


def test_a_cached_bundle_needs_no_torch(default_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    block_torch(monkeypatch)
    data_dir = default_bundle.parent.parent
    assert ensure_default_model(data_dir) == default_bundle
    assert not (data_dir / "models" / ".export.lock").exists()


def test_a_failed_export_leaves_no_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import exporter.export

    def fail(*_: object, **__: object) -> Path:
        raise ExportError("parity out of tolerance")

    monkeypatch.setattr(exporter.export, "export_bundle", fail)
    with pytest.raises(ExportError, match="parity"):
        ensure_default_model(tmp_path)
    assert list((tmp_path / "models").iterdir()) == []


def test_the_lock_excludes_and_is_removed_with_waiters_taking_it_in_turn(tmp_path: Path) -> None:
    """A waiter that opened the file before its holder removed it must not run beside a newcomer that
    created the next one: each holder checks it locked the file that is at the path now."""
    path = tmp_path / ".export.lock"
    inside: list[str] = []
    overlaps: list[str] = []
    entered = threading.Event()
    release = threading.Event()

    def hold(name: str, wait: threading.Event | None = None) -> None:
        with _exclusive(path):
            if inside:
                overlaps.append(name)
            inside.append(name)
            entered.set()
            if wait is not None:
                wait.wait(timeout=10)
            inside.remove(name)

    first = threading.Thread(target=hold, args=("first", release))
    first.start()
    assert entered.wait(timeout=10)
    waiters = [threading.Thread(target=hold, args=(f"waiter{i}",)) for i in range(4)]
    for waiter in waiters:
        waiter.start()
    release.set()
    for thread in [first, *waiters]:
        thread.join(timeout=10)
    assert overlaps == [] and inside == []
    assert not path.exists()
