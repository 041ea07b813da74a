"""SIGTERM on a real `lexsent serve` process: in-flight requests all finish, new ones get 503, exit 0; a
request that outlives --drain-timeout gets a proper 503 and the process still exits promptly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import httpx
import pytest

from server.launch import free_port, wait_ready
from server.proto_gen import embeddings_pb2 as pb
from server.proto_gen import embeddings_pb2_grpc as pb_grpc
from tests.server.harness import read_response

REPO = Path(__file__).resolve().parents[2]


def admitted(client: httpx.Client, base: str) -> tuple[float, float]:
    """(requests in flight, embed requests finished) from /metrics."""
    running = done = 0.0
    for line in client.get(f"{base}/metrics").text.splitlines():
        if line.startswith("lexsent_requests_in_flight "):
            running = float(line.split()[1])
        elif line.startswith('lexsent_requests_total{operation="embeddings.embed"'):
            done += float(line.split()[1])
    return running, done


def serve(bundle: Path, log_path: Path, drain_timeout: float) -> tuple[subprocess.Popen[bytes], str, str]:
    http_port, grpc_port = free_port(), free_port()
    env = {  # settings through the environment, the way a container would pass them
        **os.environ,
        "LEXSENT_THREADS": "1",
        "LEXSENT_DRAIN_TIMEOUT": str(drain_timeout),
        "LEXSENT_MAX_BATCH_TOKENS": "64",
        "LEXSENT_HTTP_PORT": str(http_port),
        "LEXSENT_GRPC_PORT": str(grpc_port),
        "LEXSENT_DATA_DIR": str(log_path.parent / "data"),  # collections go here, not into the user's data dir
    }
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", "--model", str(bundle), "--max-batch-tokens", "64"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{http_port}"
    wait_ready(f"{base}/health/ready", process, timeout=30, log=log_path)
    return process, base, f"127.0.0.1:{grpc_port}"


def test_sigterm_drains_in_flight_requests(default_bundle: Path, tmp_path: Path) -> None:
    process, base, _ = serve(default_bundle, tmp_path / "serve.log", drain_timeout=20)
    try:
        # Enough work that requests are still queued or running when the signal lands.
        texts = ["a fairly long sentence about draining servers " * 6] * 16
        client = httpx.Client(timeout=60)  # one shared client: building 16 SSL contexts is slow

        def call() -> int:
            return client.post(f"{base}/v1/embeddings", json={"input": texts}).status_code

        with ThreadPoolExecutor(16) as pool:
            futures = [pool.submit(call) for _ in range(16)]
            # Signal once all 16 have reached the service (a request the signal beats is rightly refused)
            # while some are still running.
            while sum(counts := admitted(client, base)) < 16:
                time.sleep(0.01)
            process.send_signal(signal.SIGTERM)
            assert counts[0] >= 1, f"all requests finished before the signal: {counts}"
            while client.get(f"{base}/health/ready").status_code == 200:
                time.sleep(0.01)
            late = client.get(f"{base}/health/ready")
            refused = client.post(f"{base}/v1/embeddings", json={"input": "late"})
            statuses = [f.result() for f in futures]
        assert statuses == [200] * 16
        assert late.status_code == 503 and late.json() == {"status": "draining"}
        assert refused.status_code == 503 and refused.json()["error"]["type"] == "unavailable"
        assert refused.headers["retry-after"] == "1"
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_a_request_past_the_drain_timeout_gets_a_503(default_bundle: Path, tmp_path: Path) -> None:
    log_path = tmp_path / "serve.log"
    process, base, grpc_target = serve(default_bundle, log_path, drain_timeout=1)
    try:
        long_texts = ["words " * 300] * 128  # 128 runs of 256 tokens on one thread: several seconds
        stub = pb_grpc.EmbeddingsStub(grpc.insecure_channel(grpc_target))
        points = [{"id": i, "text": text} for i, text in enumerate(long_texts)]
        with httpx.Client(timeout=60) as client, ThreadPoolExecutor(3) as pool:
            assert client.post(f"{base}/v1/collections", json={"name": "late"}).status_code == 200
            pending = pool.submit(client.post, f"{base}/v1/embeddings", json={"input": long_texts})
            over_grpc = pool.submit(stub.Embed.with_call, pb.EmbedRequest(texts=pb.Texts(values=long_texts)))
            write = pool.submit(client.post, f"{base}/v1/collections/late/points", json={"points": points})
            while admitted(client, base)[0] < 3:
                time.sleep(0.01)
            signalled = time.monotonic()
            process.send_signal(signal.SIGTERM)
            answer = pending.result()
            with pytest.raises(grpc.RpcError) as refused:
                over_grpc.result()
            written = write.result()
        assert written.status_code == 503 and "may still have been applied" in written.json()["error"]["message"]
        assert "retry-after" not in written.headers  # it may have been applied: clients must not repeat it
        assert answer.status_code == 503, answer.text
        assert (
            answer.json()["error"]["type"] == "unavailable" and "--drain-timeout" in answer.json()["error"]["message"]
        )
        assert answer.headers["x-request-id"]
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE and "--drain-timeout" in refused.value.details()
        assert ("lexsent-retryable", "1") in tuple(refused.value.trailing_metadata())
        assert process.wait(timeout=30) == 0
        # drain (1 s), the cut-off requests' moment to answer (1 s), listeners and workers: not the whole batch
        assert time.monotonic() - signalled < 6
        logged = log_path.read_text()
        assert '"operation": "embeddings.embed"' in logged and '"status": "unavailable"' in logged
        assert "Traceback" not in logged
    finally:
        if process.poll() is None:
            process.kill()


def test_an_upload_still_arriving_when_the_drain_runs_out_gets_a_503(default_bundle: Path, tmp_path: Path) -> None:
    log_path = tmp_path / "serve.log"
    process, base, _ = serve(default_bundle, log_path, drain_timeout=1)
    host, port = base.removeprefix("http://").split(":")
    try:
        body = json.dumps({"input": ["an upload that never finishes"] * 50}).encode()
        with socket.create_connection((host, int(port)), timeout=10) as upload:
            upload.sendall(
                f"POST /v1/embeddings HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\n\r\n".encode()
                + body[: len(body) // 2]
            )
            time.sleep(0.5)  # the route is reading the body; the rest never comes
            signalled = time.monotonic()
            process.send_signal(signal.SIGTERM)
            answer = read_response(upload)
        head, _, payload = answer.partition("\r\n\r\n")
        assert head.startswith("HTTP/1.1 503"), answer
        error = json.loads(payload)["error"]
        assert error["type"] == "unavailable" and "while the request body was arriving" in error["message"]
        assert "retry-after: 1" in head.lower()
        assert process.wait(timeout=30) == 0
        assert time.monotonic() - signalled < 6  # the drain (1 s) and the cut-off's grace, not --request-timeout
        assert "Traceback" not in log_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()
