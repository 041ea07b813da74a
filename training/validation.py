"""Checks of trainer settings, shared by every trainer's config.

A bad value fails at once as an `InvalidInputError` naming its flag, which the CLI prints (exit 2),
instead of a ZeroDivisionError or a silently untrained model deep in the training loop.
"""

from __future__ import annotations

from lexsent.errors import InvalidInputError


def require(ok: bool, message: str) -> None:
    if not ok:
        raise InvalidInputError(message)
