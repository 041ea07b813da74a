"""Registers `lexsent data parallel` (multi-way gettext bitext + held-out test pairs per language)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    from training.multilingual.corpus import DEFAULT_LANGUAGES, LOCALE_ROOT

    parser = subparsers.add_parser(
        "parallel", help="English-pivot parallel corpus from gettext catalogues + held-out test pairs"
    )
    parser.add_argument("--out", default="data/parallel", help="output directory (default: ./data/parallel)")
    parser.add_argument(
        "--langs", nargs="+", default=list(DEFAULT_LANGUAGES), help="locale names (default: %(default)s)"
    )
    parser.add_argument("--locale-root", default=str(LOCALE_ROOT), help="directory holding <lang>/LC_MESSAGES")
    parser.add_argument("--test-size", type=int, default=1000, help="held-out pairs per language")
    parser.add_argument("--max-ratio", type=float, default=3.0, help="max length ratio between the sides")
    parser.add_argument("--max-chars", type=int, default=250, help="drop longer sentences")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from training.multilingual.corpus import CleaningRules, build

    rules = CleaningRules(max_chars=args.max_chars, max_ratio=args.max_ratio)
    corpus = build(Path(args.out), args.langs, Path(args.locale_root), args.test_size, rules)
    print(f"{'lang':8}{'raw':>9}{'cleaned':>9}{'train':>9}{'test':>7}")
    for language, stats in corpus.stats.items():
        print(f"{language:8}{stats.raw:>9}{stats.cleaned:>9}{stats.train:>9}{stats.test:>7}")
    print(f"{len(corpus.rows)} multi-way training rows -> {args.out}")
    return 0
