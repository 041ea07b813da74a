"""`lexsent train <trainer>`: one sub-subcommand per trainer.

Each module in `TRAINERS` exposes `register(subparsers)` adding its own parser (flags, `func`);
adding a trainer is one entry here plus its module. Torch is imported inside the handlers only.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

TRAINERS = (
    "training.mlm.command",
    "training.mirror.command",
    "training.multilingual.laser_command",
    "training.multilingual.distill_command",
)


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("train", help="train an encoder (mlm, mirror, ...)")
    trainers = parser.add_subparsers(dest="trainer", required=True, metavar="TRAINER")
    for module in TRAINERS:
        importlib.import_module(module).register(trainers)
