"""The evaluation task contract shared by every task module listed in `cli.eval.TASK_MODULES`.

A task has a name, the bundle kinds it applies to (used when no `--task` is given), and a `run`
taking a loaded `lexsent.Encoder` plus the parsed CLI args, returning flat `{metric: value}` scores;
the CLI prefixes them with the task name (`definition_example.p_at_1`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lexsent.encoder import Encoder

Scores = dict[str, float]


@dataclass(frozen=True)
class Task:
    name: str
    kinds: tuple[str, ...]
    run: Callable[[Encoder, argparse.Namespace], Scores]
    description: str = ""
    # Reads and checks the task's data without a model (raising what `run` would): a trainer that
    # evaluates its result calls it before training, not after an hour of it.
    check: Callable[[argparse.Namespace], object] | None = None
