"""Registers `lexsent train distill`."""

from __future__ import annotations

import argparse
from typing import Any

from training.multilingual.options import add_common, common_values


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "distill", help="multilingual student distilled from an English teacher bundle (MSE on translations)"
    )
    add_common(parser, run_dir="runs/distill", out="models/distill-bilstm", steps=3000, lr=2e-3)
    parser.add_argument("--teacher", default=None, help="teacher bundle (default: the packaged MiniLM model)")
    parser.set_defaults(func=_run, max_rows=20000)


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from training.multilingual.distill import DistillConfig, train_distill
    from training.multilingual.export import export_encoder
    from training.multilingual.loop import Outcome
    from training.multilingual.tatoeba import evaluate_bundle

    cfg = DistillConfig(**common_values(args), teacher=args.teacher)
    checkpoint, outcome = train_distill(cfg)
    print(f"student checkpoint: {checkpoint}")
    if outcome is Outcome.STOPPED:
        print("stopped early (checkpointed); run the same command again to resume")
        return 0
    bundle = export_encoder(checkpoint, Path(args.out), name=Path(args.out).name, architecture="distilled-bilstm")
    print(f"bundle: {bundle}")
    print(evaluate_bundle(bundle, Path(args.data_dir)))
    return 0
