"""Pad tokenised inputs into the int64 arrays every bundle graph takes (shared by runtime and exporter)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from lexsent.tokenizer import Tokenized

IntArray = npt.NDArray[np.int64]


def pad_batch(items: Sequence[Tokenized], pad_id: int) -> dict[str, IntArray]:
    """Right-pad to the longest item: `input_ids`, `attention_mask`, `token_type_ids`."""
    width = max(len(t) for t in items)
    ids = np.full((len(items), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(items), width), dtype=np.int64)
    types = np.zeros((len(items), width), dtype=np.int64)
    for row, tok in enumerate(items):
        n = len(tok)
        ids[row, :n] = tok.ids
        mask[row, :n] = 1
        types[row, :n] = tok.type_ids
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
