"""`lexsent encode`: one-shot embedding from arguments or stdin, one JSON object per line out."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from lexsent.errors import InvalidInputError
from lexsent.tokenizer import Label, LongInputPolicy, input_label

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
    from exporter.default_model import core_settings

    if args.threads is not None and args.threads < 1:  # 0 used to mean every core, like no flag at all
        raise InvalidInputError(f"--threads must be at least 1, got {args.threads}")
    settings = core_settings(args.data_dir)
    model = args.model
    if model is None:
        from exporter.default_model import ensure_default_model

        model = ensure_default_model(settings.data_dir)
    encoder = lexsent.load(model, threads=args.threads or settings.threads, long_input=args.long_input)
    if args.texts:
        for i, text in enumerate(args.texts):
            try:  # undecodable argv bytes arrive as lone surrogates, which the tokenizer meets with a TypeError
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidInputError(f"{input_label(i)} is not valid UTF-8") from None
        _emit(encoder, args.texts)
        return 0
    if args.batch_size < 1:
        raise InvalidInputError("--batch-size must be at least 1")
    chunk: list[str] = []
    numbers: list[int] = []  # the stdin line of each text in `chunk`, for error messages
    # Bytes, decoded line by line: sys.stdin's own decoding fails a whole read-ahead chunk (or, under the C
    # locale, passes undecodable bytes on as lone surrogates that the tokenizer rejects with a TypeError).
    for number, raw in enumerate(sys.stdin.buffer, 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInputError(f"stdin line {number} is not valid UTF-8") from None
        text = line.rstrip("\r\n").removeprefix("\ufeff" if number == 1 else "")
        if text.strip():  # blank and whitespace-only lines are skipped
            chunk.append(text)
            numbers.append(number)
        if len(chunk) >= args.batch_size:
            _emit(encoder, chunk, numbers)
            chunk, numbers = [], []
    if chunk:
        _emit(encoder, chunk, numbers)
    return 0


def _emit(encoder: Encoder, texts: list[str], lines: list[int] | None = None) -> None:
    """`lines`: each text's stdin line, which errors name (a too-long input's with its token count)."""
    label: Label = input_label if lines is None else lambda i: f"stdin line {lines[i]}"
    tokens = encoder.tokenize(texts, label=label)
    vectors = encoder.run(tokens)
    for text, vector, item in zip(texts, vectors, tokens, strict=True):
        record = {
            "text": text,
            "model": encoder.name,
            "tokens": len(item),
            "truncated": item.truncated,
            "embedding": vector.tolist(),
        }
        sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()
