from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.harness import Running, running_server


@pytest.fixture(scope="module")
def tiny_server(tiny_bundle: Path) -> Iterator[Running]:
    with running_server([tiny_bundle]) as running:
        yield running


def make_certificate(directory: Path, name: str = "cert") -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1 and its key (PEM), made with openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    cert, key = directory / f"{name}.pem", directory / f"{name}-key.pem"
    names = ["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", *names]
    subprocess.run([*command, "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture
def tls_pair(tmp_path: Path) -> tuple[Path, Path]:
    return make_certificate(tmp_path)
