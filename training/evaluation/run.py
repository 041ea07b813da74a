"""Runs a set of tasks on one bundle, prints a table, optionally records scores in the manifest."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path

from lexsent.errors import InvalidInputError
from lexsent.manifest import Manifest
from training.evaluation.task import Task


def evaluate(bundle: Path, tasks: Sequence[Task], args: argparse.Namespace) -> dict[str, float]:
    """Scores keyed `<task>.<metric>`; tasks are those named in args.task, else those matching the kind."""
    import lexsent

    manifest = Manifest.read(bundle)
    known = {task.name: task for task in tasks}
    if args.task:
        unknown = [n for n in args.task if n not in known]
        if unknown:
            raise InvalidInputError(f"unknown task(s) {unknown}; choose from {sorted(known)}")
        chosen = [known[n] for n in args.task]
    else:
        chosen = [t for t in tasks if manifest.kind.value in t.kinds]
    encoder = lexsent.load(bundle, threads=args.threads)
    scores: dict[str, float] = {}
    for task in chosen:
        for metric, value in task.run(encoder, args).items():
            if not math.isfinite(value):  # recorded, it would be null, which the manifest schema refuses
                raise InvalidInputError(
                    f"task {task.name} scored {metric} = {value}: check its evaluation data in {args.data_dir}"
                )
            scores[f"{task.name}.{metric}"] = round(value, 4)
    return scores


def record(bundle: Path, scores: dict[str, float]) -> None:
    """Merge scores into lexsent.json (the fingerprint covers model + tokenizer, not the manifest)."""
    manifest = Manifest.read(bundle)
    manifest.evaluation.update(scores)
    manifest.write(bundle)


def run_cli(args: argparse.Namespace, tasks: Sequence[Task]) -> int:
    from exporter.default_model import resolve_bundle

    bundle = resolve_bundle(args.bundle)
    scores = evaluate(bundle, tasks, args)
    width = max((len(k) for k in scores), default=10)
    print(f"{'metric':<{width}}  value   ({Manifest.read(bundle).name})")
    for key, value in scores.items():
        print(f"{key:<{width}}  {value:.4f}")
    if args.json_out:  # first: a bad path then fails before the manifest is touched
        out = Path(args.json_out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(scores, indent=2) + "\n", encoding="utf-8")
    if args.record == "manifest":
        record(bundle, scores)
    return 0
