"""Process-level training runtime: seeds, threads, device, and RNG state snapshots.

Exact resume needs every random source restored (python, numpy, torch CPU, CUDA); keeping capture and
restore side by side here means a trainer cannot snapshot one source and forget another.
States are plain lists/tensors so `torch.load(weights_only=True)` can read them back (no pickle).
"""

from __future__ import annotations

import os
import random
from enum import StrEnum
from typing import Any

import numpy as np
import torch

from lexsent.errors import InvalidInputError


class DeviceChoice(StrEnum):
    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"


def choose_device(choice: DeviceChoice | str = DeviceChoice.AUTO) -> torch.device:
    """CUDA when present (or asked for), else CPU; asking for CUDA without one is an error, not a fallback."""
    choice = DeviceChoice(choice)
    if choice is DeviceChoice.CUDA and not torch.cuda.is_available():
        raise InvalidInputError("--device cuda requested but torch sees no CUDA device")
    if choice is DeviceChoice.CPU or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda")


def set_threads(threads: int | None) -> int:
    """Pin torch intra-op threads (the machine is shared; never let torch grab every core): `--threads`,
    else LEXSENT_THREADS, else OMP_NUM_THREADS (what the Makefile exports), else every core."""
    if threads is not None and threads < 1:  # 0 used to mean "unset", i.e. every core of a shared machine
        raise InvalidInputError(f"--threads must be at least 1, got {threads}")
    from lexsent.encoder import default_threads  # one reading (and refusal) of LEXSENT_THREADS

    n = threads or (default_threads() if "LEXSENT_THREADS" in os.environ else 0)
    n = n or _env_count("OMP_NUM_THREADS") or (os.cpu_count() or 1)
    torch.set_num_threads(n)
    return n


def _env_count(name: str) -> int:
    """A positive count from the environment, else 0 (unset, or a form like OpenMP's nested "4,2")."""
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() else 0


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def capture_rng() -> dict[str, Any]:
    """Snapshot of every global RNG, storable with `torch.save` and loadable with `weights_only=True`."""
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)  # type: ignore[misc]
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def generator_for(seed: int) -> torch.Generator:
    """A private CPU generator (data order, masking) so those draws never depend on model code."""
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen
