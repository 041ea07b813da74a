"""CLI flags shared by `train laser` and `train distill` (same names as the config fields)."""

from __future__ import annotations

import argparse
from typing import Any

BILSTM = "bilstm"  # `train distill --student`: the from-scratch BiLSTM (here, so the CLI needs no torch import)


def add_common(
    parser: argparse.ArgumentParser,
    *,
    run_dir: str,
    out: str | None,
    steps: int,
    lr: float | None,
    lr_help: str = "",
    out_help: str = "",
) -> None:
    from training.multilingual.corpus import DEFAULT_LANGUAGES

    parser.add_argument("--data-dir", default="data/parallel", help="built by `lexsent data parallel`")
    parser.add_argument("--run-dir", default=run_dir, help="checkpoints, tokenizer, loss log and plot")
    parser.add_argument("--out", default=out, help=out_help or f"exported ONNX bundle directory (default: {out})")
    parser.add_argument("--langs", nargs="+", default=list(DEFAULT_LANGUAGES), help="non-English languages")
    parser.add_argument("--vocab", choices=("bpe", "unigram", "xlmr"), default="bpe", help="shared subword vocabulary")
    parser.add_argument("--vocab-size", type=int, default=8000, help="for bpe/unigram")
    parser.add_argument("--tokenizer", default=None, help="reuse this tokenizer.json instead of training one")
    parser.add_argument("--embed-dim", type=int, default=192)
    parser.add_argument("--hidden", type=int, default=256, help="per LSTM direction")
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=32, help="truncate training sentences")
    parser.add_argument(
        "--max-rows",
        type=int,
        default=None,
        help="train on a deterministic hash-ordered sample of N multi-way rows (default: all)",
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=lr, help=lr_help or None)
    parser.add_argument("--steps", type=int, default=steps, help="optimizer steps (default sized for 2 CPU cores)")
    parser.add_argument("--save-every", type=int, default=250)
    parser.add_argument("--max-minutes", type=float, default=None, help="stop (checkpointed) after this long")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--resume", choices=("auto", "never"), default="auto")


def common_values(args: argparse.Namespace) -> dict[str, Any]:
    from training.multilingual.loop import Resume
    from training.multilingual.vocab import VocabKind

    return {
        "data_dir": args.data_dir,
        "run_dir": args.run_dir,
        "languages": list(args.langs),
        "vocab": VocabKind(args.vocab),
        "vocab_size": args.vocab_size,
        "tokenizer": args.tokenizer,
        "embed_dim": args.embed_dim,
        "hidden": args.hidden,
        "layers": args.layers,
        "max_tokens": args.max_tokens,
        "max_rows": args.max_rows,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "steps": args.steps,
        "save_every": args.save_every,
        "max_minutes": args.max_minutes,
        "seed": args.seed,
        "threads": args.threads,
        "device": args.device,
        "resume": Resume(args.resume),
    }


def check_common(cfg: Any) -> None:
    """The shared settings of `train laser` and `train distill`, refused at once naming their flag
    (a zero batch size or step count failed deep in training, after a tokenizer had been trained)."""
    from training.validation import require, require_at_least

    require(bool(cfg.languages), "--langs needs at least one language")
    require_at_least(1, batch_size=cfg.batch_size, steps=cfg.steps, save_every=cfg.save_every, layers=cfg.layers)
    require_at_least(1, embed_dim=cfg.embed_dim, hidden=cfg.hidden, max_tokens=cfg.max_tokens, max_rows=cfg.max_rows)
    require_at_least(100, vocab_size=cfg.vocab_size)
    require(cfg.lr is None or cfg.lr > 0, f"--lr must be positive, got {cfg.lr}")
    require(cfg.max_minutes is None or cfg.max_minutes > 0, "--max-minutes must be positive")
