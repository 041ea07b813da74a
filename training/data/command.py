"""Registers `lexsent data build` (English corpora + held-out eval sets)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("build", help="English sentences, WordNet glosses/examples/words + eval splits")
    parser.add_argument("--out", default="data", help="data directory (default: ./data)")
    parser.add_argument("--salt", default="lexsent-v1", help="split salt; changing it changes every split")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from training.data.build import BuildConfig, build

    counts = build(Path(args.out), BuildConfig(salt=args.salt))
    print(json.dumps(counts, indent=2))
    return 0
