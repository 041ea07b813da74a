"""`lexsent eval BUNDLE [--task NAME ...]`: score any exported bundle on held-out tasks.

Each module in `TASK_MODULES` exposes `TASKS` (a tuple of `training.evaluation.task.Task`) and may
expose `add_arguments(parser)` for its own options. Without `--task`, every task whose kind
matches the bundle's manifest kind runs. Bundles are loaded with `lexsent.load` (ONNX, no torch), so
the MLM model, a Mirror model and the default MiniLM are compared the same way.
"""

from __future__ import annotations

import argparse
import importlib
from types import ModuleType
from typing import Any

from cli.options import at_least_one

TASK_MODULES = ("training.evaluation.english", "training.multilingual.eval_tasks")


def _modules() -> list[ModuleType]:
    return [importlib.import_module(name) for name in TASK_MODULES]


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("eval", help="evaluate a bundle on held-out retrieval/similarity tasks")
    parser.add_argument("bundle", help="bundle directory (or 'default' for the packaged MiniLM)")
    parser.add_argument("--task", action="append", default=None, help="task name (repeatable); default: by kind")
    parser.add_argument("--data-dir", default="data", help="corpora built by `lexsent data build`")
    parser.add_argument("--threads", type=at_least_one, default=None, help="onnxruntime threads (default: all cores)")
    parser.add_argument(
        "--record",
        choices=("none", "manifest"),
        default="none",
        help="manifest: also write the scores into the bundle's lexsent.json evaluation",
    )
    parser.add_argument("--json", dest="json_out", default=None, help="also write the scores to this JSON file")
    for module in _modules():
        add = getattr(module, "add_arguments", None)
        if add is not None:
            add(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from training.evaluation.run import run_cli

    tasks = [task for module in _modules() for task in module.TASKS]
    return run_cli(args, tasks)
