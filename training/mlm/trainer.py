"""The MLM pre-training loop: WordPiece vocab → small BERT → masked LM, with exact resume.

Resume is exact because everything random is either derived from (seed, epoch) — the data order —
or checkpointed — model, optimizer, scheduler, the masking generator and every global RNG (dropout).
A run interrupted at step k and resumed produces bit-identical weights to an uninterrupted run.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer

from lexsent.errors import InvalidInputError
from training.checkpoint import TrainingState, prepare_run
from training.data.lines import read_lines
from training.data.splits import EvalGuard
from training.mlm.masking import IGNORE, Masking, mask_batch
from training.mlm.vocab import SPECIALS, save_hf_tokenizer, train_wordpiece
from training.plot import plot_loss
from training.progress import LossLog, progress
from training.runtime import (
    choose_device,
    generator_for,
    seed_everything,
    set_threads,
)
from training.validation import require, require_at_least, require_finite_loss


@dataclass
class MlmConfig:
    data_dir: str = "data"
    run_dir: str = "runs/mlm"
    out: str = "runs/mlm/model"
    masking: str = "whole-word"
    vocab_size: int = 8000
    layers: int = 4
    hidden: int = 256
    heads: int = 4
    max_length: int = 64
    batch_size: int = 64
    lr: float = 5e-4
    steps: int = 10000  # about 20-25 min on 2 idle CPU cores (measured, docs/training.md)
    max_minutes: float | None = None
    save_every: int = 500
    seed: int = 13
    threads: int | None = None
    device: str = "auto"
    resume: str = "auto"
    tokenizer: str | None = None  # reuse this tokenizer.json instead of training a vocabulary
    corpus_limit: int | None = None
    stop_at: int | None = None  # stop (checkpointed) at this step without finishing: used to test resume
    progress: bool = True

    def __post_init__(self) -> None:
        require(self.steps >= 1, f"--steps must be at least 1, got {self.steps}")
        require(self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}")
        require(self.lr > 0, f"--lr must be positive, got {self.lr}")
        require(self.save_every >= 1, f"--save-every must be at least 1, got {self.save_every}")
        require_at_least(1, layers=self.layers, heads=self.heads, hidden=self.hidden)
        require(self.hidden % self.heads == 0, f"--hidden {self.hidden} must be a multiple of --heads {self.heads}")
        require(self.max_length >= 8, f"--max-length must be at least 8, got {self.max_length}")
        require(self.vocab_size >= 100, f"--vocab-size must be at least 100, got {self.vocab_size}")
        require(self.max_minutes is None or self.max_minutes > 0, "--max-minutes must be positive")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> MlmConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in vars(args).items() if k in names})


def _corpus(cfg: MlmConfig) -> list[str]:
    lines = read_lines(Path(cfg.data_dir) / "mlm_corpus.txt", Path(cfg.data_dir))
    lines = lines[: cfg.corpus_limit] if cfg.corpus_limit else lines
    EvalGuard.load(Path(cfg.data_dir)).check(lines)
    return lines


def _tokenizer(cfg: MlmConfig, lines: list[str], run_dir: Path) -> Tokenizer:
    path = run_dir / "tokenizer.json"
    if path.exists():  # resuming (`prepare_run` removed it otherwise): keep the checkpoint's vocabulary
        return Tokenizer.from_file(str(path))
    if cfg.tokenizer:
        tokenizer = _given_tokenizer(cfg.tokenizer)
        tokenizer.save(str(path))
        return tokenizer
    tokenizer = train_wordpiece(lines, cfg.vocab_size)
    tokenizer.save(str(path))
    return tokenizer


def _given_tokenizer(source: str) -> Tokenizer:
    """A --tokenizer file, checked before it is copied into the run: masking needs BERT's special tokens
    at ids 0-4 (as `train_wordpiece` makes them), since random replacement draws from the ids above."""
    try:
        tokenizer = Tokenizer.from_file(source)
    except Exception as exc:  # tokenizers raises a bare Exception for a missing or malformed file
        raise InvalidInputError(f"--tokenizer {source}: cannot load it as a tokenizers JSON file ({exc})") from None
    ids = {token: tokenizer.token_to_id(token) for token in SPECIALS}
    if any(ids[token] != i for i, token in enumerate(SPECIALS)):
        found = ", ".join(f"{token}={ids[token]}" for token in SPECIALS)
        raise InvalidInputError(
            f"--tokenizer {source}: the MLM trainer needs {', '.join(SPECIALS)} at ids 0-4 (found {found}); "
            "use a vocabulary trained by `lexsent train mlm`, or omit --tokenizer to train one"
        )
    return tokenizer


def _build_model(cfg: MlmConfig, vocab_size: int) -> torch.nn.Module:
    from transformers import BertConfig, BertForMaskedLM

    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=cfg.hidden,
        num_hidden_layers=cfg.layers,
        num_attention_heads=cfg.heads,
        intermediate_size=4 * cfg.hidden,
        max_position_embeddings=cfg.max_length,
        type_vocab_size=2,
        pad_token_id=0,
    )
    return BertForMaskedLM(config)


def _linear_schedule(total: int) -> Any:
    warmup = max(1, total // 20)
    return lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup)))


class Batches:
    """Step → batch, derived from (seed, epoch) so a resumed run sees the same order.

    Each epoch is a random permutation cut into windows of `bucket` batches; inside a window rows
    are sorted by length, so batches pad little (CPU time goes to tokens, not padding) but stay random.
    """

    def __init__(
        self,
        ids: list[list[int]],
        words: list[list[int | None]],
        batch_size: int,
        seed: int,
        bucket: int = 50,
    ) -> None:
        self.ids, self.words, self.batch_size, self.seed, self.bucket = ids, words, batch_size, seed, bucket
        self.per_epoch = max(1, len(ids) // batch_size)
        self._epoch, self._order = -1, torch.empty(0, dtype=torch.long)

    def _epoch_order(self, epoch: int) -> torch.Tensor:
        gen = generator_for(self.seed + epoch)
        order = torch.randperm(len(self.ids), generator=gen).tolist()
        window = self.bucket * self.batch_size
        batches: list[list[int]] = []
        for start in range(0, len(order), window):
            chunk = sorted(order[start : start + window], key=lambda r: len(self.ids[r]))
            batches.extend(chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size))
        shuffled = torch.randperm(len(batches), generator=gen).tolist()
        return torch.tensor([r for b in shuffled for r in batches[b]], dtype=torch.long)

    def __call__(self, step: int) -> tuple[torch.Tensor, torch.Tensor, list[list[int | None]]]:
        epoch, index = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            self._epoch, self._order = epoch, self._epoch_order(epoch)
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size].tolist()
        width = max(len(self.ids[r]) for r in rows)
        input_ids = torch.zeros((len(rows), width), dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            input_ids[i, : len(self.ids[r])] = torch.tensor(self.ids[r])
            attention[i, : len(self.ids[r])] = 1
        words = [self.words[r] + [None] * (width - len(self.words[r])) for r in rows]
        return input_ids, attention, words


def masked_lm_loss(
    model: torch.nn.Module, inputs: torch.Tensor, attention: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """Cross-entropy on the masked positions only: the vocabulary projection runs on ~15% of the
    tokens instead of all of them (the same loss BertForMaskedLM computes, at a fraction of the cost)."""
    hidden = model.bert(input_ids=inputs, attention_mask=attention).last_hidden_state
    picked = labels != IGNORE
    logits = model.cls(hidden[picked])
    return torch.nn.functional.cross_entropy(logits, labels[picked])


def train_mlm(cfg: MlmConfig) -> Path | None:
    """Train (or resume) and write the HF model dir; None when stopped early by max_minutes / stop_at."""
    set_threads(cfg.threads)
    device = choose_device(cfg.device)
    run_dir, out = Path(cfg.run_dir), Path(cfg.out)
    prepare_run(run_dir, cfg, cfg.resume == "auto")
    lines = _corpus(cfg)
    tokenizer = _tokenizer(cfg, lines, run_dir)
    tokenizer.enable_truncation(cfg.max_length)
    encodings = tokenizer.encode_batch(lines)
    batches = Batches([e.ids for e in encodings], [e.word_ids for e in encodings], cfg.batch_size, cfg.seed * 1000)

    seed_everything(cfg.seed)
    model = _build_model(cfg, tokenizer.get_vocab_size()).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _linear_schedule(cfg.steps))
    mask_gen = generator_for(cfg.seed + 1)
    log = LossLog(run_dir)
    state = TrainingState(run_dir, model, optimizer, scheduler, {"mask_gen": mask_gen})
    step = state.resume(cfg.resume == "auto", log)

    def save() -> None:
        state.save(step)

    mask_id, special = tokenizer.token_to_id("[MASK]"), len(SPECIALS)
    deadline = time.monotonic() + 60 * cfg.max_minutes if cfg.max_minutes else None
    model.train()
    bar = progress(cfg.steps, step, f"mlm ({cfg.masking})", cfg.progress)
    while step < cfg.steps:
        input_ids, attention, words = batches(step)
        inputs, labels = mask_batch(
            input_ids, words, Masking(cfg.masking), mask_gen, mask_id, tokenizer.get_vocab_size(), special
        )
        loss = masked_lm_loss(model, inputs.to(device), attention.to(device), labels.to(device))
        require_finite_loss(loss.item(), step, scheduler.get_last_lr()[0])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        log.append(step, loss=loss.item(), lr=scheduler.get_last_lr()[0])
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}")
        if step % cfg.save_every == 0:
            save()
        if (cfg.stop_at is not None and step >= cfg.stop_at) or (deadline and time.monotonic() > deadline):
            save()
            bar.close()
            return None
    bar.close()
    save()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    save_hf_tokenizer(tokenizer, out, cfg.max_length)
    plot_loss(run_dir, f"MLM pre-training ({cfg.masking} masking)")
    return out
