"""LASER's sentence encoder: stacked BiLSTM over subword embeddings, max-pooled over time.

Padding must not change a sentence's vector, or a sentence would embed differently depending on its
batch. A stock bidirectional `nn.LSTM` reads right-padding *first* in its backward direction, and
`pack_padded_sequence` does not export to ONNX. So the backward direction here runs a forward LSTM over
each sequence reversed *within its own length* (pads stay at the end), then reverses back; max pooling
ignores padded positions. Everything is tensor ops, so the same code exports with dynamic axes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class EncoderConfig:
    vocab_size: int
    pad_id: int
    embed_dim: int = 256
    hidden: int = 256
    layers: int = 1
    dropout: float = 0.1
    projection: int = 0  # > 0: a linear map of the pooled vector to this size (distillation students)

    @property
    def dim(self) -> int:
        return self.projection or 2 * self.hidden

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def reverse_within_length(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each row's first `length` steps of [batch, time, feat], leaving padding in place."""
    steps = torch.arange(x.shape[1], device=x.device).unsqueeze(0)
    last = lengths.unsqueeze(1) - 1
    index = torch.where(steps <= last, last - steps, steps)
    return torch.gather(x, 1, index.unsqueeze(2).expand(-1, -1, x.shape[2]))


class BiLstmEncoder(nn.Module):
    """input_ids, attention_mask → (per-token states [B, T, 2H], sentence embedding [B, 2H])."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=config.pad_id)
        self.dropout = nn.Dropout(config.dropout)
        sizes = [config.embed_dim] + [config.dim] * (config.layers - 1)
        self.forward_lstms = nn.ModuleList(nn.LSTM(s, config.hidden, batch_first=True) for s in sizes)
        self.backward_lstms = nn.ModuleList(nn.LSTM(s, config.hidden, batch_first=True) for s in sizes)
        self.project = nn.Linear(2 * config.hidden, config.projection) if config.projection else nn.Identity()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = attention_mask.unsqueeze(2).to(torch.float32)
        lengths = attention_mask.sum(dim=1).clamp(min=1)
        x = self.dropout(self.embed(input_ids))
        for fwd, bwd in zip(self.forward_lstms, self.backward_lstms, strict=True):
            ahead, _ = fwd(x)
            behind, _ = bwd(reverse_within_length(x, lengths))
            x = torch.cat([ahead, reverse_within_length(behind, lengths)], dim=2) * mask
            x = self.dropout(x)
        pooled = x.masked_fill(mask == 0, torch.finfo(x.dtype).min).amax(dim=1)
        return x, self.project(pooled)


class PooledEncoder(nn.Module):
    """Export wrapper: only the sentence embedding, named `embedding` in the graph."""

    def __init__(self, encoder: BiLstmEncoder) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.encoder(input_ids, attention_mask)[1]
