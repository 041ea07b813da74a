"""Progress bar plus a JSON-lines loss log (`<run_dir>/loss.jsonl`), one line per logged step.

The log is appended, not rewritten, so a resumed run continues the same curve; on resume
`LossLog.truncate_after(step)` drops lines a killed run wrote past its last checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tqdm import tqdm

LOG_FILE = "loss.jsonl"


class LossLog:
    def __init__(self, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self.path = run_dir / LOG_FILE

    def append(self, step: int, **values: float) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"step": step, **values}) + "\n")

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]

    def truncate_after(self, step: int) -> None:
        kept = [row for row in self.read() if row["step"] <= step]
        self.path.write_text("".join(json.dumps(row) + "\n" for row in kept), encoding="utf-8")


def progress(total: int, initial: int = 0, desc: str = "train", enabled: bool = True) -> tqdm[Any]:
    """The one progress-bar style used by every trainer (steps, rate, ETA)."""
    return tqdm(total=total, initial=initial, desc=desc, unit="step", disable=not enabled, dynamic_ncols=True)
