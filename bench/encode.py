"""In-process encode throughput: lexsent fp32 and int8 against sentence-transformers, same model.

Same machine, same thread count, same inputs (real English UI strings from the gettext catalogues),
batch 32, engines interleaved round by round so drift in machine load hits all of them alike.
Also measures this machine's fp32 matrix-multiply rate and the fraction of it the encoder achieves.

    python -m bench.encode [--threads 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

import lexsent
from bench._record import write_result
from exporter.default_model import default_source, ensure_default_model
from exporter.staging import int8_path
from lexsent.settings import CoreSettings
from training.data.gettext_corpus import clean, english_msgids

BATCH = 32


def corpora(encoder: lexsent.Encoder, short_n: int, long_n: int) -> dict[str, list[str]]:
    """Short inputs of 10–30 tokens, and long ones of ~256 tokens joined from consecutive strings."""
    strings = sorted({c for m in english_msgids() if (c := clean(m))})
    rng = np.random.default_rng(0)
    rng.shuffle(strings)
    counts = [len(t) for t in encoder.tokenize(strings)]
    short = [s for s, n in zip(strings, counts, strict=True) if 10 <= n <= 30][:short_n]
    long: list[str] = []
    current: list[str] = []
    used = 2
    for text, n in zip(strings, counts, strict=True):
        current.append(text)
        used += n - 2
        if used >= 250:
            long.append(" ".join(current))
            current, used = [], 2
            if len(long) == long_n:
                break
    return {"short": short, "long": long}


def throughput(encode: Callable[[list[str]], object], texts: Sequence[str]) -> float:
    start = time.perf_counter()
    for i in range(0, len(texts), BATCH):
        encode(list(texts[i : i + BATCH]))
    return len(texts) / (time.perf_counter() - start)


def matmul_gflops(threads: int, n: int = 1024, repeats: int = 20) -> float:
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    start = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def flops_per_text(config: dict[str, int], tokens: float) -> float:
    """Forward FLOPs of a BERT encoder for one input of `tokens` tokens (dense layers + attention)."""
    hidden, inter, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    dense = 2 * (4 * hidden * hidden + 2 * hidden * inter)
    attention = 2 * 2 * tokens * hidden
    return layers * tokens * (dense + attention)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--short", type=int, default=1024, help="number of short inputs")
    parser.add_argument("--long", type=int, default=128, help="number of long inputs")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from sentence_transformers import SentenceTransformer

    data_dir = CoreSettings().data_dir
    fp32_dir = ensure_default_model(data_dir)
    fp32 = lexsent.load(fp32_dir, threads=args.threads)
    int8 = lexsent.load(int8_path(fp32_dir), threads=args.threads)
    st = SentenceTransformer(str(default_source()), device="cpu")
    sets = corpora(fp32, args.short, args.long)
    engines: dict[str, Callable[[list[str]], object]] = {
        "sentence-transformers": lambda t: st.encode(t, batch_size=BATCH, convert_to_numpy=True),
        "lexsent-fp32": fp32.encode,
        "lexsent-int8": int8.encode,
    }
    for encode in engines.values():  # warm-up: first-call allocations and graph initialisation
        encode(sets["short"][:BATCH])
    results: dict[str, dict[str, float]] = {}
    peaks: list[float] = []  # sampled between runs; the max is the least load-disturbed estimate
    for name, texts in sets.items():
        runs: dict[str, list[float]] = {engine: [] for engine in engines}
        for _ in range(args.rounds):
            peaks.append(matmul_gflops(args.threads))
            for engine, encode in engines.items():
                runs[engine].append(throughput(encode, texts))
        results[name] = {engine: statistics.median(v) for engine, v in runs.items()}
    peak = max(peaks)
    config = json.loads((default_source() / "config.json").read_text())
    a, b = fp32.encode(sets["short"]), int8.encode(sets["short"])
    cosine = (a * b).sum(axis=1)
    print(f"threads={args.threads} batch={BATCH} rounds={args.rounds} (median texts/s)")
    header = ("inputs", "n", "tokens", "sent-tr", "fp32", "int8", "fp32×", "int8×", "fp32 %peak")
    print(
        f"{header[0]:<7}" + "".join(f"{h:>{w}}" for h, w in zip(header[1:], (6, 8, 10, 10, 10, 8, 8, 12), strict=True))
    )
    report: dict[str, object] = {"matmul_gflops": peak, "int8_cosine_mean": float(cosine.mean())}
    for name, texts in sets.items():
        r = results[name]
        tokens = float(np.mean([len(t) for t in fp32.tokenize(texts)]))
        achieved = r["lexsent-fp32"] * flops_per_text(config, tokens) / 1e9
        base = r["sentence-transformers"]
        print(
            f"{name:<7}{len(texts):>6}{tokens:>8.1f}{base:>10.1f}{r['lexsent-fp32']:>10.1f}{r['lexsent-int8']:>10.1f}"
            f"{r['lexsent-fp32'] / base:>8.2f}{r['lexsent-int8'] / base:>8.2f}{100 * achieved / peak:>11.1f}%"
        )
        report[name] = {
            **r,
            "tokens": tokens,
            "fp32_ratio": r["lexsent-fp32"] / base,
            "int8_ratio": r["lexsent-int8"] / base,
            "fp32_fraction_of_peak": achieved / peak,
        }
    print(f"fp32 matmul peak: {peak:.1f} GFLOP/s, {args.threads} threads (torch.mm 1024³, best of {len(peaks)})")
    print(f"int8 cosine to fp32 on short inputs: mean {cosine.mean():.4f}, min {cosine.min():.4f}")
    if args.json:
        write_result(args.json, args, results=report)


if __name__ == "__main__":
    main()
