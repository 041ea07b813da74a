"""Checks of trainer settings, shared by every trainer's config.

A bad value fails at once as an `InvalidInputError` naming its flag, which the CLI prints (exit 2),
instead of a ZeroDivisionError or a silently untrained model deep in the training loop.
"""

from __future__ import annotations

import math

from lexsent.errors import InvalidInputError


def require(ok: bool, message: str) -> None:
    if not ok:
        raise InvalidInputError(message)


def require_at_least(minimum: int, **settings: int | None) -> None:
    """Each given setting (None: unset, skipped) must be at least `minimum`; named as its flag."""
    for name, value in settings.items():
        if value is not None and value < minimum:
            raise InvalidInputError(f"--{name.replace('_', '-')} must be at least {minimum}, got {value}")


def require_finite_loss(value: float, step: int, lr: float) -> None:
    """Stop a diverged run at its first non-finite loss, before the step is applied or checkpointed,
    instead of training on NaN weights and failing later in export."""
    if not math.isfinite(value):
        raise InvalidInputError(
            f"the loss became {value} at step {step + 1} (lr {lr:g}): the run diverged. Lower --lr and start over "
            "(--resume never, or another --run-dir); the checkpoints written so far hold finite weights"
        )
