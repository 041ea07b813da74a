"""Benchmark results on disk: each JSON file carries the arguments it was measured with, so a number
read back later can be matched to the command that produced it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def write_result(path: Path, args: argparse.Namespace, **results: Any) -> None:
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"args": settings, **results}, indent=2))
