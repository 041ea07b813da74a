"""`lexsent encode`: one-shot embedding from arguments or stdin, one JSON object per line out."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from lexsent.errors import InputTooLongError, InvalidInputError
from lexsent.tokenizer import LongInputPolicy

if TYPE_CHECKING:
    from lexsent.encoder import Encoder


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("encode", help="embed texts (arguments, or one per line on stdin) as JSON lines")
    parser.add_argument("texts", nargs="*", help="texts to embed; reads stdin lines when none are given")
    parser.add_argument("--model", type=Path, help="bundle directory (default: the packaged default model)")
    parser.add_argument("--data-dir", type=Path, help="where the default model is cached")
    parser.add_argument("--long-input", choices=[p.value for p in LongInputPolicy], default="truncate")
    parser.add_argument("--threads", type=int, help="onnxruntime intra-op threads (default: all cores)")
    parser.add_argument("--batch-size", type=int, default=256, help="lines read from stdin per encode call")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import lexsent
    from lexsent.settings import CoreSettings

    settings = CoreSettings(**({"data_dir": args.data_dir} if args.data_dir else {}))
    model = args.model
    if model is None:
        from exporter.default_model import ensure_default_model

        model = ensure_default_model(settings.data_dir)
    encoder = lexsent.load(model, threads=args.threads or settings.threads, long_input=args.long_input)
    if args.texts:
        _emit(encoder, args.texts)
        return 0
    if args.batch_size < 1:
        raise InvalidInputError("--batch-size must be at least 1")
    chunk: list[str] = []
    numbers: list[int] = []  # the stdin line of each text in `chunk`, for error messages
    for number, line in enumerate(sys.stdin, 1):
        text = line.rstrip("\r\n").removeprefix("\ufeff" if number == 1 else "")
        if text.strip():  # blank and whitespace-only lines are skipped
            chunk.append(text)
            numbers.append(number)
        if len(chunk) >= args.batch_size:
            _emit_lines(encoder, chunk, numbers)
            chunk, numbers = [], []
    if chunk:
        _emit_lines(encoder, chunk, numbers)
    return 0


def _emit_lines(encoder: Encoder, texts: list[str], numbers: list[int]) -> None:
    try:
        _emit(encoder, texts)
    except InputTooLongError as exc:
        raise InvalidInputError(
            f"stdin line {numbers[exc.index]} is longer than the model's max_length "
            f"({encoder.manifest.max_length} tokens); shorten it or use --long-input truncate"
        ) from None


def _emit(encoder: Encoder, texts: list[str]) -> None:
    result = encoder.embed(texts)
    for text, vector, count, cut in zip(texts, result.vectors, result.token_counts, result.truncated, strict=True):
        record = {
            "text": text,
            "model": encoder.name,
            "tokens": count,
            "truncated": cut,
            "embedding": vector.tolist(),
        }
        sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()
