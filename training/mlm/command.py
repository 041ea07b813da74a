"""Registers `lexsent train mlm`."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("mlm", help="pre-train a small BERT (WordPiece + masked LM) from scratch")
    parser.add_argument("--data-dir", default="data", help="built by `lexsent data build`")
    parser.add_argument("--run-dir", default="runs/mlm", help="checkpoints, loss log and plot")
    parser.add_argument("--out", default="runs/mlm/model", help="final Hugging Face model directory")
    parser.add_argument("--masking", choices=("token", "whole-word", "span"), default="whole-word")
    parser.add_argument("--tokenizer", default=None, help="reuse this tokenizer.json (default: train WordPiece)")
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--steps", type=int, default=10000, help="optimizer steps (about 20-25 min on 2 idle cores)")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop (checkpointed) after this long")
    parser.add_argument("--save-every", type=int, default=500)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument(
        "--resume",
        choices=("auto", "never"),
        default="auto",
        help="auto: continue from the run directory's latest checkpoint",
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from training.mlm.trainer import MlmConfig, train_mlm

    config = MlmConfig.from_args(args)
    out = train_mlm(config)
    print(f"model: {out}" if out else "stopped early (checkpointed); run the same command again to resume")
    return 0
