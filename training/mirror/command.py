"""Registers `lexsent train mirror`."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("mirror", help="MirrorBERT contrastive tuning of any HF encoder directory")
    parser.add_argument(
        "--model",
        default="runs/mlm/model",
        help="HF encoder dir (the MLM model, 'default' for packaged MiniLM, any BERT/RoBERTa)",
    )
    parser.add_argument("--mode", choices=("sentence", "word"), default="sentence")
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--run-dir", default=None, help="default: runs/<name>")
    parser.add_argument("--name", default=None, help="bundle name; default: mirror-<mode>")
    parser.add_argument("--models-dir", default="models", help="the bundle is exported to <models-dir>/<name>")
    parser.add_argument("--items", type=int, default=10000, help="training items sampled from the corpus")
    parser.add_argument("--epochs", type=int, default=None, help="default: 1 (sentence) / 2 (word)")
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--temperature", type=float, default=None, help="default: 0.04 (sentence) / 0.2 (word)")
    parser.add_argument("--span", type=int, default=5, help="random span masking length k on one view (0: none)")
    parser.add_argument(
        "--span-unit",
        choices=("char", "token"),
        default="char",
        help="char: k characters, texts under 30 characters left whole (the authors' code); token: k tokens",
    )
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--drophead", type=float, default=0.0, help="probability of dropping an attention head")
    parser.add_argument("--pooling", choices=("cls", "mean"), default="mean")
    parser.add_argument("--max-length", type=int, default=None, help="default: 64 (sentence) / 16 (word)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument(
        "--export",
        choices=("bundle", "none"),
        default="bundle",
        help="bundle: export to models/<name> and evaluate into its manifest",
    )
    parser.add_argument("--save-every", type=int, default=10, help="steps between checkpoints (0: none)")
    parser.add_argument("--resume", choices=("auto", "never"), default="auto", help="auto: continue a killed run")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from training.mirror.trainer import MirrorConfig, train_mirror

    result = train_mirror(MirrorConfig.from_args(args))
    print(f"model: {result}" if result else "stopped early (checkpointed); run the same command again to resume")
    return 0
