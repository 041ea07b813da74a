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
    parser.add_argument(
        "--student",
        default="bilstm",
        help="'bilstm' (trained from scratch on the shared vocabulary), or a pre-trained Hugging Face encoder "
        "directory of the teacher's width ('default' = the packaged MiniLM); its own tokenizer is used",
    )
    parser.set_defaults(func=_run, max_rows=20000)


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from exporter.export import export_bundle
    from training.multilingual.distill import DistillConfig, train_distill
    from training.multilingual.export import export_encoder
    from training.multilingual.loop import Outcome
    from training.multilingual.tatoeba import evaluate_bundle
    from training.multilingual.transformer_student import BILSTM

    cfg = DistillConfig(**common_values(args), teacher=args.teacher, student=args.student)
    checkpoint, outcome = train_distill(cfg)
    print(f"student checkpoint: {checkpoint}")
    if outcome is Outcome.STOPPED:
        print("stopped early (checkpointed); run the same command again to resume")
        return 0
    out = Path(args.out)
    if cfg.student == BILSTM:
        bundle = export_encoder(checkpoint, out, name=out.name, architecture="distilled-bilstm")
    else:
        languages = ["en", *cfg.languages]
        bundle = export_bundle(
            checkpoint,
            out,
            name=out.name,
            kind="multilingual",
            pooling="mean",
            normalize=True,
            languages=languages,
            max_length=256,
        )
    print(f"bundle: {bundle}")
    print(evaluate_bundle(bundle, Path(args.data_dir)))
    return 0
