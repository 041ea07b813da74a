"""Serving benchmark: lexsent over HTTP and gRPC vs in-process batched encode vs infinity-emb.

Same machine, same model (all-MiniLM-L6-v2; lexsent fp32 and int8 bundles, infinity on the source
weights with its torch engine), same thread count for every engine, same inputs (English gettext UI
strings of 10–30 tokens), one input per request — the shape of an embedding API under load (or
`--inputs-per-request N`, the shape of a client that sends lists, as bulk indexing does). Each
server runs as its own process; the load generator (asyncio, one process, the lean clients of
bench/loadgen.py) shares the machine, for all engines alike. Prints throughput (inputs/s), p50/p99
latency and the CPU time per input of the server and of the load generator per concurrency, plus ratios.

    python -m bench.serve [--threads 2] [--requests 384] [--concurrency 1 16 64] [--inputs-per-request 1]
                          [--skip-infinity]

infinity-emb runs from its own virtualenv (`.venv-peers`, installed with `torch==2.13.0` pinned):
    python -m venv .venv-peers && .venv-peers/bin/pip install "infinity-emb[server,torch]" torch==2.13.0
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import lexsent
from bench._record import write_result
from bench.encode import corpora
from bench.loadgen import GrpcUnary, KeepAlive
from exporter.default_model import default_source, ensure_default_model
from exporter.staging import int8_path
from lexsent.settings import CoreSettings
from server.launch import free_port, wait_ready

REPO = Path(__file__).resolve().parent.parent
PEER = REPO / ".venv-peers" / "bin" / "infinity_emb"
Send = Callable[[Sequence[str]], Awaitable[None]]
WARM_UP = 8  # calls before each measurement, one at a time
PAIRED = 64  # single requests per model and round paired with an in-process encode
INFINITY = "infinity-emb (torch)"


@dataclass
class InProcess:
    """In-process references of one bundle: batched encode at batch 32 (the issue's reference) and at a
    batch of concurrency × inputs per request (the most a server can gather with that many requests in
    flight), plus single-input encode latency."""

    batched: float
    at_concurrency: dict[int, float]
    single_ms: float
    paired_s: list[tuple[float, float]]  # (one HTTP request, the same text in process), taken alternately
    cpu_ms: float  # CPU time per input at batch 32, all of this process's threads


@dataclass
class Row:
    engine: str
    transport: str
    concurrency: int
    throughput: float  # inputs per second
    p50_ms: float
    p99_ms: float
    server_cpu_ms: float  # the server process's CPU time per input, all its threads
    client_cpu_ms: float  # the load generator's CPU time per input
    # Each round's rate over the in-process batch-32 rate measured just before it (lexsent only): the
    # spread of the ratio, which machine drift between rounds moves by 10-20 % on this machine.
    b32_by_round: list[float]


@dataclass
class Load:
    rate: float  # inputs per second
    latencies: list[float]  # per request, s
    server_cpu_s: float
    client_cpu_s: float


def process_cpu_s(pid: int) -> float:
    """User + system CPU time of process `pid` so far, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def warm_up(send: Send, texts: Iterable[str]) -> None:
    """One single-input call per text, one at a time: connections, allocator, first-batch graph setup."""
    for text in texts:
        await send([text])


def texts_needed(concurrency: int, requests: int, per_request: int = 1) -> int:
    """Texts one `load` cell uses: WARM_UP texts, then the calls before, in and after its window."""
    return WARM_UP + (requests + 2 * concurrency) * per_request


async def load(
    send: Send, texts: Sequence[str], concurrency: int, requests: int, server: int, per_request: int = 1
) -> Load:
    """`requests` timed calls of `per_request` inputs each with `concurrency` calls in flight throughout,
    with the CPU time the server process (pid `server`) and this one spent meanwhile. The window opens at
    the `concurrency`-th completion (the ramp: the first burst, the first batches) and closes `requests`
    completions later; the calls still in flight then finish uncounted. Timing from the first call to the
    last, as this did until the sixth session of 2026-12-02, mixed in the ramp (all calls queued at once,
    run as full batches) and the drain (fewer than `concurrency` in flight): in one run that timed both
    ways, 0-5 % below the window's rate at c=16 and 0-15 % above it at c=64 (docs/server.md). `texts`
    holds `texts_needed(...)` fresh texts."""
    await warm_up(send, texts[:WARM_UP])
    texts = texts[WARM_UP:]
    latencies: list[float] = []
    next_index = iter(range(requests + 2 * concurrency))
    completed = 0
    marks: list[tuple[float, float, float]] = []  # (time, server CPU, own CPU) as the window opens and closes

    async def worker() -> None:
        nonlocal completed
        for i in next_index:
            start = time.perf_counter()
            await send(texts[i * per_request : (i + 1) * per_request])
            completed += 1
            if concurrency < completed <= concurrency + requests:
                latencies.append(time.perf_counter() - start)
            if completed in (concurrency, concurrency + requests):
                marks.append((time.perf_counter(), process_cpu_s(server), time.process_time()))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    (opened, server_cpu, client_cpu), (closed, server_end, client_end) = marks
    return Load(requests * per_request / (closed - opened), latencies, server_end - server_cpu, client_end - client_cpu)


@contextmanager
def process(command: list[str], env: dict[str, str], ready_url: str, log: Path) -> Iterator[int]:
    """Run a server until it answers `ready_url`; yields its pid."""
    with log.open("w") as out:
        proc = subprocess.Popen(command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        try:
            wait_ready(ready_url, proc, timeout=300, log=log)
            yield proc.pid
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def thread_env(threads: int) -> dict[str, str]:
    n = str(threads)
    return {"OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n, "LEXSENT_THREADS": n}


@contextmanager
def lexsent_server(bundles: list[Path], threads: int, logs: Path) -> Iterator[tuple[str, str, int]]:
    http_port, grpc_port = free_port(), free_port()
    command = [sys.executable, "-m", "cli.main", "serve", "--http-port", str(http_port)]
    command += ["--grpc-port", str(grpc_port), "--data-dir", str(logs / "data")]
    for bundle in bundles:
        command += ["--model", str(bundle)]
    base = f"http://127.0.0.1:{http_port}"
    with process(command, thread_env(threads), f"{base}/health/ready", logs / "lexsent.log") as pid:
        yield base, f"127.0.0.1:{grpc_port}", pid


@contextmanager
def infinity_server(threads: int, logs: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    command = [str(PEER), "v2", "--model-id", str(default_source()), "--served-model-name", "minilm"]
    command += ["--port", str(port), "--host", "127.0.0.1", "--engine", "torch", "--device", "cpu"]
    # Its default on-disk cache answers repeated texts without running the model: off, to measure serving.
    command += ["--batch-size", "32", "--no-vector-disk-cache"]
    env = {**thread_env(threads), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "DO_NOT_TRACK": "1"}
    env["INFINITY_ANONYMOUS_USAGE_STATS"] = "0"
    base = f"http://127.0.0.1:{port}"
    with process(command, env, f"{base}/health", logs / "infinity.log") as pid:
        yield base, pid


Engine = Callable[[int], AbstractAsyncContextManager[Send]]


def http_engine(base: str, path: str, model: str) -> Engine:
    @asynccontextmanager
    async def open_(concurrency: int) -> AsyncIterator[Send]:
        pool: asyncio.Queue[KeepAlive] = asyncio.Queue()
        for _ in range(concurrency):
            pool.put_nowait(await KeepAlive.open(base))

        async def send(texts: Sequence[str]) -> None:
            body = json.dumps({"input": list(texts), "model": model, "encoding_format": "base64"}).encode()
            connection = await pool.get()
            try:
                await connection.post(path, body)
            finally:
                pool.put_nowait(connection)

        try:
            yield send
        finally:
            while not pool.empty():
                pool.get_nowait().close()

    return open_


def grpc_engine(target: str, model: str) -> Engine:
    @asynccontextmanager
    async def open_(_: int) -> AsyncIterator[Send]:
        connection = await GrpcUnary.open(target)  # one connection, calls multiplexed, as a grpc channel does

        async def send(texts: Sequence[str]) -> None:
            await connection.embed(list(texts), model)

        try:
            yield send
        finally:
            connection.close()

    return open_


async def paired_single(send: Send, encoder: lexsent.Encoder, texts: Sequence[str]) -> list[tuple[float, float]]:
    """(server s, in-process s) per text: one request, then the same text encoded in process, alternately,
    so both halves of a pair see the same machine state (this machine's speed drifts by up to 2x within
    an hour, which unpaired medians from different minutes cannot separate from the server's overhead)."""
    pairs = []
    for text in texts:
        start = time.perf_counter()
        await send([text])
        middle = time.perf_counter()
        encoder.encode([text])
        pairs.append((middle - start, time.perf_counter() - middle))
    return pairs


def batched_rate(encoder: lexsent.Encoder, texts: Sequence[str], batch: int = 32) -> tuple[float, float]:
    """In-process reference: (inputs/s, CPU s per input) encoding `texts` in batches of `batch`."""
    cpu, start = time.process_time(), time.perf_counter()
    for i in range(0, len(texts), batch):
        encoder.encode(texts[i : i + batch])
    return len(texts) / (time.perf_counter() - start), (time.process_time() - cpu) / len(texts)


def single_p50_ms(encoder: lexsent.Encoder, texts: Sequence[str]) -> float:
    singles = []
    for text in texts:
        t0 = time.perf_counter()
        encoder.encode([text])
        singles.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(singles)


async def measure(
    engines: dict[tuple[str, str], Engine],
    servers: dict[str, int],
    encoders: dict[str, lexsent.Encoder],
    texts: list[str],
    args: argparse.Namespace,
) -> tuple[list[Row], dict[str, InProcess]]:
    """Engines interleaved round by round, so drifting machine load hits all of them alike; `servers`
    maps each engine to the pid of the process serving it."""
    per_round = max(1, args.requests // args.rounds)
    per_request = args.inputs_per_request
    loads: dict[tuple[str, str, int], list[Load]] = {}
    # In-process (inputs/s, CPU s per input) at batch 32 and inputs/s at batch c, per (model, c), by round.
    batch32: dict[tuple[str, int], list[tuple[float, float]]] = {}
    at_concurrency: dict[tuple[str, int], list[float]] = {}
    singles: dict[str, list[float]] = {name: [] for name in encoders}
    paired: dict[str, list[tuple[float, float]]] = {name: [] for name in encoders}
    # Every measurement gets texts no engine has seen before, so none can answer from a cache (a run that
    # reused texts gave infinity-emb ~1.6x its fresh-text throughput at c=64, disk cache off).
    offset = 0
    cells = sum(texts_needed(c, per_round, per_request) for c in args.concurrency) * args.rounds * len(engines)
    needed = cells + args.rounds * len(encoders) * (PAIRED + WARM_UP)
    if needed > len(texts):
        raise SystemExit(f"{needed} distinct texts needed, {len(texts)} available: lower --requests")
    for c in args.concurrency:
        for r in range(args.rounds):
            for name, encoder in encoders.items():
                batch32.setdefault((name, c), []).append(batched_rate(encoder, texts[: args.requests // 2]))
                at_concurrency.setdefault((name, c), []).append(
                    batched_rate(encoder, texts[: args.requests // 2], c * per_request)[0]
                )
                # measured every round, beside the servers' rounds, so machine drift hits them alike
                singles[name].append(single_p50_ms(encoder, texts[:100]))
                if c == args.concurrency[0]:  # the single-request overhead, once per round
                    async with engines[name, "http"](1) as send:
                        await warm_up(send, texts[offset : offset + WARM_UP])
                        pairs = texts[offset + WARM_UP : offset + WARM_UP + PAIRED]
                        paired[name].extend(await paired_single(send, encoder, pairs))
                    offset += PAIRED + WARM_UP
            for (engine, transport), open_ in engines.items():
                async with open_(c) as send:
                    used = texts_needed(c, per_round, per_request)
                    cell = await load(send, texts[offset : offset + used], c, per_round, servers[engine], per_request)
                offset += used
                loads.setdefault((engine, transport, c), []).append(cell)
            print(f"  c={c} round {r + 1}/{args.rounds} done", flush=True)
    rows = []
    for (e, t, c), cells in loads.items():
        latency = [x for cell in cells for x in cell.latencies]
        inputs = per_round * per_request
        rows.append(
            Row(
                e,
                t,
                c,
                statistics.median(cell.rate for cell in cells),
                1e3 * percentile(latency, 0.5),
                1e3 * percentile(latency, 0.99),
                1e3 * statistics.median(cell.server_cpu_s for cell in cells) / inputs,
                1e3 * statistics.median(cell.client_cpu_s for cell in cells) / inputs,
                [cell.rate / rate for cell, (rate, _) in zip(cells, batch32.get((e, c), []), strict=False)],
            )
        )
    in_process = {}
    for name in encoders:
        every = [measured for c in args.concurrency for measured in batch32[name, c]]
        in_process[name] = InProcess(
            statistics.median(rate for rate, _ in every),
            {c: statistics.median(at_concurrency[name, c]) for c in args.concurrency},
            statistics.median(singles[name]),
            paired[name],
            1e3 * statistics.median(cpu for _, cpu in every),
        )
    return rows, in_process


def report(rows: list[Row], reference: dict[str, InProcess], per_request: int) -> None:
    head = f"{'engine':<28}{'transport':<10}{'conc':>5}{'inputs/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
    at_c = "b=c" if per_request == 1 else f"b=c*{per_request}"
    print(f"\n{per_request} input(s) per request; latencies are per request")
    print(
        f"{head}{'x in-proc b32':>15}{'b32 by round':>14}{'x in-proc ' + at_c:>17}{'server CPU':>12}{'loadgen CPU':>13}"
    )
    for r in rows:
        ref = reference.get(r.engine)
        b32, bc = (
            (f"{r.throughput / ref.batched:.2f}x", f"{r.throughput / ref.at_concurrency[r.concurrency]:.2f}x")
            if ref
            else ("-", "-")
        )
        spread = f"{min(r.b32_by_round):.2f}-{max(r.b32_by_round):.2f}" if r.b32_by_round else "-"
        print(
            f"{r.engine:<28}{r.transport:<10}{r.concurrency:>5}{r.throughput:>10.0f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}"
            f"{b32:>15}{spread:>14}{bc:>17}{r.server_cpu_ms:>12.2f}{r.client_cpu_ms:>13.2f}"
        )
    print("(b32 by round: lowest and highest of each round's rate over the in-process batch 32 of that round;")
    print(" CPU columns: ms of CPU time per input, all threads of the server / of the load generator)")
    for name, ref in reference.items():
        per_c = ", ".join(f"batch {c * per_request}: {rate:.0f}" for c, rate in ref.at_concurrency.items())
        print(
            f"in-process {name}: batch 32: {ref.batched:.0f}/s, {ref.cpu_ms:.2f} ms CPU per input ({per_c}); "
            f"single encode p50 {ref.single_ms:.2f} ms"
        )
    peer = {r.concurrency: r for r in rows if r.engine == INFINITY}
    fp32 = next(iter(reference), None)
    if peer and fp32:
        print("\nlexsent / infinity-emb throughput (same model, same threads):")
        for r in rows:
            if r.engine in reference and r.concurrency in peer:
                ratio = r.throughput / peer[r.concurrency].throughput
                print(f"  {r.engine:<24}{r.transport:<6} c={r.concurrency:<3} {ratio:.2f}x")
    print("\nsingle short request over HTTP, each paired with the same text encoded in process right after:")
    for name, ref in reference.items():
        server = 1e3 * statistics.median(a for a, _ in ref.paired_s)
        local = 1e3 * statistics.median(b for _, b in ref.paired_s)
        extra = 1e3 * statistics.median(a - b for a, b in ref.paired_s)
        print(
            f"  {name:<24} p50 {server:.2f} ms vs in-process {local:.2f} ms; "
            f"median of the {len(ref.paired_s)} differences +{extra:.2f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--requests", type=int, default=384, help="requests per (engine, transport, concurrency)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds the requests are split into")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument(
        "--inputs-per-request", type=int, default=1, help="texts in each request's list (throughput counts texts)"
    )
    parser.add_argument("--skip-infinity", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "bench-serve.json")
    args = parser.parse_args()
    if args.inputs_per_request < 1:
        parser.error("--inputs-per-request must be at least 1")

    fp32 = ensure_default_model(CoreSettings().data_dir)
    bundles = [fp32, int8_path(fp32)]
    encoders = {(e := lexsent.load(b, threads=args.threads)).name: e for b in bundles}
    texts = corpora(next(iter(encoders.values())), short_n=100_000, long_n=0)["short"]
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        logs = Path(tmp)
        base, target, pid = stack.enter_context(lexsent_server(bundles, args.threads, logs))
        engines: dict[tuple[str, str], Engine] = {}
        servers: dict[str, int] = {}
        for name in encoders:
            engines[name, "http"] = http_engine(base, "/v1/embeddings", name)
            engines[name, "grpc"] = grpc_engine(target, name)
            servers[name] = pid
        if args.skip_infinity:
            pass
        elif PEER.exists():
            peer, servers[INFINITY] = stack.enter_context(infinity_server(args.threads, logs))
            engines[INFINITY, "http"] = http_engine(peer, "/embeddings", "minilm")
        else:
            print(f"infinity-emb not installed at {PEER}; skipped (see this module's docstring)")
        rows, reference = asyncio.run(measure(engines, servers, encoders, texts, args))
    report(rows, reference, args.inputs_per_request)
    in_process = {name: asdict(ref) for name, ref in reference.items()}
    write_result(args.out, args, rows=[asdict(r) for r in rows], in_process=in_process)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
