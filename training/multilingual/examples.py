"""Training examples from the multi-way corpus, tokenised once, batched deterministically by step."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer

from lexsent.errors import InvalidInputError
from training.multilingual.corpus import read_train, sentence_hash
from training.multilingual.vocab import VocabKind, corpus_texts, train_vocab


@dataclass(frozen=True)
class Sentences:
    """Token-id rows, padded per batch on demand."""

    ids: list[list[int]]

    def __len__(self) -> int:
        return len(self.ids)

    def batch(self, indices: Sequence[int], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
        rows = [self.ids[i] for i in indices]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
            mask[i, : len(row)] = 1
        return ids, mask


def load_rows(data_dir: Path, languages: Sequence[str], max_rows: int | None) -> list[tuple[str, dict[str, list[str]]]]:
    """Training rows restricted to `languages` (rows without any of them dropped).

    With `max_rows`, a deterministic hash-ordered sample is kept (the file is sorted alphabetically,
    so its first rows would be a biased subset)."""
    wanted = set(languages)
    rows = []
    present: set[str] = set()
    for english, translations in read_train(data_dir):
        present.update(translations)
        kept = {lang: t for lang, t in translations.items() if lang in wanted}
        if kept:
            rows.append((english, kept))
    if not rows:  # before a tokenizer is trained on nothing and saved for the next run
        raise InvalidInputError(
            f"{data_dir} has no training rows for --langs {' '.join(languages)}; its languages: "
            f"{' '.join(sorted(present)) or 'none (an empty corpus: rebuild it with `lexsent data parallel`)'}"
        )
    if max_rows is not None and len(rows) > max_rows:
        rows = sorted(sorted(rows, key=lambda row: sentence_hash(row[0]))[:max_rows])
    return rows


def shared_tokenizer(
    run_dir: Path, rows: list[tuple[str, dict[str, list[str]]]], kind: VocabKind, size: int, source: Path | None
) -> Tokenizer:
    """The run's tokenizer: an explicit file, the one saved by an earlier (resumed) run, or a new one."""
    path = run_dir / "tokenizer.json"
    if source is not None:
        tok = Tokenizer.from_file(str(source))
    elif path.exists():
        tok = Tokenizer.from_file(str(path))
    else:
        tok = train_vocab(corpus_texts(rows), kind, size)
    run_dir.mkdir(parents=True, exist_ok=True)
    tok.no_padding()
    tok.no_truncation()
    tok.save(str(path))
    return tok


def encode(tok: Tokenizer, texts: Sequence[str], max_tokens: int) -> Sentences:
    tok.enable_truncation(max_tokens)
    ids = [e.ids for e in tok.encode_batch(list(texts))]
    tok.no_truncation()
    return Sentences(ids)


class LanguageSampler:
    """Batches drawn language first: language l with probability ∝ n_l ** alpha, then a sentence of it.

    alpha = 1 is uniform over sentences; smaller alphas give low-resource languages a larger share (as XLM
    samples its languages), without which a language with 5 k of 500 k sentences is barely trained.
    A batch is a pure function of (seed, step), so resumed runs stay exact.
    """

    def __init__(self, groups: Sequence[Sequence[int]], alpha: float) -> None:
        kept = [list(g) for g in groups if g]
        sizes = torch.tensor([len(g) for g in kept], dtype=torch.float64)
        self.groups = kept
        self.probs = sizes**alpha / (sizes**alpha).sum()

    def __call__(self, batch_size: int, step: int, seed: int) -> list[int]:
        gen = torch.Generator().manual_seed(seed * 1_000_003 + step)
        counts = torch.bincount(
            torch.multinomial(self.probs, batch_size, replacement=True, generator=gen), minlength=len(self.groups)
        )
        out: list[int] = []
        for group, count in zip(self.groups, counts.tolist(), strict=True):
            out.extend(group[i] for i in torch.randint(len(group), (count,), generator=gen).tolist())
        return out


def batch_indices(n: int, batch_size: int, step: int, seed: int) -> list[int]:
    """Indices of step `step`'s batch: epochs are seeded permutations, so a batch depends on (seed, step) only."""
    start = step * batch_size
    epoch, offset = divmod(start, n)
    out: list[int] = []
    while len(out) < batch_size:
        gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
        perm = torch.randperm(n, generator=gen).tolist()
        take = perm[offset : offset + batch_size - len(out)]
        out.extend(take)
        epoch, offset = epoch + 1, 0
    return out
