"""Interactive latency under bulk load: single-input requests while another client posts long lists.

An embedding server often has both callers at once: an indexer sending lists of hundreds of texts and
a user whose one query waits for its vector. Batching must not make the user wait for the indexer's
batch. For each model, a prober sends one input at a time (a 20 ms pause between requests) for
`--seconds`, first alone, then while a bulk client keeps `--bulk` inputs per request in flight; both
over HTTP to one `lexsent serve`. Prints the prober's p50/p90/p99 in both phases and the bulk client's
inputs/s, plus the in-process single-encode p50 of the same model for scale.

    python -m bench.mixed [--threads 2] [--bulk 128] [--seconds 6]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import lexsent
from bench._record import write_result
from bench.encode import corpora
from bench.serve import REPO, WARM_UP, Send, http_engine, lexsent_server, percentile, single_p50_ms, warm_up
from exporter.default_model import ensure_default_model
from exporter.staging import int8_path
from lexsent.settings import CoreSettings

PAUSE_S = 0.02  # the prober's think time between requests


@dataclass
class Phase:
    model: str
    bulk: bool
    p50_ms: float
    p90_ms: float
    p99_ms: float
    requests: int
    bulk_rate: float  # the bulk client's inputs/s (0 when alone)


async def probe(send: Send, texts: Iterator[str], seconds: float) -> list[float]:
    latencies: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        await send([next(texts)])
        latencies.append(time.perf_counter() - start)
        await asyncio.sleep(PAUSE_S)
    return latencies


async def phase(base: str, model: str, texts: Iterator[str], args: argparse.Namespace, bulk: bool) -> Phase:
    async with http_engine(base, "/v1/embeddings", model)(2) as send:
        await warm_up(send, itertools.islice(texts, WARM_UP))
        stop = asyncio.Event()
        sent = 0

        async def bulk_client() -> None:
            nonlocal sent
            while not stop.is_set():
                await send([next(texts) for _ in range(args.bulk)])
                sent += args.bulk

        task = asyncio.create_task(bulk_client()) if bulk else None
        if task is not None:
            await asyncio.sleep(0.5)  # the bulk client's batches are running
        start, before = time.perf_counter(), sent
        latencies = await probe(send, texts, args.seconds)
        elapsed, during = time.perf_counter() - start, sent - before  # the bulk inputs answered while probing
        stop.set()
        if task is not None:
            await task
    ms = [v * 1e3 for v in latencies]
    rate = during / elapsed if bulk else 0.0
    return Phase(model, bulk, statistics.median(ms), percentile(ms, 0.9), percentile(ms, 0.99), len(ms), rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--bulk", type=int, default=128, help="inputs per bulk request")
    parser.add_argument("--seconds", type=float, default=6.0, help="probing time per phase")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "bench-mixed.json")
    args = parser.parse_args()
    if args.bulk < 1 or args.seconds <= 0:
        parser.error("--bulk must be at least 1 and --seconds positive")

    fp32 = ensure_default_model(CoreSettings().data_dir)
    bundles = [fp32, int8_path(fp32)]
    encoders = {(e := lexsent.load(b, threads=args.threads)).name: e for b in bundles}
    texts = iter(corpora(next(iter(encoders.values())), short_n=100_000, long_n=0)["short"])
    single = {name: single_p50_ms(encoder, [next(texts) for _ in range(100)]) for name, encoder in encoders.items()}
    phases: list[Phase] = []
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        base, _, _ = stack.enter_context(lexsent_server(bundles, args.threads, Path(tmp)))
        for name in encoders:
            for bulk in (False, True):
                phases.append(asyncio.run(phase(base, name, texts, args, bulk)))
    print(f"prober: one input per request, {PAUSE_S * 1e3:.0f} ms apart; bulk client: {args.bulk} inputs per request")
    print(
        f"{'model':26} {'bulk load':9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'requests':>8} {'bulk inputs/s':>13}"
    )
    for p in phases:
        load = "yes" if p.bulk else "no"
        rate = f"{p.bulk_rate:13.0f}" if p.bulk else f"{'':13}"
        print(f"{p.model:26} {load:9} {p.p50_ms:8.2f} {p.p90_ms:8.2f} {p.p99_ms:8.2f} {p.requests:8d} {rate}")
    for name, ms in single.items():
        print(f"in-process {name}: single encode p50 {ms:.2f} ms")
    write_result(args.out, args, phases=[asdict(p) for p in phases], single_ms=single)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
