"""Build a bundle in a staging directory beside its target and swap it in only when it is complete.

Every bundle writer (the exporter, the multilingual exporter) goes through here, so a failed or
interrupted export never leaves a half-written or unverified bundle where a server would load it.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lexsent.errors import ExportError
from lexsent.manifest import MANIFEST_FILE, NAME_PATTERN

log = logging.getLogger(__name__)


def int8_path(out: Path) -> Path:
    """Where the int8 bundle of `out` goes: `DIR-int8` beside it."""
    return out.with_name(out.name + "-int8")


def require_replaceable(out: Path, choose: str = "another --out") -> None:
    """Publishing replaces `out`: refuse anything there that is not a bundle (a user's folder, the source
    model itself), before any work is done. `choose`: the flags that set `out`, for the message."""
    if out.exists() and not (out / MANIFEST_FILE).is_file():
        raise ExportError(
            f"{out} exists and is not a lexsent bundle (no {MANIFEST_FILE}); an export replaces its target, "
            f"so choose {choose} (a bundle there is replaced)"
        )


def require_bundle_name(name: str, hint: str) -> None:
    """A name a bundle can be served under; checked before any work (the manifest would refuse it at the end).
    `hint`: how the caller sets it."""
    if not NAME_PATTERN.fullmatch(name):
        raise ExportError(
            f"bundle name {name!r} is not allowed: letters, digits, '.', '_' and '-', starting with a letter "
            f"or digit ({hint})"
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _remove_abandoned(out: Path) -> None:
    """A killed export (SIGKILL, power loss) cannot run its cleanup, so its staging directory, named after
    its process, is removed by the next export of the same target once that process is gone. Directories
    caught mid-publish (`.done`) are left alone: they may hold the only complete copy."""
    pattern = re.compile(rf"\.{re.escape(out.name)}\.(\d+)\.[^.]+")
    for entry in out.parent.iterdir():
        match = pattern.fullmatch(entry.name)
        if match and entry.is_dir() and not _alive(int(match.group(1))):
            log.warning("removing %s, left by an interrupted export", entry)
            shutil.rmtree(entry, ignore_errors=True)


@contextmanager
def staging_dir(out: Path) -> Iterator[Path]:
    """A fresh hidden directory beside `out` (same filesystem, so publishing is a rename); removed on exit."""
    require_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(out)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)  # mkdtemp's 0700 would keep other users (a service account) out
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def publish(staging: Path, out: Path) -> None:
    """Swap the finished staging directory in as `out`; the old bundle goes only once the new one exists."""
    final = staging.with_name(staging.name + ".done")
    staging.rename(final)
    if out.exists():
        retired = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(retired)
        final.rename(out)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        final.rename(out)
