"""The graph steps' side effects: int8 quantisation keeps onnxruntime's quantizer out of the logs."""

from __future__ import annotations

import logging
from pathlib import Path

import onnx
import pytest
from onnxruntime.quantization import QuantType, quantize_dynamic

from exporter import graph
from exporter.graph import quantize_int8


def test_int8_quantisation_is_quiet_but_keeps_named_loggers(
    tiny_bundle: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """onnxruntime's per-tensor INFO lines and its advice to pre-process (a WARNING), logged on the root
    logger, are dropped (they flooded `lexsent export` and a serve's first-run log); named loggers are not."""
    with caplog.at_level(logging.INFO):  # what there is to quiet: the same call, unwrapped
        quantize_dynamic(
            str(tiny_bundle / "model.onnx"),
            str(tmp_path / "loud.onnx"),
            per_channel=True,
            weight_type=QuantType.QInt8,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    assert any(r.name == "root" and r.levelno == logging.INFO for r in caplog.records)
    assert any(r.name == "root" and "pre-processing" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.INFO), graph.quiet_quantizer():
        quantize_int8(tiny_bundle / "model.onnx", tmp_path / "quiet.onnx")
        logging.getLogger("exporter.graph").info("own line")
    assert [(r.name, r.getMessage()) for r in caplog.records] == [("exporter.graph", "own line")]
    caplog.clear()
    with caplog.at_level(logging.INFO):
        quantize_int8(tiny_bundle / "model.onnx", tmp_path / "again.onnx")
    assert [r for r in caplog.records if r.name == "root"] == []
    assert graph._errors_only not in logging.getLogger().filters  # removed again
