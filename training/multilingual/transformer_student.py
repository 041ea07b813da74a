"""A pre-trained transformer as the distillation student (Reimers & Gurevych 2020's recommended setup).

Starting from an encoder that already embeds English well (by default the teacher's own backbone, the
packaged MiniLM) the student only has to pull translations onto the English vectors, which is far
cheaper than learning a sentence space from scratch like the BiLSTM. Output = mask-aware mean pooling,
L2-normalised: exactly what the exporter bakes into the ONNX graph (`pooling=mean`, `normalize=True`),
and on the teacher's (normalised) scale, so MSE compares like with like.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from tokenizers import Tokenizer
from torch import nn

from lexsent.tokenizer import pad_token_id
from training.mirror.encoder import PoolingMode, load_backbone, pool

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


class TransformerStudent(nn.Module):
    def __init__(self, source: Path, dropout: float) -> None:
        super().__init__()
        self.source = source
        self.backbone = load_backbone(source, dropout)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = self.backbone(input_ids=ids, attention_mask=mask).last_hidden_state
        return nn.functional.normalize(pool(hidden, mask, PoolingMode.MEAN), dim=-1)

    @property
    def dim(self) -> int:
        return int(self.backbone.config.hidden_size)

    def save(self, out: Path) -> Path:
        """A plain Hugging Face directory (weights, config, the source's tokenizer files) for `lexsent export`."""
        out.mkdir(parents=True, exist_ok=True)
        self.backbone.save_pretrained(str(out))
        for name in TOKENIZER_FILES:
            if (self.source / name).exists():
                shutil.copy(self.source / name, out / name)
        return out


def plain_tokenizer(path: Path) -> Tokenizer:
    """A tokenizer.json with its saved padding and truncation switched off (a saved tokenizer may pad every
    text to a fixed length, which would leak padding ids into whatever reads the encodings)."""
    tok = Tokenizer.from_file(str(path))
    tok.no_padding()
    tok.no_truncation()
    return tok


def student_tokenizer(source: Path) -> tuple[Tokenizer, int]:
    """The student's own tokenizer (its vocabulary is tied to its embeddings) and its padding id."""
    tok = plain_tokenizer(source / "tokenizer.json")
    pad_id = pad_token_id(tok)
    if pad_id is None:
        raise RuntimeError(f"{source / 'tokenizer.json'} has no padding token ([PAD], <pad> or <PAD>)")
    return tok, pad_id
