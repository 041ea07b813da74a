"""The process's open-file limit (RLIMIT_NOFILE), sized at start for the collections it will open.

Every open collection holds a descriptor for as long as the server runs (`FDS_PER_COLLECTION`, and the
store `STORE_FDS`), beside those of connections, listeners, the event loops and brief file writes. A
soft limit of 1024, common by default, is then soon reached: new connections are dropped and a restart
cannot reopen its collections. So the soft limit is raised as far as the hard limit allows (never
lowered), and a limit that still falls short is a warning, not a refusal to start.
"""

from __future__ import annotations

import logging
import resource

from lexsent.collections.store import FDS_PER_COLLECTION, STORE_FDS
from server.settings import option

log = logging.getLogger("lexsent.server")

# Descriptors kept for everything but collections: client connections, the listeners, gRPC's and the
# event loop's own, snapshot and log files while they are written.
HEADROOM = 1024
# Tried, largest first, where the hard limit is unlimited (no OS takes RLIM_INFINITY as a soft limit
# for open files): Linux's default fs.nr_open, then smaller ones (macOS's kern.maxfilesperproc).
_UNLIMITED_TARGETS = (1 << 20, 1 << 16, 10240)


def descriptors_needed(collections: int) -> int:
    """Descriptors a server with `collections` open collections should have, headroom included."""
    return STORE_FDS + collections * FDS_PER_COLLECTION + HEADROOM


def raise_soft_limit() -> int:
    """Raise the soft RLIMIT_NOFILE towards the hard limit (never lower it); returns the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft == hard:
        log.debug("open-file limit %s (hard limit %s)", _shown(soft), _shown(hard))
        return soft
    targets = _UNLIMITED_TARGETS if hard == resource.RLIM_INFINITY else (hard,)
    for target in targets:
        if target <= soft:
            break
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.debug("cannot raise the open-file limit from %d to %d: %s", soft, target, exc)
            continue
        log.info("open-file limit raised from %d to %d (hard limit %s)", soft, target, _shown(hard))
        return target
    return soft


def prepare(stored: int, max_collections: int) -> int:
    """Raise the limit, then warn if it cannot hold the `stored` collections (or up to `max_collections`)
    and the headroom; returns the soft limit."""
    limit = raise_soft_limit()
    if limit == resource.RLIM_INFINITY:
        return limit
    if descriptors_needed(stored) > limit:
        log.warning(
            "the open-file limit is %d, but the %d stored collections hold %d descriptors and connections need "
            "about %d more: connections may be dropped and collections fail to open with 'Too many open files'. "
            "Raise the hard limit (ulimit -Hn, LimitNOFILE= in systemd, docker run --ulimit nofile=...)",
            limit,
            stored,
            STORE_FDS + stored * FDS_PER_COLLECTION,
            HEADROOM,
        )
    elif descriptors_needed(max_collections) > limit:
        log.warning(
            "the open-file limit is %d, but %s (%d) collections and "
            "connections would need about %d descriptors: creating that many may exhaust them. Lower the "
            "setting, or raise the hard limit (ulimit -Hn, LimitNOFILE= in systemd, docker run --ulimit nofile=...)",
            limit,
            option("max_collections"),
            max_collections,
            descriptors_needed(max_collections),
        )
    else:
        log.debug("open-file limit %d covers %d stored collections and the headroom", limit, stored)
    return limit


def _shown(limit: int) -> str:
    return "unlimited" if limit == resource.RLIM_INFINITY else str(limit)
