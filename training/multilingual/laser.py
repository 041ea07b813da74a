"""LASER training (Artetxe & Schwenk 2019): BiLSTM encoder + LSTM decoder over a shared vocabulary.

The decoder sees the source only through the max-pooled sentence embedding (no attention), and is
told which language to produce by a target-language embedding. Every language is translated into
English and English into a second target language, which forces all languages into one space.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from tokenizers import Tokenizer
from torch import nn

from training.checkpoint import prepare_run
from training.multilingual.bilstm import BiLstmEncoder, EncoderConfig
from training.multilingual.corpus import DEFAULT_LANGUAGES
from training.multilingual.examples import Sentences, batch_indices, encode, load_rows, shared_tokenizer
from training.multilingual.loop import LoopConfig, Outcome, Resume, train_loop
from training.multilingual.options import check_common
from training.multilingual.vocab import VocabKind, special_ids
from training.runtime import choose_device, seed_everything, set_threads
from training.validation import require

CHECKPOINT_FILE = "encoder.pt"


@dataclass
class LaserConfig:
    data_dir: str = "data/parallel"
    run_dir: str = "runs/laser"
    languages: list[str] = field(default_factory=lambda: list(DEFAULT_LANGUAGES))
    second_target: str = "es"
    vocab: VocabKind = VocabKind.BPE
    vocab_size: int = 8000
    tokenizer: str | None = None
    embed_dim: int = 192
    hidden: int = 256
    layers: int = 1
    decoder_hidden: int = 384
    lang_dim: int = 32
    dropout: float = 0.1
    max_tokens: int = 32
    max_rows: int | None = None
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


class LaserDecoder(nn.Module):
    """LSTM language model conditioned on the sentence embedding (init state + every input step)."""

    def __init__(self, vocab: int, pad_id: int, sentence_dim: int, languages: int, cfg: LaserConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, cfg.embed_dim, padding_idx=pad_id)
        self.language = nn.Embedding(languages, cfg.lang_dim)
        self.init = nn.Linear(sentence_dim, 2 * cfg.decoder_hidden)
        self.lstm = nn.LSTM(cfg.embed_dim + sentence_dim + cfg.lang_dim, cfg.decoder_hidden, batch_first=True)
        self.dropout = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(cfg.decoder_hidden, vocab)

    def forward(self, sentence: torch.Tensor, language: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        steps = previous.shape[1]
        context = torch.cat([sentence, self.language(language)], dim=1).unsqueeze(1).expand(-1, steps, -1)
        inputs = torch.cat([self.dropout(self.embed(previous)), context], dim=2)
        h0, c0 = torch.tanh(self.init(sentence)).chunk(2, dim=1)
        states, _ = self.lstm(inputs, (h0.unsqueeze(0).contiguous(), c0.unsqueeze(0).contiguous()))
        logits: torch.Tensor = self.out(self.dropout(states))
        return logits


class Laser(nn.Module):
    def __init__(self, encoder: BiLstmEncoder, decoder: LaserDecoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder


@dataclass(frozen=True)
class TranslationPairs:
    """Parallel source/target token rows plus the target-language id of each pair."""

    source: Sentences
    target: Sentences
    target_language: list[int]


def build_pairs(
    rows: list[tuple[str, dict[str, list[str]]]], cfg: LaserConfig, tok: Tokenizer, bos: int
) -> TranslationPairs:
    """xx→en for every translation, en→second target where the English row has one."""
    names = ["en", *cfg.languages]
    src: list[str] = []
    tgt: list[str] = []
    lang: list[int] = []
    for english, translations in rows:
        for language, sentences in translations.items():
            for sentence in sentences:
                src.append(sentence)
                tgt.append(english)
                lang.append(0)
                if language == cfg.second_target:
                    src.append(english)
                    tgt.append(sentence)
                    lang.append(names.index(language))
    target = encode(tok, tgt, cfg.max_tokens)
    # The decoder input is <s> + target; drop the tokenizer's own leading <s> (XLM-R adds one).
    target = Sentences([ids[1:] if ids and ids[0] == bos else ids for ids in target.ids])
    return TranslationPairs(encode(tok, src, cfg.max_tokens), target, lang)


def train_laser(cfg: LaserConfig) -> tuple[Path, Outcome]:
    """Train (or resume) LASER; writes `<run_dir>/encoder.pt` (encoder config + weights) and the loss plot."""
    require(
        cfg.second_target in cfg.languages,
        f"--second-target {cfg.second_target} is not among --langs {' '.join(cfg.languages)}; add it to --langs or "
        "choose one of them",
    )
    set_threads(cfg.threads)
    device = choose_device(cfg.device)
    run_dir = Path(cfg.run_dir)
    prepare_run(run_dir, cfg, cfg.resume is Resume.AUTO)
    rows = load_rows(Path(cfg.data_dir), cfg.languages, cfg.max_rows)
    tok = shared_tokenizer(run_dir, rows, cfg.vocab, cfg.vocab_size, Path(cfg.tokenizer) if cfg.tokenizer else None)
    pad, bos, _ = special_ids(tok)
    pairs = build_pairs(rows, cfg, tok, bos)

    seed_everything(cfg.seed)
    enc_cfg = EncoderConfig(tok.get_vocab_size(), pad, cfg.embed_dim, cfg.hidden, cfg.layers, cfg.dropout)
    decoder = LaserDecoder(tok.get_vocab_size(), pad, enc_cfg.dim, 1 + len(cfg.languages), cfg)
    model = Laser(BiLstmEncoder(enc_cfg), decoder).to(device)

    def batch_loss(step: int) -> torch.Tensor:
        picked = batch_indices(len(pairs.source), cfg.batch_size, step, cfg.seed)
        src, src_mask = pairs.source.batch(picked, pad)
        tgt, _ = pairs.target.batch(picked, pad)
        previous = torch.cat([torch.full((len(picked), 1), bos, dtype=torch.long), tgt[:, :-1]], dim=1)
        language = torch.tensor([pairs.target_language[i] for i in picked], dtype=torch.long)
        _, sentence = model.encoder(src.to(device), src_mask.to(device))
        logits = model.decoder(sentence, language.to(device), previous.to(device))
        return nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), tgt.to(device).reshape(-1), ignore_index=pad
        )

    loop = LoopConfig.of(cfg)
    outcome = train_loop(model, batch_loss, run_dir, loop, f"laser ({len(pairs.source)} pairs)")
    path = run_dir / CHECKPOINT_FILE
    torch.save(
        {"config": enc_cfg.to_dict(), "state": model.encoder.state_dict(), "languages": ["en", *cfg.languages]}, path
    )
    return path, outcome
