"""`lexsent export SRC --out DIR`: a local encoder directory → verified ONNX bundle."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lexsent.manifest import ModelKind, Pooling


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("export", help="export a Hugging Face / sentence-transformers directory to a bundle")
    parser.add_argument("src", type=Path, help="local model directory")
    parser.add_argument("--out", type=Path, required=True, help="bundle directory to write")
    parser.add_argument("--pooling", choices=[p.value for p in Pooling], help="default: the model's, else mean")
    parser.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=None, help="L2-normalise")
    parser.add_argument("--max-length", type=int, help="max tokens per input (default: the model's)")
    parser.add_argument("--name", help="model name served as `model` (default: the --out directory name)")
    parser.add_argument(
        "--kind",
        choices=[k.value for k in ModelKind],
        default=ModelKind.SENTENCE.value,
        help="what the bundle embeds (default: %(default)s); `lexical` for word-mode models",
    )
    parser.add_argument("--quantize", choices=["int8"], help="also write an int8 bundle to DIR-int8, named NAME-int8")
    parser.add_argument("--threads", type=int, default=2, help="torch and onnxruntime threads (default: %(default)s)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from exporter.export import export_bundle, int8_path
    from lexsent.manifest import Manifest

    out = export_bundle(
        args.src,
        args.out,
        pooling=args.pooling,
        normalize=args.normalize,
        max_length=args.max_length,
        name=args.name,
        kind=args.kind,
        quantize=args.quantize,
        threads=args.threads,
    )
    written = [out, int8_path(out)] if args.quantize else [out]
    for path in written:
        manifest = Manifest.read(path)
        print(json.dumps({"bundle": str(path), "name": manifest.name, "parity": manifest.parity.model_dump()}))
    return 0
