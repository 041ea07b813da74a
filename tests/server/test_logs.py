"""The background log writer keeps every line, in order, each with the request id of the code that logged it."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import threading
from pathlib import Path

from server.logs import BackgroundHandler, JsonFormatter, TextFormatter, new_request_id, request_id


def test_lines_keep_order_and_their_request_ids_across_threads() -> None:
    stream = io.StringIO()
    handler = BackgroundHandler(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("test-background-handler")
    log.propagate = False
    log.handlers = [handler]
    log.setLevel(logging.INFO)

    def emit(name: str) -> None:
        token = request_id.set(f"rid-{name}")
        try:
            for i in range(500):
                log.info("%s %d", name, i, extra={"fields": {"n": i}})
        finally:
            request_id.reset(token)

    threads = [threading.Thread(target=emit, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    handler.close()  # drains the queue before returning

    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(entries) == 1000
    for name in ("a", "b"):
        mine = [e for e in entries if e["msg"].startswith(name + " ")]
        assert [e["n"] for e in mine] == list(range(500))
        assert {e["request_id"] for e in mine} == {f"rid-{name}"}


def test_a_record_that_cannot_be_formatted_does_not_stop_the_writer() -> None:
    stream = io.StringIO()
    handler = BackgroundHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.handleError = lambda record: None  # type: ignore[method-assign]
    bad = logging.LogRecord("x", logging.INFO, __file__, 1, "bad", None, None)
    bad.created = "not a time"  # type: ignore[assignment]  # formatTime raises on it
    good = logging.LogRecord("x", logging.INFO, __file__, 2, "good", None, None)
    handler.emit(bad)
    handler.emit(good)
    handler.close()
    lines = stream.getvalue().splitlines()
    assert [json.loads(line)["msg"] for line in lines] == ["good"]


def test_request_ids_are_the_callers_or_fresh_and_unique() -> None:
    assert new_request_id("trace-42") == "trace-42"
    assert new_request_id("x" * 129) != "x" * 129  # too long: replaced
    assert new_request_id("bad\nid") != "bad\nid"  # not printable: replaced
    forged = "x operation=collections.delete status=ok"  # would pass for fields in a text log line
    assert new_request_id(forged) != forged
    for plain in ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "9b2c1f0e-7c4e-4b1a-9d8e-2f6a1c3b5d7e"):
        assert new_request_id(plain) == plain  # W3C traceparent, UUID
    fresh = [new_request_id(None) for _ in range(10_000)]
    assert len(set(fresh)) == len(fresh)
    assert all(len(rid) == 32 and int(rid, 16) >= 0 for rid in fresh)


def test_text_lines_carry_the_request_id_and_fields() -> None:
    stream = io.StringIO()
    handler = BackgroundHandler(stream)
    handler.setFormatter(TextFormatter())
    token = request_id.set("rid-text")
    try:
        record = logging.LogRecord("lexsent.server", logging.INFO, __file__, 1, "embeddings.embed ok", None, None)
        record.fields = {"operation": "embeddings.embed", "model": "m", "status": "ok", "ms": 3.5}
        handler.emit(record)
    finally:
        request_id.reset(token)
    handler.close()
    line = stream.getvalue().strip()
    fields = "request_id=rid-text operation=embeddings.embed model=m status=ok ms=3.5"
    assert line.endswith(f"INFO lexsent.server embeddings.embed ok {fields}")


def test_text_fields_that_could_pass_for_other_fields_are_quoted() -> None:
    stream = io.StringIO()
    handler = BackgroundHandler(stream)
    handler.setFormatter(TextFormatter())
    record = logging.LogRecord("lexsent.server", logging.INFO, __file__, 1, "x", None, None)
    record.fields = {"model": 'a status=ok "b"', "note": "line\nbreak", "empty": ""}
    handler.emit(record)
    handler.close()
    line = stream.getvalue().strip()
    assert line.endswith('model="a status=ok \\"b\\"" note="line\\nbreak" empty=""') and "\n" not in line


REPO = Path(__file__).resolve().parents[2]
QUANTIZE_UNDER = """
import logging, sys
from pathlib import Path
if sys.argv[1] == "serve":
    from server import logs
    from server.settings import LogFormat
    logs.configure(LogFormat.JSON)
else:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic
# onnxruntime's quantizer unwrapped (exporter.graph quiets it itself): a library that logs on the root logger
quantize_dynamic(sys.argv[2], sys.argv[3], per_channel=True, weight_type=QuantType.QInt8,
                 extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
logging.getLogger("lexsent.server").info("own line")
logging.getLogger("exporter.export").info("exporter line")
logging.getLogger().error("a root error")
logging.shutdown()
"""


def test_the_quantizers_info_lines_stay_out_of_the_server_log(tiny_bundle: Path, tmp_path: Path) -> None:
    """A library's INFO chatter on the root logger (onnxruntime's quantizer: one line per tensor, as in
    the default model's first-run export inside `lexsent serve`) stays out of the JSON log, while
    lexsent's own lines and a root error stay."""

    def quantize(setup: str) -> str:
        command = [sys.executable, "-c", QUANTIZE_UNDER, setup, str(tiny_bundle / "model.onnx"), str(tmp_path / setup)]
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stderr

    plain = quantize("plain")  # what the quantizer writes to a log that takes everything
    assert sum(line.startswith("INFO root ") for line in plain.splitlines()) >= 5
    lines = [json.loads(line) for line in quantize("serve").splitlines()]
    noisy = [e for e in lines if e["level"] == "info" and not e["logger"].startswith(("lexsent", "exporter"))]
    assert noisy == []
    assert [e["msg"] for e in lines if e["level"] == "info"] == ["own line", "exporter line"]
    assert {"level": "error", "logger": "root", "msg": "a root error"}.items() <= lines[-1].items()  # still shown
