"""The container's HEALTHCHECK (`python -m server.healthcheck`), run as Docker runs it against real servers:
plain HTTP and TLS, with `--allowed-hosts` set, bound as the container binds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from server import healthcheck
from server.launch import free_port
from server.lifecycle import State
from server.settings import ServerSettings, option
from tests.server.conftest import make_certificate
from tests.server.harness import running_server

REPO = Path(__file__).resolve().parents[2]


def run_probe(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEXSENT_")}
    command = [sys.executable, "-m", "server.healthcheck"]
    return subprocess.run(command, cwd=REPO, env={**clean, **env}, capture_output=True, text=True, timeout=30)


def test_the_dockerfile_runs_this_probe() -> None:
    instruction = (REPO / "Dockerfile").read_text().split("\nHEALTHCHECK ", 1)[1].replace("\\\n", " ")
    assert instruction.splitlines()[0].split(" CMD ", 1)[1].strip() == '["python", "-m", "server.healthcheck"]'


def test_it_reads_the_servers_own_variables_and_defaults() -> None:
    """Stdlib only (no settings object), so the names and defaults are spelt out: held equal here."""
    source = Path(healthcheck.__file__).read_text()
    for field in ("host", "http_port", "tls_cert"):
        assert f'"{option(field).split(" / ")[1]}"' in source
    fields = ServerSettings.model_fields
    assert fields["host"].default == healthcheck.DEFAULT_HOST
    assert fields["http_port"].default == healthcheck.DEFAULT_HTTP_PORT


def test_plain_http_with_an_allowed_hosts_list(tiny_bundle: Path) -> None:
    with running_server([tiny_bundle], allowed_hosts=["api.example.org"]) as running:
        port = str(running.settings.http_port)
        done = run_probe(LEXSENT_HOST="0.0.0.0", LEXSENT_HTTP_PORT=port, LEXSENT_ALLOWED_HOSTS="api.example.org")
        assert done.returncode == 0, done.stderr


def test_tls_is_probed_over_https_trusting_the_configured_certificate(
    tiny_bundle: Path, tls_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    cert, key = tls_pair
    with running_server([tiny_bundle], tls_cert=cert, tls_key=key, allowed_hosts=["api.example.org"]) as running:
        env = {"LEXSENT_HOST": "0.0.0.0", "LEXSENT_HTTP_PORT": str(running.settings.http_port)}
        done = run_probe(**env, LEXSENT_TLS_CERT=str(cert), LEXSENT_TLS_KEY=str(key))
        assert done.returncode == 0, done.stderr
        plain = run_probe(**env)  # the probe before TLS was taken into account
        assert plain.returncode == 1 and plain.stderr.startswith("unhealthy: ")
        other, _ = make_certificate(tmp_path, "other")  # not the certificate this server presents
        wrong = run_probe(**env, LEXSENT_TLS_CERT=str(other))
        assert wrong.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in wrong.stderr


def test_a_ca_issued_certificate_for_a_public_name(tiny_bundle: Path, tmp_path: Path) -> None:
    """The usual production certificate: issued by a CA (not in the file), naming the public name, not
    127.0.0.1. The probe pins the leaf and does not check the name."""
    ca, ca_key = make_certificate(tmp_path, "ca")
    key, request, leaf = tmp_path / "leaf-key.pem", tmp_path / "leaf.csr", tmp_path / "leaf.pem"
    (tmp_path / "san.ext").write_text("subjectAltName=DNS:api.example.org\n")
    openssl = ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=api.example.org"]
    subprocess.run([*openssl, "-keyout", str(key), "-out", str(request)], check=True, capture_output=True)
    sign = ["openssl", "x509", "-req", "-in", str(request), "-CA", str(ca), "-CAkey", str(ca_key)]
    sign += ["-CAcreateserial", "-days", "1", "-extfile", str(tmp_path / "san.ext"), "-out", str(leaf)]
    subprocess.run(sign, check=True, capture_output=True)
    with running_server([tiny_bundle], tls_cert=leaf, tls_key=key) as running:
        done = run_probe(LEXSENT_HTTP_PORT=str(running.settings.http_port), LEXSENT_TLS_CERT=str(leaf))
        assert done.returncode == 0, done.stderr


def test_no_server_is_unhealthy() -> None:
    done = run_probe(LEXSENT_HTTP_PORT=str(free_port()))
    assert done.returncode == 1 and done.stderr.startswith("unhealthy: ")


def test_a_draining_server_is_unhealthy(tiny_bundle: Path) -> None:
    with running_server([tiny_bundle]) as running:
        running.service.core.lifecycle.state = State.DRAINING  # as on SIGTERM: readiness 503
        with pytest.raises(OSError, match="503"):
            healthcheck.probe("127.0.0.1", running.settings.http_port, None)


@pytest.mark.parametrize(
    ("host", "address"),
    [("0.0.0.0", "127.0.0.1"), ("", "127.0.0.1"), ("::", "[::1]"), ("10.1.2.3", "10.1.2.3"), ("::1", "[::1]")],
)
def test_where_a_bound_server_is_probed(host: str, address: str) -> None:
    assert healthcheck.probe_address(host) == address
