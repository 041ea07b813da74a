"""torch → ONNX graph, onnxruntime transformer fusions, and dynamic int8 quantisation."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import onnx
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.transformers.optimizer import optimize_model

from lexsent.padding import IntArray

log = logging.getLogger(__name__)
OPSET = 17


def export_onnx(head: torch.nn.Module, sample: dict[str, IntArray], inputs: list[str], path: Path) -> None:
    """Trace with dynamic batch and sequence axes (for a packed graph: rows, and one output vector per
    input); `inputs` are the graph's, padded (with or without token_type_ids) or packed."""
    args = tuple(torch.from_numpy(sample[name]) for name in inputs)
    axes = {name: {0: "batch", 1: "sequence"} for name in inputs}
    axes["embedding"] = {0: "batch"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            head,
            args,
            str(path),
            dynamo=False,
            input_names=inputs,
            output_names=["embedding"],
            dynamic_axes=axes,
            opset_version=OPSET,
            do_constant_folding=True,
        )
    onnx.checker.check_model(str(path))


def optimize(source: Path, target: Path, num_heads: int, hidden_size: int) -> dict[str, int]:
    """Apply onnxruntime's BERT-pattern transformer fusions (attention, layer norm, GELU) offline; only
    bidirectional encoders get here (`exporter.source.require_bidirectional_encoder`).

    Head count and width come from the model config: auto-detection misses the attention pattern
    of current transformers releases, and an unfused attention costs ~2× on long inputs. Fusions are
    pattern-based, so a graph they do not recognise is saved unchanged (parity is checked after).
    Returns the fused-operator counts.
    """
    optimized = optimize_model(
        str(source), model_type="bert", num_heads=num_heads, hidden_size=hidden_size, opt_level=1
    )
    optimized.save_model_to_file(str(target))
    stats: dict[str, int] = {k: int(v) for k, v in optimized.get_fused_operator_statistics().items() if v}
    log.info("fusions: %s", stats)
    return stats


def _errors_only(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.ERROR


@contextlib.contextmanager
def quiet_quantizer() -> Iterator[None]:
    """Drop what onnxruntime's quantizer logs on the root logger below ERROR: a line per tensor and advice
    to pre-process the model (for static calibration; this export is dynamic and parity-checked), which
    flooded `lexsent export` and a serve's first-run log. Named loggers, lexsent's among them, are
    untouched: a filter on the root logger sees only the records logged on it."""
    root = logging.getLogger()
    root.addFilter(_errors_only)
    try:
        yield
    finally:
        root.removeFilter(_errors_only)


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8: weights quantised per output channel, activations quantised at run time."""
    with quiet_quantizer():
        quantize_dynamic(
            str(source),
            str(target),
            per_channel=True,
            weight_type=QuantType.QInt8,
            # Fused contrib ops defeat ONNX shape inference; their outputs are float32.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
