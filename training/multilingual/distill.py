"""Multilingual distillation (Reimers & Gurevych 2020): a student learns the teacher's English space.

The teacher (any exported bundle, by default the English MiniLM model) embeds each English sentence
once; the student is trained with MSE to map the English sentence *and* each of its translations onto
that vector. The student then inherits the teacher's geometry for English and aligns every other
language to it. The student is the BiLSTM encoder with a linear projection to the teacher's size, or a pre-trained
transformer of the teacher's width (`transformer_student`).

MSE only asks each vector to be near its target; retrieval needs it nearer to its target than to every
other sentence's, and UI strings come in near-identical families ("Open file", "Open folder", ...).
`Objective.MSE_RANK` adds that as a loss: cross-entropy of picking the sentence's own English row among
the teacher vectors of *all* training rows (the bank is fixed, so its cost is one matrix product).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lexsent.errors import InvalidInputError
from training.checkpoint import prepare_run
from training.mirror.encoder import resolve_source
from training.multilingual.bilstm import BiLstmEncoder, EncoderConfig
from training.multilingual.corpus import DEFAULT_LANGUAGES
from training.multilingual.examples import (
    LanguageSampler,
    Sentences,
    batch_indices,
    encode,
    load_rows,
    shared_tokenizer,
)
from training.multilingual.loop import LoopConfig, Outcome, Resume, train_loop
from training.multilingual.options import BILSTM, check_common
from training.multilingual.transformer_student import TransformerStudent, student_tokenizer
from training.multilingual.vocab import VocabKind, corpus_texts, special_ids, xlmr_tokenizer_path
from training.runtime import choose_device, seed_everything, set_threads

CHECKPOINT_FILE = "encoder.pt"
STUDENT_DIR = "student"  # a transformer student's Hugging Face directory
TRANSPLANT_DIR = "student-init"  # the student moved onto the XLM-R vocabulary, before training
TEACHER_CACHE = "teacher.npy"
RANK_TEMPERATURE = 0.05
# Bank rows whose teacher vector is this close to the positive's are near-duplicates ("Open file" and
# "Open File" embed identically in an uncased teacher), not negatives: they are left out of the softmax.
FALSE_NEGATIVE_COS = 0.95
# A batch runs as this many length-sorted parts, each padded to its own longest sentence: for 64 UI
# sentences (mean 18, longest 32 tokens) the MiniLM student's forward + backward took 15-22 % less
# time in two parts than in one; more parts were slower (small matrix products).
LENGTH_PARTS = 2


class Objective(StrEnum):
    MSE = "mse"  # Reimers & Gurevych 2020: squared distance to the teacher's English vector
    MSE_RANK = "mse-rank"  # that (as cosine distance) plus rank_weight x the ranking loss over all rows


class StudentVocab(StrEnum):
    OWN = "own"  # the student's own tokenizer
    XLMR = "xlmr"  # the packaged XLM-R pieces, embeddings transplanted (`transplant`)


@dataclass
class DistillConfig:
    data_dir: str = "data/parallel"
    run_dir: str = "runs/distill"
    teacher: str | None = None
    student: str = BILSTM  # or a Hugging Face encoder directory / "default" (the packaged MiniLM)
    student_vocab: StudentVocab = StudentVocab.OWN  # a transformer student's vocabulary
    languages: list[str] = field(default_factory=lambda: list(DEFAULT_LANGUAGES))
    vocab: VocabKind = VocabKind.BPE
    vocab_size: int = 8000
    tokenizer: str | None = None
    embed_dim: int = 192
    hidden: int = 256
    layers: int = 1
    dropout: float = 0.1
    max_tokens: int = 32
    max_rows: int | None = None  # all rows: a sample starves the smallest languages (docs/multilingual.md)
    objective: Objective = Objective.MSE_RANK
    rank_weight: float = 1.0
    language_alpha: float = 0.5  # batch languages drawn ∝ sentences ** alpha (1: uniform over sentences)
    batch_size: int = 64
    lr: float = 2e-3
    steps: int = 3000
    save_every: int = 250
    max_minutes: float | None = None
    stop_at: int | None = None
    seed: int = 13
    threads: int | None = None
    device: str = "auto"
    resume: Resume = Resume.AUTO
    show_progress: bool = True

    def __post_init__(self) -> None:
        check_common(self)


def teacher_path(teacher: str | None) -> Path:
    """The teacher bundle: the given directory, or the packaged MiniLM in the data directory, where
    `lexsent serve` and `encode` find it too (exported there on first use)."""
    from exporter.default_model import resolve_bundle

    return resolve_bundle(teacher or "default")


def teacher_vectors(teacher: Path, sentences: list[str], run_dir: Path, threads: int | None) -> np.ndarray:
    """Teacher embeddings of the English sentences, cached in the run dir (keyed by teacher + sentences)."""
    import lexsent

    encoder = lexsent.load(teacher, threads=threads or 2)
    key = hashlib.sha256((encoder.fingerprint + "\n" + "\n".join(sentences)).encode()).hexdigest()
    cache, stamp = run_dir / TEACHER_CACHE, run_dir / (TEACHER_CACHE + ".key")
    if cache.exists() and stamp.exists() and stamp.read_text() == key:
        return np.load(cache, allow_pickle=False)
    from tqdm import tqdm

    chunks = [encoder.encode(sentences[i : i + 512]) for i in tqdm(range(0, len(sentences), 512), desc="teacher")]
    vectors = np.concatenate(chunks).astype(np.float32)
    np.save(cache, vectors, allow_pickle=False)
    stamp.write_text(key)
    return vectors


def rank_loss(predicted: torch.Tensor, bank: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each prediction's own row among every bank row (teacher vectors, unit length)."""
    logits = nn.functional.normalize(predicted, dim=-1) @ bank.T / RANK_TEMPERATURE
    with torch.no_grad():
        near = bank[rows] @ bank.T > FALSE_NEGATIVE_COS
        near[torch.arange(len(rows), device=rows.device), rows] = False
    return nn.functional.cross_entropy(logits.masked_fill(near, float("-inf")), rows)


def _embed_in_parts(
    student: nn.Module, sources: Sentences, picked: list[int], pad: int, device: torch.device
) -> torch.Tensor:
    """The student's vectors of length-sorted `picked`, run as `LENGTH_PARTS` separately padded parts."""
    size = -(-len(picked) // LENGTH_PARTS)
    parts = []
    for start in range(0, len(picked), size):
        ids, mask = sources.batch(picked[start : start + size], pad)
        output = student(ids.to(device), mask.to(device))
        parts.append(output if isinstance(student, TransformerStudent) else output[1])
    return torch.cat(parts)


def _transplanted(source: Path, run_dir: Path, cfg: DistillConfig) -> Path:
    """The student on the XLM-R vocabulary, trimmed to the pieces of every training row (made once per run)."""
    out = run_dir / TRANSPLANT_DIR
    if (out / "tokenizer.json").exists():
        return out
    from training.multilingual.transplant import transplant

    print(f"moving {source} onto the XLM-R vocabulary: {out}")
    texts = corpus_texts(load_rows(Path(cfg.data_dir), cfg.languages, None))
    return transplant(source, xlmr_tokenizer_path(), texts, out)


def train_distill(cfg: DistillConfig) -> tuple[Path, Outcome]:
    """Train (or resume) the student; returns its checkpoint (`encoder.pt` for the BiLSTM, a Hugging Face
    directory for a transformer student) and writes the loss plot."""
    if cfg.student == BILSTM and cfg.student_vocab is not StudentVocab.OWN:
        raise InvalidInputError(
            "--student-vocab applies to a pre-trained transformer student; the BiLSTM learns its own embeddings: "
            "give it the XLM-R pieces with --vocab xlmr"
        )
    # a transformer student's directory is checked (a decoder is refused) before the teacher's vectors are made
    source = None if cfg.student == BILSTM else resolve_source(cfg.student)
    set_threads(cfg.threads)
    device = choose_device(cfg.device)
    run_dir = Path(cfg.run_dir)
    prepare_run(run_dir, cfg, cfg.resume is Resume.AUTO)
    rows = load_rows(Path(cfg.data_dir), cfg.languages, cfg.max_rows)
    teacher = teacher_path(cfg.teacher)
    targets = torch.from_numpy(teacher_vectors(teacher, [en for en, _ in rows], run_dir, cfg.threads))
    texts: list[str] = []
    target_row: list[int] = []
    by_language: dict[str, list[int]] = {}
    for row, (english, translations) in enumerate(rows):
        labelled = [("en", english), *((lang, s) for lang, group in translations.items() for s in group)]
        for language, sentence in labelled:
            by_language.setdefault(language, []).append(len(texts))
            texts.append(sentence)
            target_row.append(row)
    sampler = LanguageSampler(list(by_language.values()), cfg.language_alpha) if cfg.language_alpha != 1 else None

    student: nn.Module
    if source is None:
        tok = shared_tokenizer(run_dir, rows, cfg.vocab, cfg.vocab_size, Path(cfg.tokenizer) if cfg.tokenizer else None)
        pad, _, _ = special_ids(tok)
        seed_everything(cfg.seed)
        enc_cfg = EncoderConfig(
            tok.get_vocab_size(), pad, cfg.embed_dim, cfg.hidden, cfg.layers, cfg.dropout, projection=targets.shape[1]
        )
        student = BiLstmEncoder(enc_cfg).to(device)
    else:
        if cfg.student_vocab is StudentVocab.XLMR:
            source = _transplanted(source, run_dir, cfg)
        tok, pad = student_tokenizer(source)
        seed_everything(cfg.seed)
        student = TransformerStudent(source, cfg.dropout).to(device)
        if student.dim != targets.shape[1]:
            raise InvalidInputError(
                f"--student {source} embeds in {student.dim} dimensions, the teacher in {targets.shape[1]}: "
                "pick a student of the teacher's width"
            )
    sources = encode(tok, texts, cfg.max_tokens)
    targets = targets.to(device)

    def batch_loss(step: int) -> torch.Tensor:
        if sampler is None:
            picked = batch_indices(len(sources), cfg.batch_size, step, cfg.seed)
        else:
            picked = sampler(cfg.batch_size, step, cfg.seed)
        picked = sorted(picked, key=lambda i: len(sources.ids[i]))
        predicted = _embed_in_parts(student, sources, picked, pad, device)
        picked_rows = torch.tensor([target_row[i] for i in picked], device=device)
        mse = nn.functional.mse_loss(predicted, targets[picked_rows])
        if cfg.objective is Objective.MSE:
            return mse
        # mse x dim / 2 is the mean cosine distance for unit vectors: both terms on the same footing.
        return mse * targets.shape[1] / 2 + cfg.rank_weight * rank_loss(predicted, targets, picked_rows)

    loop = LoopConfig.of(cfg)
    outcome = train_loop(student, batch_loss, run_dir, loop, f"distill {cfg.student} ({len(sources)} sentences)")
    if isinstance(student, TransformerStudent):
        return student.save(run_dir / STUDENT_DIR), outcome
    path = run_dir / CHECKPOINT_FILE
    saved = {
        "config": enc_cfg.to_dict(),
        "state": student.state_dict(),
        "languages": ["en", *cfg.languages],
        "extra": {"teacher": str(teacher)},
    }
    torch.save(saved, path)
    return path, outcome
