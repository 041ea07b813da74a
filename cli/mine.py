"""`lexsent mine A.txt B.txt`: bitext mining, one sentence per line, ratio-margin scoring (k = 4).

Prints (or writes with --out) tab-separated `score, line in A, line in B, sentence A, sentence B` for
every aligned pair scoring at least the threshold, best first. Line numbers are the files' own (1-based,
blank lines counted, as `sed -n Np` reads them); a tab, carriage return or backslash inside a sentence
is written `\t`, `\r`, `\\`, so every row has five columns. Torch-free: any bundle works.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cli.options import at_least_one

DEFAULT_MODEL = "models/distill-bilstm"


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    from lexsent.margin import DEFAULT_K, MiningStrategy, Scoring

    parser = subparsers.add_parser("mine", help="find translation pairs between two text files (one sentence a line)")
    parser.add_argument("source", help="text file A, one sentence per line")
    parser.add_argument("target", help="text file B, one sentence per line")
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="bundle directory, or `default` (default: %(default)s: what `lexsent train distill` writes)",
    )
    parser.add_argument("--k", type=int, default=DEFAULT_K, help="neighbourhood size of the margin")
    parser.add_argument(
        "--threshold",
        type=_finite,
        default=None,
        help="minimum score (default: the model's tuned mining threshold, else 1.06 margin / 0.6 cosine)",
    )
    parser.add_argument("--scoring", choices=[s.value for s in Scoring], default=Scoring.MARGIN.value)
    parser.add_argument("--strategy", choices=[s.value for s in MiningStrategy], default=MiningStrategy.MAX.value)
    parser.add_argument("--out", default=None, help="write the TSV here instead of stdout")
    parser.add_argument("--threads", type=at_least_one, default=None)
    parser.set_defaults(func=_run)


def _finite(text: str) -> float:
    import math

    value = float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, not {text}")
    return value


def _lines(path: str) -> tuple[list[str], list[int]]:
    """The non-blank lines of `path`, and each one's 1-based line number in the file."""
    from lexsent.errors import InvalidInputError

    try:
        with open(path, encoding="utf-8", newline="\n") as handle:  # lines end at "\n" only, as for sed
            lines = [line.strip() for line in handle]
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{path}: cannot read as UTF-8 text ({exc})") from exc
    numbers = [number for number, line in enumerate(lines, 1) if line]
    if not numbers:
        raise InvalidInputError(f"{path}: no non-empty lines to mine")
    return [lines[n - 1] for n in numbers], numbers


def _field(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r")


def _run(args: argparse.Namespace) -> int:
    import sys

    import lexsent
    from lexsent.margin import MiningStrategy, Scoring, default_threshold, mine

    (source, source_lines), (target, target_lines) = _lines(args.source), _lines(args.target)
    from exporter.default_model import resolve_bundle

    if args.model == DEFAULT_MODEL and not Path(DEFAULT_MODEL).exists():
        from lexsent.errors import BundleError

        raise BundleError(
            f"no --model given, and ./{DEFAULT_MODEL} (the distilled multilingual model, relative to this "
            "directory) does not exist: train it with `lexsent train distill`, or pass --model DIR "
            "(or --model default for the English MiniLM)"
        )
    encoder = lexsent.load(resolve_bundle(args.model), threads=args.threads)
    scoring = Scoring(args.scoring)
    threshold = default_threshold(scoring, encoder.manifest.evaluation) if args.threshold is None else args.threshold
    pairs = mine(
        encoder.encode(source),
        encoder.encode(target),
        k=args.k,
        threshold=threshold,
        strategy=MiningStrategy(args.strategy),
        scoring=scoring,
    )
    rows = "".join(
        f"{p.score:.4f}\t{source_lines[p.source]}\t{target_lines[p.target]}\t"
        f"{_field(source[p.source])}\t{_field(target[p.target])}\n"
        for p in pairs
    )
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(rows)
    else:
        sys.stdout.write(rows)
    print(f"{len(pairs)} pairs (threshold {threshold:.3f}) from {len(source)} × {len(target)} lines", file=sys.stderr)
    return 0
