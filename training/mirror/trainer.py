"""MirrorBERT training (Liu et al., 2021): self-duplication + span masking + dropout + InfoNCE.

Each item is duplicated; one copy gets a random span of k characters (the authors' code; or tokens)
masked; both go through the same
encoder in train mode (dropout p makes even identical inputs differ); InfoNCE with temperature τ pulls
each pair together against the other in-batch items. Defaults follow the paper: 10k items, batch 200,
AdamW lr 2e-5, 1 epoch (sentence, τ = 0.04) or 2 epochs (word, τ = 0.2). Batch 200 runs as one
batch on CPU too (no accumulation: in-batch negatives need the whole batch in one forward).
The final step exports an ONNX bundle to `<models-dir>/<name>` and records its held-out scores.
Checkpoints every `save_every` steps (model, optimizer, masking generator, RNGs) let a killed run resume
exactly where it stopped, like the MLM, LASER and distillation runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, fields
from pathlib import Path

import torch

from training.checkpoint import TrainingState, prepare_run
from training.data.lines import read_lines
from training.data.splits import EvalGuard
from training.mirror.augment import SpanUnit, mask_char_span, mask_random_span
from training.mirror.encoder import DropHead, PoolingMode, load_backbone, pool, resolve_source
from training.mirror.loss import info_nce
from training.plot import plot_loss
from training.progress import LossLog, progress
from training.runtime import choose_device, generator_for, seed_everything, set_threads
from training.validation import require, require_finite_loss

MODE_DEFAULTS = {"sentence": {"epochs": 1, "temperature": 0.04, "max_length": 64},
                 "word": {"epochs": 2, "temperature": 0.2, "max_length": 16}}  # fmt: skip
SOURCES = {"sentence": "sentences.train.txt", "word": "words.train.txt"}


@dataclass
class MirrorConfig:
    model: str = "runs/mlm/model"
    mode: str = "sentence"
    data_dir: str = "data"
    run_dir: str | None = None
    name: str | None = None
    models_dir: str = "models"
    items: int = 10000
    epochs: int | None = None
    batch_size: int = 200
    lr: float = 2e-5
    temperature: float | None = None
    span: int = 5
    span_unit: SpanUnit = SpanUnit.CHAR
    dropout: float = 0.1
    drophead: float = 0.0
    pooling: str = "mean"
    max_length: int | None = None
    seed: int = 13
    threads: int | None = None
    device: str = "auto"
    export: str = "bundle"
    progress: bool = True
    save_every: int = 10  # steps between checkpoints; 0 = none
    resume: str = "auto"  # "auto": continue from the run dir's latest checkpoint; "never": start afresh
    stop_at: int | None = None  # stop (checkpointed) at this step without finishing: used to test resume

    def __post_init__(self) -> None:
        defaults = MODE_DEFAULTS[self.mode]
        self.span_unit = SpanUnit(self.span_unit)
        self.epochs = int(defaults["epochs"]) if self.epochs is None else self.epochs
        self.temperature = float(defaults["temperature"]) if self.temperature is None else self.temperature
        self.max_length = int(defaults["max_length"]) if self.max_length is None else self.max_length
        self.name = self.name or f"mirror-{self.mode}"
        self.run_dir = self.run_dir or f"runs/{self.name}"
        require(self.items >= 2, f"--items must be at least 2 (an item's negatives are the others), got {self.items}")
        require(self.batch_size >= 2, f"--batch-size must be at least 2 (in-batch negatives), got {self.batch_size}")
        require(self.epochs >= 1, f"--epochs must be at least 1, got {self.epochs}")
        require(self.lr > 0, f"--lr must be positive, got {self.lr}")
        require(self.temperature > 0, f"--temperature must be positive, got {self.temperature}")
        require(self.span >= 0, f"--span must be 0 (no masking) or more, got {self.span}")
        require(0 <= self.dropout < 1 and 0 <= self.drophead < 1, "--dropout and --drophead must be in [0, 1)")
        require(self.max_length >= 2, f"--max-length must be at least 2, got {self.max_length}")
        require(self.save_every >= 0, f"--save-every must be 0 (none) or more, got {self.save_every}")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> MirrorConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in vars(args).items() if k in names})


def sample_items(cfg: MirrorConfig) -> list[str]:
    """`items` training texts drawn (seeded) from the train side, checked against the eval guard."""
    path = Path(cfg.data_dir) / SOURCES[cfg.mode]
    pool_ = read_lines(path, Path(cfg.data_dir))
    require(len(pool_) >= 2, f"{path} has {len(pool_)} item; contrastive training needs at least 2")
    if cfg.items > len(pool_):
        print(f"mirror: {path} has {len(pool_)} items; training on all of them (--items {cfg.items})", file=sys.stderr)
    order = torch.randperm(len(pool_), generator=generator_for(cfg.seed)).tolist()
    items = [pool_[i] for i in order[: cfg.items]]
    EvalGuard.load(Path(cfg.data_dir)).check(items)
    return items


class MirrorModel(torch.nn.Module):
    def __init__(self, backbone: torch.nn.Module, pooling: PoolingMode) -> None:
        super().__init__()
        self.backbone, self.pooling = backbone, pooling

    def forward(self, input_ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention).last_hidden_state
        return pool(hidden, attention, self.pooling)


def _pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        attention[i, : len(r)] = 1
    return ids, attention


def fit(cfg: MirrorConfig, items: list[str], model_dir: Path) -> dict[str, float] | None:
    """Train (or resume) and save the tuned HF encoder to `model_dir`; returns throughput figures of this
    process's steps, or None when stopped (checkpointed) at `stop_at`."""
    from transformers import AutoTokenizer

    set_threads(cfg.threads)
    device = choose_device(cfg.device)
    seed_everything(cfg.seed)
    source = resolve_source(cfg.model)
    tokenizer = AutoTokenizer.from_pretrained(str(source), local_files_only=True)
    backbone = load_backbone(source, cfg.dropout)
    model = MirrorModel(backbone, PoolingMode(cfg.pooling)).to(device).train()
    gen = generator_for(cfg.seed + 1)
    drophead = DropHead(backbone, cfg.drophead, backbone.config.num_attention_heads, gen) if cfg.drophead else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    run_dir = Path(str(cfg.run_dir))
    log = LossLog(run_dir)
    constant = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)  # the paper uses a fixed lr
    state = TrainingState(run_dir, model, optimizer, constant, {"mask_gen": gen})
    start = state.resume(cfg.resume == "auto", log)
    started = time.perf_counter()  # throughput counts tokenisation too, as a sentence-transformers fit does
    encoded = tokenizer(items, truncation=True, max_length=cfg.max_length)["input_ids"]
    per_epoch = len(encoded) // cfg.batch_size or 1
    total = per_epoch * int(cfg.epochs or 1)
    bar = progress(total, start, f"mirror ({cfg.mode})", cfg.progress)
    step = start
    for epoch in range(start // per_epoch, int(cfg.epochs or 1)):
        order = torch.randperm(len(encoded), generator=generator_for(cfg.seed * 1000 + epoch)).tolist()
        for b in range(step - epoch * per_epoch, per_epoch):
            if step == cfg.stop_at:
                state.save(step)
                bar.close()
                return None
            picked = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            rows = [encoded[i] for i in picked]
            if cfg.span_unit is SpanUnit.CHAR:
                views = [mask_char_span(items[i], cfg.span, tokenizer.mask_token, gen) for i in picked]
                masked_rows = tokenizer(views, truncation=True, max_length=cfg.max_length)["input_ids"]
                ids, attention = _pad(rows + masked_rows, tokenizer.pad_token_id)
            else:
                plain, plain_attention = _pad(rows, tokenizer.pad_token_id)
                masked = mask_random_span(plain, plain_attention, cfg.span, tokenizer.mask_token_id, gen)
                ids, attention = torch.cat([plain, masked]), torch.cat([plain_attention, plain_attention])
            both = model(ids.to(device), attention.to(device))
            loss = info_nce(both[: len(rows)], both[len(rows) :], float(cfg.temperature))
            require_finite_loss(loss.item(), step, cfg.lr)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            log.append(step, loss=loss.item(), epoch=epoch)
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
            if cfg.save_every and (step % cfg.save_every == 0 or step == total):
                state.save(step)
    bar.close()
    elapsed = time.perf_counter() - started
    if drophead:
        drophead.remove()
    model_dir.mkdir(parents=True, exist_ok=True)
    backbone.save_pretrained(str(model_dir))
    tokenizer.save_pretrained(str(model_dir))
    plot_loss(run_dir, f"MirrorBERT ({cfg.mode}, τ={cfg.temperature}, batch {cfg.batch_size})")
    done = step - start
    examples = done * min(cfg.batch_size, len(encoded))  # a pool smaller than a batch is one short batch
    return {"steps": done, "seconds": elapsed, "examples_per_s": examples / elapsed}


def _fit_positions(cfg: MirrorConfig) -> None:
    """Clamp --max-length to the backbone's positions (a small MLM may have 16 or 32): longer inputs would
    fail in the middle of training, when a batch first holds a long one."""
    from exporter.source import read_source

    positions = read_source(resolve_source(cfg.model)).max_length
    if positions and int(cfg.max_length or 0) > positions:
        print(f"mirror: --max-length {cfg.max_length} exceeds the model's {positions} positions; using {positions}",
              file=sys.stderr)  # fmt: skip
        cfg.max_length = positions


def _require_export_target(cfg: MirrorConfig) -> None:
    """Checked before training, not after: a bad --name or a folder in the way would waste the whole run."""
    from exporter.staging import require_bundle_name, require_replaceable

    require_bundle_name(str(cfg.name), "set --name")
    require_replaceable(Path(cfg.models_dir) / str(cfg.name), choose="another --name or --models-dir")


def _kind(cfg: MirrorConfig) -> str:
    return "sentence" if cfg.mode == "sentence" else "lexical"


def _eval_args(cfg: MirrorConfig) -> argparse.Namespace:
    return argparse.Namespace(task=None, data_dir=cfg.data_dir, threads=cfg.threads or 2)


def _check_eval_data(cfg: MirrorConfig) -> None:
    """The held-out sets the exported bundle is scored on, read before training rather than after it."""
    from training.evaluation.english import TASKS

    for task in TASKS:
        if _kind(cfg) in task.kinds and task.check is not None:
            task.check(_eval_args(cfg))


def train_mirror(cfg: MirrorConfig) -> Path | None:
    """Train (or resume), then (export=bundle) export to `<models_dir>/<name>` and record held-out scores;
    None when stopped early at `stop_at`."""
    _fit_positions(cfg)
    if cfg.export == "bundle":
        _require_export_target(cfg)
        _check_eval_data(cfg)
    run_dir = Path(str(cfg.run_dir))
    prepare_run(run_dir, cfg, cfg.resume == "auto")
    items = sample_items(cfg)
    model_dir = run_dir / "model"
    stats = fit(cfg, items, model_dir)
    if stats is None:
        return None
    (run_dir / "throughput.json").write_text(json.dumps(stats, indent=2) + "\n")
    if cfg.export == "none":
        return model_dir
    from exporter.export import export_bundle
    from exporter.source import read_source
    from training.evaluation.english import TASKS
    from training.evaluation.run import evaluate, record

    kind = _kind(cfg)
    positions = read_source(model_dir).max_length or int(cfg.max_length or 64)
    bundle = export_bundle(
        model_dir, Path(cfg.models_dir) / str(cfg.name), pooling=cfg.pooling, normalize=True,
        max_length=min(int(cfg.max_length or 64), positions) if cfg.mode == "sentence" else None,
        name=cfg.name, kind=kind, threads=cfg.threads or 2,
    )  # fmt: skip
    scores = evaluate(bundle, TASKS, _eval_args(cfg))
    record(bundle, scores)
    print(json.dumps(scores, indent=2))
    return bundle
