"""WordPiece vocabulary trained with `tokenizers` on the MLM corpus, saved as a HF fast tokenizer.

BERT conventions (lower-casing normaliser, BERT pre-tokeniser, [CLS] $A [SEP]) so the result is a
drop-in BERT tokenizer for transformers, the exporter and the ONNX runtime alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def train_wordpiece(texts: Iterable[str], vocab_size: int) -> Tokenizer:
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=list(SPECIALS), show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    # The trainer's id order varies between runs (hash-map iteration); sort it so equal vocabularies
    # always get equal ids. Under frequency ties the chosen pieces can still differ, hence --tokenizer.
    pieces = sorted(set(tokenizer.get_vocab()) - set(SPECIALS))
    vocab = {piece: i for i, piece in enumerate([*SPECIALS, *pieces])}
    tokenizer.model = models.WordPiece(vocab, unk_token="[UNK]")
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return tokenizer


def save_hf_tokenizer(tokenizer: Tokenizer, out: Path, max_length: int) -> None:
    """tokenizer.json plus the transformers config around it (AutoTokenizer loads it offline)."""
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_length,
    )
    fast.save_pretrained(str(out))
