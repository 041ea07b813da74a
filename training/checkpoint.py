"""Checkpoints for exact resume: model, optimizer, scheduler, RNG states and the data cursor.

Written atomically (temp file + rename) so a run killed mid-save never leaves a corrupt latest
checkpoint, and read with `weights_only=True` so a checkpoint file cannot execute code.
Layout: `<run_dir>/checkpoints/step-<N>.pt`; `latest_checkpoint` picks the highest N. A run directory
holds one run: `prepare_run` refuses to resume a checkpoint made with other settings (it would continue,
or silently return, another run's weights), and a fresh start clears what an earlier run left.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from lexsent.errors import InvalidInputError
from training.progress import LossLog
from training.runtime import capture_rng, restore_rng

_NAME = re.compile(r"^step-(\d+)\.pt$")
RUN_CONFIG = "run_config.json"
TOKENIZER = "tokenizer.json"  # a run's own vocabulary, trained at its start (MLM, LASER, distillation)
# Settings that change how a run executes or where it publishes, not what it computes: a resumed run may
# change them (more threads, another device, a time limit, another export name).
RUNTIME_SETTINGS = frozenset(
    {"threads", "device", "progress", "show_progress", "save_every", "resume", "stop_at", "max_minutes"}
    | {"run_dir", "out", "export", "models_dir", "name"}
)


def checkpoint_dir(run_dir: Path) -> Path:
    return run_dir / "checkpoints"


def save_checkpoint(run_dir: Path, step: int, state: dict[str, Any], *, keep: int = 2) -> Path:
    """Save `state` as step-<step>.pt and prune all but the newest `keep` checkpoints."""
    directory = checkpoint_dir(run_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"step-{step:08d}.pt"
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    for old in sorted(_all(directory))[:-keep]:
        old[1].unlink(missing_ok=True)
    return path


def _all(directory: Path) -> list[tuple[int, Path]]:
    if not directory.is_dir():
        return []
    found = []
    for entry in directory.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry))
    return found


def _identity(settings: dict[str, Any]) -> dict[str, Any]:
    plain: dict[str, Any] = json.loads(json.dumps(settings, default=str))
    return {k: v for k, v in plain.items() if k not in RUNTIME_SETTINGS}


def prepare_run(run_dir: Path, cfg: Any, resume: bool) -> None:
    """Call before any work. Resuming: the settings recorded when the checkpoints were made must match
    `cfg` (a dataclass) except runtime ones, or nothing is touched and the differences are named.
    Starting afresh (`resume` false, or nothing to resume): the checkpoints and the vocabulary an earlier
    run left are removed, so neither can be picked up later. Then `cfg` is recorded in run_config.json."""
    run_dir.mkdir(parents=True, exist_ok=True)
    record = run_dir / RUN_CONFIG
    settings = asdict(cfg)
    if resume and latest_checkpoint(run_dir) is not None:
        if record.exists():  # checkpoints from before this check have no record to compare with
            saved, wanted = _identity(json.loads(record.read_text(encoding="utf-8"))), _identity(settings)
            keys = sorted(saved.keys() | wanted.keys())
            changed = [f"{k}: {saved.get(k)!r} → {wanted.get(k)!r}" for k in keys if saved.get(k) != wanted.get(k)]
            if changed:
                raise InvalidInputError(
                    f"{run_dir} holds checkpoints of a run with other settings ({'; '.join(changed)}). "
                    "Repeat that run's settings to resume it, choose another --run-dir, or pass --resume never "
                    "to start over in this one (its checkpoints are then removed)"
                )
    else:
        for _, path in _all(checkpoint_dir(run_dir)):
            path.unlink()
        given = settings.get("tokenizer")
        own = run_dir / TOKENIZER
        if own.exists() and not (given and Path(given).resolve() == own.resolve()):
            own.unlink()
    record.write_text(json.dumps(settings, indent=2, default=str) + "\n", encoding="utf-8")


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = sorted(_all(checkpoint_dir(run_dir)))
    return found[-1][1] if found else None


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    state: dict[str, Any] = torch.load(path, map_location=device, weights_only=True)
    return state


@dataclass
class TrainingState:
    """What a run restores to continue exactly: model, optimizer, scheduler, RNGs and extra generators.

    One implementation for every trainer (MLM, LASER, distillation), so resume semantics cannot drift.
    """

    run_dir: Path
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    generators: dict[str, torch.Generator] = field(default_factory=dict)

    def resume(self, enabled: bool, log: LossLog) -> int:
        """Load the latest checkpoint (cutting the loss log back to it) or start afresh; returns the step."""
        checkpoint = latest_checkpoint(self.run_dir) if enabled else None
        if checkpoint is None:
            log.path.unlink(missing_ok=True)
            return 0
        # On the CPU: the RNG states must stay CPU byte tensors (torch.set_rng_state refuses others), and
        # load_state_dict copies the weights and optimizer moments onto the model's device itself.
        state = load_checkpoint(checkpoint)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        for name, generator in self.generators.items():
            generator.set_state(state[name].cpu())
        restore_rng(state["rng"])
        step = int(state["step"])
        log.truncate_after(step)
        return step

    def save(self, step: int) -> Path:
        state: dict[str, Any] = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": capture_rng(),
            "step": step,
        }
        state.update({name: generator.get_state() for name, generator in self.generators.items()})
        return save_checkpoint(self.run_dir, step, state)
