"""Registers `lexsent train laser`."""

from __future__ import annotations

import argparse
from typing import Any

from training.multilingual.options import add_common, common_values


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "laser", help="LASER-style multilingual BiLSTM encoder trained by translation (xx→en, en→second)"
    )
    add_common(parser, run_dir="runs/laser", out="models/laser-bilstm", steps=3000, lr=2e-3)
    parser.add_argument("--second-target", default="es", help="English is also translated into this language")
    parser.add_argument("--decoder-hidden", type=int, default=384)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from training.multilingual.export import export_encoder
    from training.multilingual.laser import LaserConfig, train_laser
    from training.multilingual.loop import Outcome
    from training.multilingual.tatoeba import evaluate_bundle

    cfg = LaserConfig(**common_values(args), second_target=args.second_target, decoder_hidden=args.decoder_hidden)
    checkpoint, outcome = train_laser(cfg)
    print(f"encoder checkpoint: {checkpoint}")
    if outcome is Outcome.STOPPED:
        print("stopped early (checkpointed); run the same command again to resume")
        return 0
    bundle = export_encoder(checkpoint, Path(args.out), name=Path(args.out).name, architecture="laser-bilstm")
    print(f"bundle: {bundle}")
    print(evaluate_bundle(bundle, Path(args.data_dir)))
    return 0
