"""Registers `lexsent train distill`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from training.multilingual.options import BILSTM, add_common, common_values

# A from-scratch BiLSTM wants a large step size; a pre-trained transformer is fine-tuned with a small one
# (1e-4 measured for the MiniLM student, docs/multilingual.md).
BILSTM_LR = 2e-3
TRANSFORMER_LR = 1e-4


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "distill", help="multilingual student distilled from an English teacher bundle (MSE on translations)"
    )
    add_common(
        parser,
        run_dir="runs/distill",
        out=None,
        out_help="exported ONNX bundle directory (default: models/distill-bilstm, models/distill-minilm for "
        "--student default, else models/distill-<student directory name>)",
        steps=3000,
        lr=None,
        lr_help=f"default: {BILSTM_LR:g} for the BiLSTM, {TRANSFORMER_LR:g} for a pre-trained transformer student",
    )
    parser.add_argument("--teacher", default=None, help="teacher bundle (default: the packaged MiniLM model)")
    parser.add_argument(
        "--student",
        default=BILSTM,
        help="'bilstm' (trained from scratch on the shared vocabulary), or a pre-trained Hugging Face encoder "
        "directory of the teacher's width ('default' = the packaged MiniLM); its own tokenizer is used",
    )
    parser.add_argument(
        "--student-vocab",
        choices=("own", "xlmr"),
        default="own",
        help="a transformer student's vocabulary: its own, or the packaged XLM-R pieces (trimmed to the "
        "training corpus) with embeddings transplanted from its own (docs/multilingual.md)",
    )
    parser.add_argument(
        "--objective",
        choices=("mse", "mse-rank"),
        default="mse-rank",
        help="mse: the paper's loss; mse-rank (default): plus a ranking loss against every training row's "
        "teacher vector (at 600 steps: 35.8 %% average error against 49.8 %% for mse, docs/multilingual.md)",
    )
    parser.add_argument("--rank-weight", type=float, default=1.0, help="weight of the ranking loss (mse-rank)")
    parser.add_argument(
        "--language-alpha",
        type=float,
        default=0.5,
        help="draw batch languages with probability ∝ sentences**alpha (1: uniform over sentences; "
        "0.5, the default, gives low-resource languages a larger share)",
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from exporter.export import export_bundle
    from training.multilingual.distill import DistillConfig, Objective, StudentVocab, teacher_path, train_distill
    from training.multilingual.export import export_encoder
    from training.multilingual.loop import Outcome
    from training.multilingual.tatoeba import evaluate_bundle

    transformer = args.student != BILSTM
    if args.lr is None:
        args.lr = TRANSFORMER_LR if transformer else BILSTM_LR
    if args.out is None:
        name = "minilm" if args.student == "default" else Path(args.student).name if transformer else BILSTM
        suffix = "-xlmr" if transformer and args.student_vocab == "xlmr" else ""
        args.out = f"models/distill-{name}{suffix}"
    teacher = teacher_path(args.teacher)  # resolved (the default one hashed and built) once per command
    cfg = DistillConfig(
        **common_values(args),
        teacher=str(teacher),
        student=args.student,
        student_vocab=StudentVocab(args.student_vocab),
        objective=Objective(args.objective),
        rank_weight=args.rank_weight,
        language_alpha=args.language_alpha,
    )
    checkpoint, outcome = train_distill(cfg)
    print(f"student checkpoint: {checkpoint}")
    if outcome is Outcome.STOPPED:
        print("stopped early (checkpointed); run the same command again to resume")
        if transformer:  # the student as it stands is a usable encoder too
            print(
                f"to use the student so far: lexsent export {checkpoint} --out DIR --kind multilingual "
                "--pooling mean --normalize"
            )
        return 0
    out = Path(args.out)
    if not transformer:
        bundle = export_encoder(checkpoint, out, name=out.name, architecture="distilled-bilstm")
    else:
        bundle = export_bundle(
            checkpoint,
            out,
            name=out.name,
            kind="multilingual",
            pooling="mean",
            normalize=True,
            languages=["en", *cfg.languages],
            max_length=_max_length(checkpoint, teacher),
        )
    print(f"bundle: {bundle}")
    print(evaluate_bundle(bundle, Path(args.data_dir)))
    return 0


def _max_length(student: Path, teacher: Path) -> int:
    """The teacher's max_length, capped at the positions the student was pre-trained with."""
    from exporter.source import read_source
    from lexsent.manifest import Manifest

    positions = read_source(student).max_length
    length = Manifest.read(teacher).max_length
    return min(length, positions) if positions else length
