"""Tiny randomly initialised encoders of each family, with real tokenizers trained on a few sentences.

They exercise the exporter's code paths (token_type_ids present or absent, position offsets, every
tokenizer model) in seconds; parity, not quality, is what they are for.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import AutoConfig, AutoModel

from exporter.probes import PROBE_TEXTS

CORPUS = [
    *PROBE_TEXTS,
    "Sentence encoders turn text into vectors.",
    "Similar sentences should have similar vectors, unrelated ones should not.",
    "The server answers embedding requests over HTTP and gRPC.",
] * 4
FAMILIES = ("bert", "minilm", "roberta", "xlm-roberta", "distilbert")


def _wordpiece() -> Tokenizer:
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(CORPUS, trainers.WordPieceTrainer(vocab_size=400, special_tokens=specials))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    tok.decoder = decoders.WordPiece()
    return tok


def _byte_bpe() -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    trainer = trainers.BpeTrainer(
        vocab_size=500, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS, trainer)
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    tok.decoder = decoders.ByteLevel()
    return tok


def _unigram() -> Tokenizer:
    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok.train_from_iterator(CORPUS, trainers.UnigramTrainer(vocab_size=300, special_tokens=specials, unk_token="<unk>"))
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    return tok


def _config(family: str, vocab: int) -> dict[str, object]:
    small = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
    if family == "distilbert":
        return {
            "model_type": "distilbert",
            "vocab_size": vocab,
            "dim": 32,
            "n_layers": 2,
            "n_heads": 2,
            "hidden_dim": 64,
            "max_position_embeddings": 64,
            "pad_token_id": 0,
        }
    if family in ("roberta", "xlm-roberta"):
        return {
            "model_type": family,
            "vocab_size": vocab,
            **small,
            "max_position_embeddings": 66,
            "type_vocab_size": 1,
            "pad_token_id": 1,
            "bos_token_id": 0,
            "eos_token_id": 2,
        }
    hidden = {"hidden_size": 48, "num_attention_heads": 4} if family == "minilm" else {}
    return {
        "model_type": "bert",
        "vocab_size": vocab,
        **small,
        **hidden,
        "max_position_embeddings": 64,
        "type_vocab_size": 2,
        "pad_token_id": 0,
    }


def make_tiny_model(family: str, out: Path, seed: int = 0) -> Path:
    """Write a Hugging Face directory (config, safetensors weights, tokenizer.json) for `family`."""
    tok = {"roberta": _byte_bpe, "xlm-roberta": _unigram}.get(family, _wordpiece)()
    settings = _config(family, tok.get_vocab_size())
    model_type = str(settings.pop("model_type"))
    config = AutoConfig.for_model(model_type, **settings)
    torch.manual_seed(seed)
    model = AutoModel.from_config(config).eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok.save(str(out / "tokenizer.json"))
    return out
