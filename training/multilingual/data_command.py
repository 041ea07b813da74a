"""Registers `lexsent data parallel` (multi-way gettext bitext + held-out test pairs per language)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    from training.multilingual.corpus import DEFAULT_LANGUAGES, L10N_ROOT, LOCALE_ROOT

    parser = subparsers.add_parser(
        "parallel", help="English-pivot parallel corpus from gettext catalogues + held-out test pairs"
    )
    parser.add_argument("--out", default="data/parallel", help="output directory (default: ./data/parallel)")
    parser.add_argument(
        "--langs", nargs="+", default=list(DEFAULT_LANGUAGES), help="locale names (default: %(default)s)"
    )
    parser.add_argument("--locale-root", default=str(LOCALE_ROOT), help="directory holding <lang>/LC_MESSAGES")
    parser.add_argument(
        "--extra-root",
        nargs="*",
        default=None,
        help="further <lang>/LC_MESSAGES roots that add training pairs only (the test split is the primary "
        f"root's); default: {L10N_ROOT} when present (`make l10n`); give the flag with no value for none",
    )
    parser.add_argument(
        "--english-data",
        default=None,
        help="English data directory whose eval_hashes.txt names rows to leave out of training (default: "
        "./data when it has one; English sentence tasks also score multilingual bundles)",
    )
    parser.add_argument("--test-size", type=int, default=1000, help="held-out pairs per language")
    parser.add_argument("--max-ratio", type=float, default=3.0, help="max length ratio between the sides")
    parser.add_argument("--max-chars", type=int, default=250, help="drop longer sentences")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lexsent.errors import NotFoundError
    from training.data.splits import HASHES_FILE, EvalGuard
    from training.multilingual.corpus import L10N_ROOT, CleaningRules, build

    if args.extra_root is None:
        extra = [L10N_ROOT] if L10N_ROOT.is_dir() else []
    else:
        extra = [Path(root) for root in args.extra_root]
    missing = [str(root) for root in extra if not root.is_dir()]
    if missing:
        raise NotFoundError(f"--extra-root: no such directory: {', '.join(missing)} (`make l10n` fetches some)")
    english = Path(args.english_data or "data")
    if args.english_data is not None or (english / HASHES_FILE).exists():
        guard: EvalGuard | None = EvalGuard.load(english)  # an explicit directory without the file is an error
    else:
        guard = None
        print(f"no {english / HASHES_FILE}: English evaluation items are not kept out (see --english-data)")
    rules = CleaningRules(max_chars=args.max_chars, max_ratio=args.max_ratio)
    corpus = build(Path(args.out), args.langs, Path(args.locale_root), args.test_size, rules, extra, guard)
    print(f"training-only roots: {', '.join(map(str, extra)) or 'none'}")
    if guard is not None:
        print(f"{corpus.english_eval_rows} rows left out: their English side is held out in {english}")
    print(f"{'lang':8}{'raw':>9}{'cleaned':>9}{'train':>9}{'of which extra':>16}{'test':>7}")
    for language, stats in corpus.stats.items():
        print(f"{language:8}{stats.raw:>9}{stats.cleaned:>9}{stats.train:>9}{stats.extra:>16}{stats.test:>7}")
    print(f"{len(corpus.rows)} multi-way training rows -> {args.out}")
    return 0
