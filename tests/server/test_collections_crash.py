"""Crash test: a real `lexsent serve` is SIGKILLed at random moments while points are upserted and deleted
in batches; after every restart, each acknowledged point must be there bit-exact with its metadata and no
acknowledged delete may come back.

A write whose request died with the server is unknown (maybe applied, maybe not); it is retried after the
restart, which is exactly what a client does, and only counts once acknowledged.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from lexsent.collections import CollectionStore
from server.launch import free_port, wait_ready

REPO = Path(__file__).resolve().parents[2]
DIM = 16


@dataclass
class Server:
    bundle: Path
    data_dir: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None
    base: str = ""
    starts: int = 0

    def start(self) -> None:
        http_port, grpc_port = free_port(), free_port()
        env = {**os.environ, "LEXSENT_THREADS": "1", "LEXSENT_LOG_FORMAT": "text"}
        command = [sys.executable, "-m", "cli.main", "serve", "--model", str(self.bundle)]
        command += ["--data-dir", str(self.data_dir), "--http-port", str(http_port)]
        command += ["--grpc-port", str(grpc_port), "--snapshot-bytes", "65536"]
        with self.log.open("a") as out:
            self.process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{http_port}"
        self.starts += 1
        wait_ready(f"{self.base}/health/ready", self.process, log=self.log)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


@dataclass
class Ledger:
    """What the client knows was acknowledged. The writer holds `lock` from sending a write until its
    acknowledgement is recorded, so a check under the lock sees no write half-way."""

    points: dict[int, tuple[list[float], dict[str, Any]]] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def writer(server: Server, total: int, batch: int, ledger: Ledger, stop: threading.Event) -> None:
    """Upsert `total` points in batches (deleting a few acked ones now and then); retry on failure."""
    rng = np.random.default_rng(7)
    pending: list[tuple[str, dict[str, Any]]] = []
    next_id = 0
    while not stop.is_set() and (next_id < total or pending):
        if not pending:
            ids = list(range(next_id, min(next_id + batch, total)))
            next_id = ids[-1] + 1
            vectors = rng.standard_normal((len(ids), DIM)).astype(np.float32)
            points = [
                {"id": i, "vector": [float(x) for x in v], "metadata": {"i": i, "tag": f"t{i % 7}"}}
                for i, v in zip(ids, vectors, strict=True)
            ]
            pending.append(("points", {"points": points}))
            if ids[0] % (batch * 5) == 0 and ledger.points:
                victims = random.Random(ids[0]).sample(sorted(ledger.points), min(5, len(ledger.points)))
                pending.append(("points/delete", {"ids": victims}))
        kind, body = pending[0]
        with ledger.lock:
            try:
                response = httpx.post(f"{server.base}/v1/collections/crash/{kind}", json=body, timeout=30)
            except httpx.TransportError:
                response = None
            if response is not None:
                assert response.status_code == 200, response.text
                pending.pop(0)
                record(ledger, kind, body)
        if response is None:
            time.sleep(0.05)  # the server is down; retry the same write once it is back


def record(ledger: Ledger, kind: str, body: dict[str, Any]) -> None:
    if kind == "points":
        for point in body["points"]:
            ledger.points[point["id"]] = (point["vector"], point["metadata"])
            ledger.deleted.discard(point["id"])
    else:
        for victim in body["ids"]:
            ledger.points.pop(victim, None)
            ledger.deleted.add(victim)


def check_store(data_dir: Path, ledger: Ledger) -> None:
    store = CollectionStore(data_dir / "collections")
    try:
        coll = store.get("crash")
        assert coll.count == len(ledger.points)
        for point_id, (vector, metadata) in ledger.points.items():
            point = coll.fetch(point_id)
            assert point.vector.tobytes() == np.asarray(vector, np.float32).tobytes()
            assert point.metadata == metadata
        for point_id in ledger.deleted:
            assert point_id not in coll._view.table.ids.row_of
    finally:
        store.close(snapshot=False)


def check_server(server: Server, ledger: Ledger, sample: int) -> None:
    """Under the ledger's lock: the writer cannot delete a sampled point while it is being fetched."""
    ids = random.Random(server.starts).sample(sorted(ledger.points), min(sample, len(ledger.points)))
    for point_id in ids:
        got = httpx.get(f"{server.base}/v1/collections/crash/points/{point_id}", timeout=10).json()
        vector, metadata = ledger.points[point_id]
        assert got["vector"] == vector and got["metadata"] == metadata
    for point_id in list(ledger.deleted)[:sample]:
        assert httpx.get(f"{server.base}/v1/collections/crash/points/{point_id}").status_code == 404


def crash_run(bundle: Path, tmp_path: Path, *, total: int, batch: int, kills: int) -> None:
    server = Server(bundle, tmp_path / "data", tmp_path / "serve.log")
    server.start()
    created = httpx.post(f"{server.base}/v1/collections", json={"name": "crash", "dim": DIM, "index": "hnsw"})
    assert created.status_code == 200, created.text
    ledger, stop = Ledger(), threading.Event()
    thread = threading.Thread(target=writer, args=(server, total, batch, ledger, stop), daemon=True)
    thread.start()
    rng = random.Random(1)
    try:
        for _ in range(kills):
            time.sleep(rng.uniform(0.05, 0.6))
            server.kill()
            server.start()
            with ledger.lock:
                check_server(server, ledger, sample=10)
        thread.join(timeout=600)
        assert not thread.is_alive(), "writer did not finish"
    finally:
        stop.set()
        server.kill()
    assert len(ledger.points) + len(ledger.deleted) == total and ledger.deleted
    assert server.starts == kills + 1
    check_store(tmp_path / "data", ledger)


def test_acknowledged_writes_survive_sigkill(tiny_bundle: Path, tmp_path: Path) -> None:
    crash_run(tiny_bundle, tmp_path, total=1500, batch=50, kills=4)


@pytest.mark.slow
def test_acknowledged_writes_survive_30_sigkills(tiny_bundle: Path, tmp_path: Path) -> None:
    crash_run(tiny_bundle, tmp_path, total=10_000, batch=100, kills=30)
