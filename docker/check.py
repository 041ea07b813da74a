"""Checks a built lexsent image from the outside, as a user runs it (`make docker-check`).

Runs the image with both ports published on loopback and a named volume on /data, then checks what
the Dockerfile promises: HEALTHCHECK turns healthy, a non-root user, no torch, HTTP and gRPC answer
with the vectors this checkout's own export gives, SIGTERM (`docker stop`) lets in-flight requests
finish and exits 0, and a collection written to /data survives a new container. Then a container with TLS
and an allowed-hosts list set through the environment: HEALTHCHECK turns healthy over https, HTTPS and gRPC
over TLS answer with the same vectors, and a foreign Host is refused. Exits 1 on a failure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable

import grpc
import httpx
import numpy as np
from lexsent_client import Client, GrpcClient
from lexsent_client.proto_gen import embeddings_pb2, embeddings_pb2_grpc

TEXTS = [
    "The cat sits on the mat.",
    "Reset your password from the account settings page.",
    "un café, s'il vous plaît",
    "a member of the genus Canis that has been domesticated by man since prehistoric times",
]
TOLERANCE = 1e-4  # max |Δ| between the container's and the host's fp32 vectors (same export, same weights)
STEPS = 7
# The TLS step's public name: the only name its certificate carries and the one LEXSENT_ALLOWED_HOSTS lists.
# Clients dial the published loopback port but present this name (SNI, certificate check, Host), as they
# would through DNS; the HEALTHCHECK dials 127.0.0.1 inside, which the certificate does not name.
PUBLIC_NAME = "api.example.org"


class CheckError(Exception):
    """A check did not hold; the message says what was seen."""


def docker(*args: str, check: bool = True) -> str:
    """Run the docker CLI (`$DOCKER`, default `docker`); its stdout, or stdout + stderr for `logs`."""
    done = subprocess.run([os.environ.get("DOCKER", "docker"), *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise CheckError(f"docker {' '.join(args)}: {done.stderr.strip()}")
    return (done.stdout + done.stderr if args[0] == "logs" else done.stdout).strip()


def start(image: str, name: str, *options: str, scheme: str = "http") -> tuple[str, str]:
    """Run the image detached with `docker run` options (-v, -e); return its HTTP base URL and gRPC target
    on loopback."""
    docker("run", "-d", "--name", name, "-p", "127.0.0.1::8080", "-p", "127.0.0.1::50051",
           "-e", "LEXSENT_THREADS=2", *options, image)  # fmt: skip
    http = docker("port", name, "8080/tcp").splitlines()[0]
    grpc_target = docker("port", name, "50051/tcp").splitlines()[0]
    return f"{scheme}://{http}", grpc_target


def wait_healthy(name: str, timeout: float) -> float:
    """Seconds until Docker's own HEALTHCHECK reports healthy."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        status = docker("inspect", "-f", "{{.State.Health.Status}}", name)
        if status == "healthy":
            return time.monotonic() - began
        if docker("inspect", "-f", "{{.State.Running}}", name) != "true":
            raise CheckError(f"container exited before healthy:\n{docker('logs', name, check=False)[-2000:]}")
        time.sleep(0.5)
    probes = json.loads(docker("inspect", "-f", "{{json .State.Health.Log}}", name) or "null") or []
    last = f"; last probe: {probes[-1]['Output'].strip()[-500:]!r}" if probes else ""  # a traceback's end
    raise CheckError(f"not healthy after {timeout:.0f} s (last status {status!r}{last})")


def reference_vectors() -> np.ndarray:
    """The host's fp32 export of the default model: what the image's builder should have produced."""
    import lexsent
    from exporter.default_model import ensure_default_model
    from lexsent.settings import CoreSettings

    return lexsent.load(ensure_default_model(CoreSettings().data_dir), threads=2).encode(TEXTS)


def check_process(name: str) -> str:
    uid = docker("exec", name, "id", "-u")
    if uid == "0":
        raise CheckError("the server runs as root")
    probe = "import importlib.util as u, sys; sys.exit(u.find_spec('torch') is not None)"
    try:
        docker("exec", name, "python", "-c", probe)
    except CheckError:
        raise CheckError("torch is importable in the runtime image") from None
    return f"uid {uid}, torch absent"


def deviation(expected: np.ndarray, **got: np.ndarray) -> float:
    """The largest |Δ| of each transport's vectors (keyword: its name) from the host export; a wrong shape
    or a deviation over TOLERANCE is a CheckError."""
    for transport, vectors in got.items():
        if vectors.shape != expected.shape:
            raise CheckError(f"{transport} vectors have shape {vectors.shape}, not {expected.shape}")
    worst = max(float(np.abs(vectors - expected).max()) for vectors in got.values())
    if worst > TOLERANCE:
        raise CheckError(f"{' and '.join(got)} vectors differ from the host export by {worst:.2e} (> {TOLERANCE})")
    return worst


def check_vectors(http: str, grpc: str, expected: np.ndarray) -> str:
    with Client(http) as client:
        models = [m.name for m in client.models()]
        over_http = np.asarray(client.embed(TEXTS).vectors, dtype=np.float32)
    with GrpcClient(grpc) as client:
        over_grpc = np.asarray(client.embed(TEXTS).vectors, dtype=np.float32)
    if "all-MiniLM-L6-v2-int8" not in models:
        raise CheckError(f"the int8 bundle is not served: {models}")
    worst = deviation(expected, HTTP=over_http, gRPC=over_grpc)
    return f"models {models}; max |Δ| vs host export {worst:.1e} (HTTP and gRPC)"


def check_drain(name: str, http: str) -> str:
    """`docker stop` while requests run: every one of them is answered and the process exits 0."""
    results: list[int] = []
    batch = [f"{TEXTS[3]} {i}" * 4 for i in range(128)]

    def call() -> None:
        with Client(http, timeout=60) as client:
            results.append(len(client.embed(batch).vectors))

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10  # SIGTERM only once the server holds all of them
    while _in_flight(http) < len(threads) and time.monotonic() < deadline:
        time.sleep(0.01)
    began = time.monotonic()
    docker("stop", "-t", "30", name)
    stopped = time.monotonic() - began
    for thread in threads:
        thread.join()
    code = docker("inspect", "-f", "{{.State.ExitCode}}", name)
    drained = re.search(r"draining: (\d+) requests in flight", docker("logs", name))
    if drained is None or int(drained.group(1)) != len(threads):
        seen = drained.group(1) if drained else "no"
        raise CheckError(f"{seen} requests in flight at SIGTERM, not {len(threads)} (the server's draining log line)")
    if results != [len(batch)] * len(threads):
        raise CheckError(f"in-flight requests lost on SIGTERM: {len(results)} of {len(threads)} answered")
    if code != "0":
        raise CheckError(f"exit code {code} after SIGTERM")
    return (
        f"{drained.group(1)} requests in flight at SIGTERM, all {len(threads)} answered "
        f"({len(batch)} inputs each); exit 0 after {stopped:.1f} s"
    )


def _in_flight(http: str) -> int:
    with urllib.request.urlopen(f"{http}/metrics", timeout=5) as response:
        lines = response.read().decode().splitlines()
    return next(int(float(line.split()[1])) for line in lines if line.startswith("lexsent_requests_in_flight "))


def write_collection(http: str) -> str:
    with Client(http) as client:
        client.create_collection("docker-check", index="flat")
        client.upsert("docker-check", [{"id": str(i), "text": text} for i, text in enumerate(TEXTS)])
        top = client.search("docker-check", query="forgot my password", k=1)[0].id
    return f"4 points written to /data, top hit {top}"


def read_collection(image: str, volume: str, name: str, health_timeout: float) -> str:
    """A new container on the same volume finds the collection the first one wrote."""
    http, _ = start(image, name, "-v", f"{volume}:/data")
    wait_healthy(name, health_timeout)
    with Client(http) as client:
        info = client.get_collection("docker-check")
        top = client.search("docker-check", query="forgot my password", k=1)[0].id
    if info.count != len(TEXTS) or top != "1":
        raise CheckError(f"collection after restart: count {info.count}, top hit {top!r}")
    return f"count {info.count}, top hit {top} in a new container"


def make_certificate(directory: str) -> tuple[str, str]:
    """A self-signed certificate for PUBLIC_NAME alone and its key (PEM, openssl), readable by the image's
    non-root user (uid 10001) through a read-only bind mount: world-readable, as the host's uid is not
    the container's (a throwaway key in a directory removed after the step)."""
    if shutil.which("openssl") is None:
        raise CheckError("the TLS check needs the openssl command on the host")
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    names = ["-subj", f"/CN={PUBLIC_NAME}", "-addext", f"subjectAltName=DNS:{PUBLIC_NAME}"]
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", *names]
    done = subprocess.run([*command, "-keyout", key, "-out", cert], capture_output=True, text=True)
    if done.returncode != 0:
        raise CheckError(f"openssl req: {done.stderr.strip()}")
    os.chmod(directory, 0o755)
    for path in (cert, key):
        os.chmod(path, 0o644)
    return cert, key


def check_tls(image: str, name: str, expected: np.ndarray, health_timeout: float) -> str:
    """TLS and an allowed-hosts list from the environment, as the HEALTHCHECK reads them: it turns healthy
    (over https, trusting the mounted certificate, with a loopback Host), HTTPS and gRPC over TLS give the
    host export's vectors to a client trusting that certificate, and a Host not listed gets 400."""
    directory = tempfile.mkdtemp(prefix="lexsent-check-tls-")
    try:
        cert, _ = make_certificate(directory)
        https, grpc_target = start(image, name, "-v", f"{directory}:/tls:ro",
                                   "-e", "LEXSENT_TLS_CERT=/tls/cert.pem", "-e", "LEXSENT_TLS_KEY=/tls/key.pem",
                                   "-e", f"LEXSENT_ALLOWED_HOSTS={PUBLIC_NAME}", scheme="https")  # fmt: skip
        healthy = wait_healthy(name, health_timeout)
        with httpx.Client(base_url=https, verify=ssl.create_default_context(cafile=cert), timeout=60) as client:
            listed, evil = _https_embed(client, PUBLIC_NAME), _https_embed(client, "evil.example")
        if listed.status_code != 200:
            raise CheckError(f"POST /v1/embeddings over https, Host {PUBLIC_NAME}: {listed.status_code} {listed.text}")
        if evil.status_code != 400:
            raise CheckError(f"Host evil.example (not in LEXSENT_ALLOWED_HOSTS) answered {evil.status_code}, not 400")
        over_https = np.asarray([item["embedding"] for item in listed.json()["data"]], dtype=np.float32)
        worst = deviation(expected, HTTPS=over_https, **{"gRPC over TLS": _grpc_tls_embed(grpc_target, cert)})
        return (
            f"healthy after {healthy:.1f} s over https; max |Δ| vs host export {worst:.1e} (HTTPS and gRPC TLS, "
            f"as {PUBLIC_NAME}); Host evil.example {evil.status_code}"
        )
    finally:
        docker("rm", "-f", "-v", name, check=False)  # -v: its anonymous volume on /data
        shutil.rmtree(directory, ignore_errors=True)


def _https_embed(client: httpx.Client, host: str) -> httpx.Response:
    """POST /v1/embeddings with this Host header, checking the certificate against PUBLIC_NAME (SNI)."""
    extensions = {"sni_hostname": PUBLIC_NAME}
    return client.post("/v1/embeddings", json={"input": TEXTS}, headers={"Host": host}, extensions=extensions)


def _grpc_tls_embed(target: str, cert: str) -> np.ndarray:
    """Embed over gRPC with TLS, trusting only `cert` and checking it against PUBLIC_NAME."""
    with open(cert, "rb") as pem:
        credentials = grpc.ssl_channel_credentials(root_certificates=pem.read())
    options = [("grpc.ssl_target_name_override", PUBLIC_NAME)]
    with grpc.secure_channel(target, credentials, options=options) as channel:
        request = embeddings_pb2.EmbedRequest(texts=embeddings_pb2.Texts(values=TEXTS))
        reply = embeddings_pb2_grpc.EmbeddingsStub(channel).Embed(request, timeout=60)
    return np.asarray([list(item.values) for item in reply.data], dtype=np.float32)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="lexsent")
    parser.add_argument("--health-timeout", type=float, default=120.0)
    args = parser.parse_args()
    tag = f"lexsent-check-{os.getpid()}"
    volume, first, second, tls = f"{tag}-data", f"{tag}-a", f"{tag}-b", f"{tag}-tls"
    report: list[tuple[str, str, str]] = []

    def step(what: str, run: Callable[[], str]) -> None:
        try:
            report.append((what, "ok", run()))
        except CheckError as error:
            report.append((what, "FAILED", str(error)))
            raise
        except Exception as error:  # a refused connection, a client error: report it like a failed check
            report.append((what, "FAILED", f"{type(error).__name__}: {error}"))
            raise CheckError(what) from error

    try:
        expected = reference_vectors()
        http, grpc_target = start(args.image, first, "-v", f"{volume}:/data")
        step("HEALTHCHECK", lambda: f"healthy after {wait_healthy(first, args.health_timeout):.1f} s")
        step("process", lambda: check_process(first))
        step("embeddings", lambda: check_vectors(http, grpc_target, expected))
        step("collection", lambda: write_collection(http))
        step("SIGTERM drain", lambda: check_drain(first, http))
        step("durable /data", lambda: read_collection(args.image, volume, second, args.health_timeout))
        step("TLS", lambda: check_tls(args.image, tls, expected, args.health_timeout))
    except CheckError:
        pass
    finally:
        for name in (first, second, tls):
            docker("rm", "-f", "-v", name, check=False)  # -v: anonymous volumes only, not the named one
        docker("volume", "rm", volume, check=False)
    for what, verdict, detail in report:
        print(f"{what:<14} {verdict:<6} {detail}")
    print(json.dumps({"image": args.image, "passed": all(v == "ok" for _, v, _ in report), "steps": len(report)}))
    return 0 if len(report) == STEPS and all(v == "ok" for _, v, _ in report) else 1


if __name__ == "__main__":
    sys.exit(main())
