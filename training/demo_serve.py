"""The last step of `make demo-train`: serve the trained bundles side by side and ask each for vectors.

Starts `lexsent serve --models-dir DIR` on free loopback ports, lists the served models, sends each one
`/v1/embeddings` with a sentence pair (or, for a lexical model, a word pair), prints one line per model
(kind, dimension, the pair's cosine), then stops the server with SIGTERM and expects exit 0.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from server.launch import free_port, wait_ready

PAIRS = {
    "lexical": ("car", "automobile"),
    "sentence": ("could not delete the file", "the file could not be removed"),
}


def _call(url: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / max(1e-12, sum(x * x for x in a) ** 0.5 * sum(y * y for y in b) ** 0.5)


def check(models_dir: Path, timeout: float = 120.0) -> list[dict[str, Any]]:
    """One row per served model: name, kind, dim and the cosine of its probe pair."""
    port = free_port()
    command = [sys.executable, "-m", "cli.main", "serve", "--models-dir", str(models_dir)]
    command += ["--http-port", str(port), "--grpc-port", str(free_port())]
    with tempfile.TemporaryDirectory(prefix="lexsent-demo-") as scratch:
        process = subprocess.Popen([*command, "--data-dir", scratch], stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            try:
                wait_ready(f"{base}/health/ready", process, timeout=timeout)
            except RuntimeError as exc:
                raise SystemExit(f"demo-serve: {exc}") from None
            rows = []
            for model in _call(f"{base}/v1/models")["data"]:
                pair = PAIRS["lexical" if model["kind"] == "lexical" else "sentence"]
                data = _call(f"{base}/v1/embeddings", {"input": list(pair), "model": model["id"]})["data"]
                a, b = (d["embedding"] for d in data)
                rows.append({"model": model["id"], "kind": model["kind"], "dim": len(a), "pair": pair,
                             "cosine": _cosine(a, b)})  # fmt: skip
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=60)
    if code != 0:
        raise SystemExit(f"demo-serve: the server exited with {code} after SIGTERM")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    args = parser.parse_args()
    for row in check(args.models_dir):
        a, b = row["pair"]
        print(f"{row['model']:<24} {row['kind']:<9} dim {row['dim']:<4} cos({a!r}, {b!r}) = {row['cosine']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
