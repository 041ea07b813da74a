"""A server as a child process: a free loopback port, and a wait for its readiness URL that fails with
the end of the child's log. For the serving benchmark, `make demo-train`'s check and the tests that need
a real `lexsent serve` process (signals, crashes, a torch-free interpreter)."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(log: Path | None) -> str:
    return f":\n{log.read_text(errors='replace')[-3000:]}" if log is not None and log.exists() else ""


def wait_ready(url: str, process: subprocess.Popen[bytes], *, timeout: float = 60, log: Path | None = None) -> None:
    """Poll `url` every 50 ms until it answers 200 (a 503 while models load is polled like a refused
    connection); raise RuntimeError, with the end of `log`, if the process exits or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before {url} was ready{_tail(log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} was not ready after {timeout:g} s{_tail(log)}")
        time.sleep(0.05)
