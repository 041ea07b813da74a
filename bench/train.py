"""Mirror training throughput against a plain sentence-transformers fit, same backbone/batch/threads.

Both sides: the same N training sentences, batch B, one epoch, AdamW lr 2e-5, mean pooling, the same
max length and thread count. MirrorBERT runs `training.mirror.trainer.fit` (span-masked second
view, InfoNCE τ = 0.04); the peer is `SentenceTransformer.fit` with MultipleNegativesRankingLoss on
(s, s) pairs. Timed: tokenisation + training steps (model loading excluded on both sides). Rounds
alternate the two engines so machine-load drift hits both alike; the median of each is reported.

    python -m bench.train [--model runs/mlm/model] [--items 1000] [--batch 64] [--threads 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from training.mirror.encoder import resolve_source
from training.mirror.trainer import MirrorConfig, fit, sample_items


def mirror_rate(cfg: MirrorConfig, items: list[str], work: Path) -> float:
    stats = fit(cfg, items, work / "mirror-model")
    if stats is None:
        raise RuntimeError("the mirror fit stopped early: stop_at must be unset for the benchmark")
    return float(stats["examples_per_s"])


def sentence_transformers_rate(cfg: MirrorConfig, items: list[str], work: Path) -> float:
    from sentence_transformers import InputExample, SentenceTransformer, losses, models
    from torch.utils.data import DataLoader

    torch.manual_seed(cfg.seed)
    backbone = models.Transformer(str(resolve_source(cfg.model)), max_seq_length=cfg.max_length)
    pooling = models.Pooling(backbone.get_word_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(modules=[backbone, pooling], device="cpu")
    examples = [InputExample(texts=[s, s]) for s in items]
    loader = DataLoader(examples, batch_size=cfg.batch_size, shuffle=True, drop_last=True)  # type: ignore[arg-type]
    loss = losses.MultipleNegativesRankingLoss(model)
    started = time.perf_counter()
    model.fit(
        train_objectives=[(loader, loss)], epochs=1, warmup_steps=0, optimizer_params={"lr": cfg.lr},
        show_progress_bar=False, output_path=None,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    return (len(items) // cfg.batch_size) * cfg.batch_size / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="runs/mlm/model", help="HF encoder dir, or 'default' (MiniLM)")
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = MirrorConfig(model=args.model, data_dir=args.data_dir, items=args.items, batch_size=args.batch,
                       threads=args.threads, device="cpu", export="none", progress=False, save_every=0, resume="never",
                       run_dir=tempfile.mkdtemp(prefix="bench-mirror-"))  # fmt: skip
    items = sample_items(cfg)
    rates: dict[str, list[float]] = {"mirror": [], "sentence-transformers": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            rates["mirror"].append(mirror_rate(cfg, items, Path(tmp)))
            rates["sentence-transformers"].append(sentence_transformers_rate(cfg, items, Path(tmp)))
    medians = {k: statistics.median(v) for k, v in rates.items()}
    ratio = medians["mirror"] / medians["sentence-transformers"]
    print(f"backbone {args.model}, {args.items} items, batch {args.batch}, threads {args.threads}, "
          f"{args.rounds} rounds (median)")  # fmt: skip
    print(f"{'engine':<24}{'examples/s':>12}")
    for name, value in medians.items():
        print(f"{name:<24}{value:>12.1f}")
    print(f"mirror / sentence-transformers = {ratio:.2f}x (target >= 0.90x)")
    print(json.dumps({"rates": rates, "ratio": ratio}))


if __name__ == "__main__":
    main()
