"""Serving needs no torch: `lexsent serve` with torch and transformers made unimportable (as in the
Docker runtime image) answers over HTTP and gRPC with the vectors `lexsent.load(...).encode` gives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import grpc
import httpx
import numpy as np

import lexsent
from server.launch import free_port, wait_ready
from server.proto_gen import embeddings_pb2 as pb
from server.proto_gen import embeddings_pb2_grpc as pb_grpc

REPO = Path(__file__).resolve().parents[2]
# A None entry in sys.modules makes `import torch` raise ImportError, wherever it is attempted.
BLOCKED_SERVE = (
    "import sys\n"
    "for name in ('torch', 'transformers', 'sentence_transformers'): sys.modules[name] = None\n"
    "from cli.main import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def test_serve_runs_without_torch(default_bundle: Path, tmp_path: Path) -> None:
    http_port, grpc_port = free_port(), free_port()
    command = [sys.executable, "-c", BLOCKED_SERVE, "serve", "--model", str(default_bundle), "--threads", "1"]
    command += ["--http-port", str(http_port), "--grpc-port", str(grpc_port), "--data-dir", str(tmp_path)]
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{http_port}"
    try:
        wait_ready(f"{base}/health/ready", process, log=log_path)
        texts = ["open the file", "the printer is offline"]
        expected = lexsent.load(default_bundle, threads=1).encode(texts)
        body = httpx.post(f"{base}/v1/embeddings", json={"input": texts}, timeout=30).json()
        np.testing.assert_allclose([d["embedding"] for d in body["data"]], expected, atol=1e-5)
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            reply = pb_grpc.EmbeddingsStub(channel).Embed(pb.EmbedRequest(texts=pb.Texts(values=texts)), timeout=30)
        np.testing.assert_allclose([list(d.values) for d in reply.data], expected, atol=1e-5)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert process.returncode == 0, log_path.read_text()


def test_the_cached_default_model_is_found_without_torch(default_bundle: Path) -> None:
    """`lexsent serve` / `encode` with no model resolve the default bundle; torch is needed only to export it."""
    data_dir = default_bundle.parent.parent
    command = [sys.executable, "-c", BLOCKED_SERVE, "encode", "--data-dir", str(data_dir), "--threads", "1", "hi"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    expected = lexsent.load(default_bundle, threads=1).encode(["hi"])[0]
    np.testing.assert_allclose(json.loads(done.stdout)["embedding"], expected, atol=1e-5)


def test_serve_without_torch_and_no_exported_default_is_one_line(tmp_path: Path) -> None:
    """A serve-only install asked for the default model it cannot export: what to install, or what to pass
    instead (not a ModuleNotFoundError traceback), exit 2, and no export lock left behind."""
    command = [sys.executable, "-c", BLOCKED_SERVE, "serve", "--threads", "1", "--data-dir", str(tmp_path)]
    done = subprocess.run([*command, "--http-port", "0", "--grpc-port", "0"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("lexsent serve: error: "), done.stderr
    for fragment in (
        f"the default model all-MiniLM-L6-v2 is not exported in {tmp_path / 'models'} yet",
        "needs torch, which is not installed",
        "pip install -e '.[export]' from a checkout",
        "or serve a bundle exported elsewhere with --model / LEXSENT_MODEL or --models-dir / LEXSENT_MODELS_DIR",
    ):
        assert fragment in done.stderr
    assert list((tmp_path / "models").iterdir()) == []
