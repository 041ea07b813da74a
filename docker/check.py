"""Checks a built lexsent image from the outside, as a user runs it (`make docker-check`).

Runs the image with both ports published on loopback and a named volume on /data, then checks what
the Dockerfile promises: HEALTHCHECK turns healthy, a non-root user, no torch, HTTP and gRPC answer
with the vectors this checkout's own export gives, SIGTERM (`docker stop`) lets in-flight requests
finish and exits 0, and a collection written to /data survives a new container. Exits 1 on a failure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable

import numpy as np
from lexsent_client import Client, GrpcClient

TEXTS = [
    "The cat sits on the mat.",
    "Reset your password from the account settings page.",
    "un café, s'il vous plaît",
    "a member of the genus Canis that has been domesticated by man since prehistoric times",
]
TOLERANCE = 1e-4  # max |Δ| between the container's and the host's fp32 vectors (same export, same weights)


class CheckError(Exception):
    """A check did not hold; the message says what was seen."""


def docker(*args: str, check: bool = True) -> str:
    """Run the docker CLI (`$DOCKER`, default `docker`); its stdout, or stdout + stderr for `logs`."""
    done = subprocess.run([os.environ.get("DOCKER", "docker"), *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise CheckError(f"docker {' '.join(args)}: {done.stderr.strip()}")
    return (done.stdout + done.stderr if args[0] == "logs" else done.stdout).strip()


def start(image: str, volume: str, name: str) -> tuple[str, str]:
    """Run the image detached; return its HTTP base URL and gRPC target on loopback."""
    docker("run", "-d", "--name", name, "-p", "127.0.0.1::8080", "-p", "127.0.0.1::50051",
           "-v", f"{volume}:/data", "-e", "LEXSENT_THREADS=2", image)  # fmt: skip
    http = docker("port", name, "8080/tcp").splitlines()[0]
    grpc = docker("port", name, "50051/tcp").splitlines()[0]
    return f"http://{http}", grpc


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
    raise CheckError(f"not healthy after {timeout:.0f} s (last status {status!r})")


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


def check_vectors(http: str, grpc: str, expected: np.ndarray) -> str:
    with Client(http) as client:
        models = [m.name for m in client.models()]
        over_http = np.asarray(client.embed(TEXTS).vectors, dtype=np.float32)
    with GrpcClient(grpc) as client:
        over_grpc = np.asarray(client.embed(TEXTS).vectors, dtype=np.float32)
    if "all-MiniLM-L6-v2-int8" not in models:
        raise CheckError(f"the int8 bundle is not served: {models}")
    worst = max(float(np.abs(over_http - expected).max()), float(np.abs(over_grpc - expected).max()))
    if worst > TOLERANCE:
        raise CheckError(f"vectors differ from the host export by {worst:.2e} (> {TOLERANCE})")
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
    http, _ = start(image, volume, name)
    wait_healthy(name, health_timeout)
    with Client(http) as client:
        info = client.get_collection("docker-check")
        top = client.search("docker-check", query="forgot my password", k=1)[0].id
    if info.count != len(TEXTS) or top != "1":
        raise CheckError(f"collection after restart: count {info.count}, top hit {top!r}")
    return f"count {info.count}, top hit {top} in a new container"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="lexsent")
    parser.add_argument("--health-timeout", type=float, default=120.0)
    args = parser.parse_args()
    tag = f"lexsent-check-{os.getpid()}"
    volume, first, second = f"{tag}-data", f"{tag}-a", f"{tag}-b"
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
        http, grpc = start(args.image, volume, first)
        step("HEALTHCHECK", lambda: f"healthy after {wait_healthy(first, args.health_timeout):.1f} s")
        step("process", lambda: check_process(first))
        step("embeddings", lambda: check_vectors(http, grpc, expected))
        step("collection", lambda: write_collection(http))
        step("SIGTERM drain", lambda: check_drain(first, http))
        step("durable /data", lambda: read_collection(args.image, volume, second, args.health_timeout))
    except CheckError:
        pass
    finally:
        for name in (first, second):
            docker("rm", "-f", name, check=False)
        docker("volume", "rm", volume, check=False)
    for what, verdict, detail in report:
        print(f"{what:<14} {verdict:<6} {detail}")
    print(json.dumps({"image": args.image, "passed": all(v == "ok" for _, v, _ in report), "steps": len(report)}))
    return 0 if len(report) == 6 and all(v == "ok" for _, v, _ in report) else 1


if __name__ == "__main__":
    sys.exit(main())
