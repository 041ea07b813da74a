"""`lexsent serve` start-up and shutdown as an operator sees them: a setting that cannot work is one
`lexsent serve: error:` line naming the flag and its variable, with exit code 2 (no traceback, nothing
served), and the logs report what actually happened (the bound port, the requests a drain cut off)."""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.launch import free_port
from tests.server.harness import Gate, running_server

REPO = Path(__file__).resolve().parents[2]


def serve(*flags: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cli.main", "serve", "--threads", "1", "--data-dir", str(data_dir), *flags]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("lexsent serve: error: "), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another process listens on, with SO_REUSEPORT set as grpc sets it on its own sockets (so a
    second gRPC server would otherwise share the port and take part of its calls)."""
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_a_models_dir_that_is_not_a_directory_names_its_variable(tmp_path: Path) -> None:
    result = serve("--models-dir", str(tmp_path / "absent"), data_dir=tmp_path / "data")
    assert_one_line_error(result, f"--models-dir / LEXSENT_MODELS_DIR: {tmp_path / 'absent'} is not a directory")


def test_an_empty_models_dir_is_refused_not_replaced_by_the_default_model(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    result = serve("--models-dir", str(tmp_path / "models"), data_dir=tmp_path / "data")
    assert_one_line_error(
        result, f"--models-dir / LEXSENT_MODELS_DIR: {tmp_path / 'models'} holds no bundle", "lexsent.json"
    )
    assert not (tmp_path / "data").exists()  # the default model was not exported


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_a_port_in_use_is_one_line(tiny_bundle: Path, tmp_path: Path, taken_port: int, transport: str) -> None:
    ports = {"http": "0", "grpc": "0", transport: str(taken_port)}
    result = serve(
        "--model", str(tiny_bundle), "--http-port", ports["http"], "--grpc-port", ports["grpc"], data_dir=tmp_path
    )
    assert_one_line_error(
        result, f"127.0.0.1:{taken_port}", f"--{transport}-port / LEXSENT_{transport.upper()}_PORT", "in use"
    )


def test_a_host_that_does_not_resolve_is_one_line(tiny_bundle: Path, tmp_path: Path) -> None:
    flags = ["--host", "999.1.1.1", "--http-port", "0", "--grpc-port", "0"]
    result = serve("--model", str(tiny_bundle), *flags, data_dir=tmp_path)
    assert_one_line_error(result, "999.1.1.1", "--host / LEXSENT_HOST")


def test_tls_files_that_are_not_pem_are_one_line(tiny_bundle: Path, tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("not a certificate\n")
    (tmp_path / "key.pem").write_text("not a key\n")
    flags = ["--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "key.pem")]
    result = serve("--model", str(tiny_bundle), "--http-port", "0", "--grpc-port", "0", *flags, data_dir=tmp_path)
    assert_one_line_error(result, "LEXSENT_TLS_CERT", "not a readable PEM certificate")
    assert "bind" not in result.stderr


def test_port_zero_logs_the_bound_port(tiny_bundle: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "cli.main", "serve", "--model", str(tiny_bundle), "--threads", "1"]
    command += ["--http-port", "0", "--grpc-port", "0", "--log-format", "text", "--data-dir", str(tmp_path)]
    process = subprocess.Popen(command, cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        line = next(line for line in process.stderr if " serving " in line)
        port = int(line.split("http://127.0.0.1:")[1].split()[0])
        assert port != 0
        assert httpx.get(f"http://127.0.0.1:{port}/health/ready").status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert process.returncode == 0


def test_the_drain_warning_counts_the_requests_it_cut_off(tiny_bundle: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Counted when --drain-timeout expires, not after the cut-off requests have ended (always 0)."""
    answers: list[int] = []

    def call(url: str) -> None:
        answers.append(httpx.post(f"{url}/v1/embeddings", json={"input": "a"}, timeout=30).status_code)

    with (
        caplog.at_level(logging.WARNING, logger="lexsent.server"),
        running_server([tiny_bundle]) as running,
        Gate(running, "tiny-bert") as gate,
    ):
        running.settings.drain_timeout = 0.2  # the harness's is 5 s
        request = threading.Thread(target=call, args=(running.http_url,))
        request.start()
        assert gate.entered.wait(timeout=30)  # the request's batch is held: it outlives the drain
        running.loop.call_soon_threadsafe(running.runner.request_shutdown)
        request.join(timeout=30)
    assert answers == [503]
    warnings = [r.getMessage() for r in caplog.records if r.name == "lexsent.server" and r.levelno >= logging.WARNING]
    assert warnings == ["drain timeout: 1 requests still in flight, cut off"]


def test_a_data_dir_another_server_holds_stops_the_start(tiny_bundle: Path, tmp_path: Path) -> None:
    """Not a ready server whose every collection call is a retryable 503 that never clears."""
    from lexsent.collections import CollectionConfig, CollectionStore

    data_dir = tmp_path / "data"
    store = CollectionStore(data_dir / "collections")
    store.create(CollectionConfig("kept", 3))
    store.close()
    command = [sys.executable, "-m", "cli.main", "serve", "--model", str(tiny_bundle), "--threads", "1"]
    command += ["--http-port", "0", "--grpc-port", "0", "--log-format", "text", "--data-dir", str(data_dir)]
    first = subprocess.Popen(command, cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        assert first.stderr is not None
        next(line for line in first.stderr if " serving " in line)  # it has opened (and locked) the collections
        http_port = free_port()
        ports = ["--http-port", str(http_port), "--grpc-port", "0"]
        result = serve("--model", str(tiny_bundle), *ports, data_dir=data_dir)
        assert_one_line_error(
            result,
            f"--data-dir / LEXSENT_DATA_DIR: the collections in {data_dir / 'collections'} are in use by another "
            f"process (pid {first.pid}), which holds {data_dir / 'collections' / '.lock'}",
            "stop it, or give this server another --data-dir / LEXSENT_DATA_DIR",
        )
        with pytest.raises(httpx.ConnectError):  # nothing was served, even for a moment
            httpx.get(f"http://127.0.0.1:{http_port}/health/ready")
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)
    assert first.returncode == 0
    store = CollectionStore(data_dir / "collections")  # released at the first server's exit
    assert store.get("kept").config.dim == 3
    store.close()


def test_a_default_model_that_is_not_served_names_its_variable(
    tiny_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEXSENT_DEFAULT_MODEL", "nope")  # the container sets it; a flag is named the same way
    result = serve("--model", str(tiny_bundle), "--http-port", "0", "--grpc-port", "0", data_dir=tmp_path)
    assert_one_line_error(result, "--default-model / LEXSENT_DEFAULT_MODEL: 'nope' is not served; served: tiny-bert")
