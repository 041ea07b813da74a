"""The container's HEALTHCHECK: `python -m server.healthcheck` exits 0 when the server in this container
answers `GET /health/ready` with 200, else 1 with the reason on stderr.

It reads the variables the server reads (`LEXSENT_HOST`, `LEXSENT_HTTP_PORT`, `LEXSENT_TLS_CERT`), so a
container with TLS on or another port is probed as it serves (settings given as flags to `lexsent serve`
instead are not seen). Only the standard library, not the settings object: this runs every few seconds,
and importing pydantic and onnxruntime would cost about a second of CPU each time.

- Address: loopback when the server binds every interface (`0.0.0.0`, `::`) or loopback, else the
  address it binds.
- `Host: localhost`, a name the Host check answers whatever `--allowed-hosts` lists.
- TLS: https trusting only the configured certificate (`--tls-cert` as the sole CA; a partial chain is
  accepted, so a leaf issued by a real CA works too). The hostname is not checked: the probe dials its
  own container's loopback address, which the certificate does not name (it names the public one), and
  nothing sits between the probe and the server to impersonate it; pinning the certificate still shows
  that what answered holds its key.
"""

from __future__ import annotations

import os
import ssl
import sys
import urllib.request

DEFAULT_HOST = "127.0.0.1"  # ServerSettings' defaults (tests/server/test_healthcheck.py holds them equal)
DEFAULT_HTTP_PORT = 8080
TIMEOUT = 2.0  # seconds; the Dockerfile's HEALTHCHECK --timeout is 3 s


def probe_address(host: str) -> str:
    """Where to reach a server bound to `host` from inside its own container, as a URL's host part."""
    host = host.strip().strip("[]")
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def tls_context(cert: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cert)
    context.check_hostname = False  # see the module docstring: a loopback self-probe of a pinned certificate
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # the configured leaf itself is the trust anchor
    context.verify_flags &= ~ssl.VERIFY_X509_STRICT  # a CA-less self-signed certificate lacks what strict wants
    return context


def probe(host: str, port: int, cert: str | None, timeout: float = TIMEOUT) -> None:
    """Raise (URLError, OSError, HTTPError for a non-2xx answer) unless the server is ready."""
    scheme = "https" if cert else "http"
    request = urllib.request.Request(
        f"{scheme}://{probe_address(host)}:{port}/health/ready", headers={"Host": "localhost"}
    )
    context = tls_context(cert) if cert else None
    with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
        if response.status != 200:
            raise OSError(f"/health/ready answered {response.status}")


def main() -> int:
    env = os.environ
    try:
        port = int(env.get("LEXSENT_HTTP_PORT") or DEFAULT_HTTP_PORT)
        probe(env.get("LEXSENT_HOST") or DEFAULT_HOST, port, env.get("LEXSENT_TLS_CERT") or None)
    except (OSError, ValueError) as exc:  # urllib's errors and ssl.SSLError are OSErrors
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
