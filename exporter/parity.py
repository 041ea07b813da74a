"""Compare an ONNX graph against a reference on the probe set and judge it against a tolerance."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from lexsent.errors import ExportError
from lexsent.manifest import Parity
from lexsent.packing import graph_feed
from lexsent.tokenizer import Tokenized

# One run of a model on a batch of tokenised inputs: the torch source pads them, an ONNX graph takes them
# as its inputs say (padded or packed, `lexsent.packing.graph_feed`), so each side is fed its own way.
Runner = Callable[[Sequence[Tokenized]], npt.NDArray[np.float32]]

FP32_MAX_ABS_DIFF = 1e-4
INT8_MIN_MEAN_COSINE = 0.99


def onnx_runner(model: Path, threads: int, pad_id: int) -> Runner:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]

    def run(items: Sequence[Tokenized]) -> npt.NDArray[np.float32]:
        return np.asarray(session.run(["embedding"], graph_feed(names, items, pad_id))[0], dtype=np.float32)

    return run


def _cosines(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    norms = np.linalg.norm(a64, axis=1) * np.linalg.norm(b64, axis=1)
    return np.asarray((a64 * b64).sum(axis=1) / np.maximum(norms, 1e-12))


def measure(reference: Runner, candidate: Runner, batches: Sequence[Sequence[Tokenized]], name: str) -> Parity:
    """Run both on every probe batch; report the worst absolute difference and the cosines."""
    diffs: list[float] = []
    cosines: list[npt.NDArray[np.float64]] = []
    for batch in batches:
        want, got = reference(batch), candidate(batch)
        if want.shape != got.shape:
            raise ExportError(f"parity: output shape {got.shape} differs from reference {want.shape}")
        if not (np.isfinite(want).all() and np.isfinite(got).all()):
            which = f"the source model ({name})" if not np.isfinite(want).all() else "the exported graph"
            raise ExportError(
                f"parity: {which} produces NaN or infinite vectors, so the model's weights are not usable "
                "(a training run that diverged?); bundle not written"
            )
        diffs.append(float(np.abs(want - got).max()))
        cosines.append(_cosines(want, got))
    joined = np.concatenate(cosines)
    return Parity(
        reference=name,
        probes=int(joined.size),
        max_abs_diff=max(diffs),
        mean_cosine=float(joined.mean()),
        min_cosine=float(joined.min()),
    )


def require_fp32(parity: Parity, limit: float | None = None) -> None:
    limit = FP32_MAX_ABS_DIFF if limit is None else limit
    if not parity.max_abs_diff <= limit:
        raise ExportError(
            f"parity failed: max abs diff {parity.max_abs_diff:.3g} against {parity.reference} exceeds "
            f"{limit:.0e} by {parity.max_abs_diff - limit:.3g}; bundle not written"
        )


def require_int8(parity: Parity, limit: float | None = None) -> None:
    limit = INT8_MIN_MEAN_COSINE if limit is None else limit
    if not parity.mean_cosine >= limit:
        raise ExportError(
            f"int8 parity failed: mean cosine {parity.mean_cosine:.4f} to {parity.reference} is below "
            f"{limit} by {limit - parity.mean_cosine:.4f}; int8 bundle not written"
        )
