"""`lexsent data <corpus>`: build training/evaluation corpora from local sources.

Each module in `CORPORA` exposes `register(subparsers)`; `build` makes the English corpora
(gettext sentences, WordNet glosses/examples/words) with hashed train/eval splits.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

CORPORA = ("training.data.command", "training.multilingual.data_command")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("data", help="build corpora and train/eval splits from local sources")
    corpora = parser.add_subparsers(dest="corpus", required=True, metavar="CORPUS")
    for module in CORPORA:
        importlib.import_module(module).register(corpora)
