"""Tiny randomly initialised encoders of each family, with real tokenizers of every model type.

They exercise the exporter's code paths (token_type_ids present or absent, position offsets, every
tokenizer model) in seconds; parity, not quality, is what they are for. The tokenizers (WordPiece, byte-level
BPE, Unigram) were trained once with `tokenizers` on the probe texts and a few sentences and are stored in
tests/fixtures/tokenizers: training them per run is not deterministic across processes (ties between merges
are broken in hash order), and a fixture that differs from run to run makes thresholds downstream flaky.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer
from transformers import AutoConfig, AutoModel

FAMILIES = ("bert", "minilm", "roberta", "xlm-roberta", "distilbert")
TOKENIZERS = Path(__file__).resolve().parents[1] / "fixtures" / "tokenizers"
TOKENIZER_OF = {"roberta": "byte-bpe", "xlm-roberta": "unigram"}  # the BERT family: wordpiece


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
    tok = Tokenizer.from_file(str(TOKENIZERS / f"{TOKENIZER_OF.get(family, 'wordpiece')}.json"))
    settings = _config(family, tok.get_vocab_size())
    model_type = str(settings.pop("model_type"))
    config = AutoConfig.for_model(model_type, **settings)
    torch.manual_seed(seed)
    model = AutoModel.from_config(config).eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok.save(str(out / "tokenizer.json"))
    return out


# Tiny models that are not bidirectional encoders (refused by the exporter and the trainers), with the
# settings each config needs to be small.
NON_ENCODERS: dict[str, dict[str, object]] = {
    "gpt2": {"n_layer": 1, "n_embd": 32, "n_head": 2, "n_positions": 64, "bos_token_id": 0, "eos_token_id": 0},
    "t5": {"d_model": 32, "d_kv": 16, "d_ff": 64, "num_layers": 1, "num_heads": 2},
    "bart": {
        "d_model": 32,
        "encoder_layers": 1,
        "decoder_layers": 1,
        "encoder_attention_heads": 2,
        "decoder_attention_heads": 2,
        "encoder_ffn_dim": 64,
        "decoder_ffn_dim": 64,
        "max_position_embeddings": 64,
    },
}


def make_tiny_non_encoder(model_type: str, out: Path, **settings: object) -> Path:
    """A complete Hugging Face directory (weights and the WordPiece tokenizer) of a decoder-only or
    encoder-decoder `model_type` from NON_ENCODERS: what `lexsent export` would otherwise go on to load."""
    tok = Tokenizer.from_file(str(TOKENIZERS / "wordpiece.json"))
    config = AutoConfig.for_model(model_type, vocab_size=tok.get_vocab_size(), **NON_ENCODERS[model_type], **settings)
    torch.manual_seed(0)
    out.mkdir(parents=True, exist_ok=True)
    AutoModel.from_config(config).save_pretrained(out)
    tok.save(str(out / "tokenizer.json"))
    return out
