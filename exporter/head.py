"""The torch module that is exported: backbone + mask-aware pooling + optional L2 normalisation.

Pooling is written once, here, and travels inside the ONNX graph; no runtime re-implements it.
"""

from __future__ import annotations

import torch
from torch import nn

from lexsent.manifest import Pooling


def pool(hidden: torch.Tensor, mask: torch.Tensor, pooling: Pooling) -> torch.Tensor:
    """Pool token states [B, T, H] under attention mask [B, T]; padding never contributes."""
    if pooling is Pooling.CLS:
        return hidden[:, 0]
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    if pooling is Pooling.MEAN:
        return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
    floor = torch.finfo(hidden.dtype).min
    return hidden.masked_fill(weights == 0, floor).max(dim=1).values


class EmbeddingHead(nn.Module):
    """Wraps a Hugging Face encoder so its forward returns the pooled (and normalised) embedding."""

    def __init__(self, backbone: nn.Module, pooling: Pooling, normalize: bool, uses_token_types: bool) -> None:
        super().__init__()
        self.backbone = backbone
        self.pooling = pooling
        self.normalize = normalize
        self.uses_token_types = uses_token_types

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self.uses_token_types and token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        hidden = self.backbone(**kwargs).last_hidden_state
        pooled = pool(hidden, attention_mask, self.pooling)
        if self.normalize:
            pooled = nn.functional.normalize(pooled, p=2.0, dim=-1)
        return pooled


class PackedHead(nn.Module):
    """The same embedding over packed rows (`lexsent.packing`): one row [1, T] of several inputs,
    `segment_ids` naming each token's input and `position_ids` restarting per input; returns [inputs,
    H]. Attention is masked to each input's own tokens, so every vector is the one `EmbeddingHead`
    gives that input alone (checked by the exporter's parity run against it)."""

    def __init__(self, backbone: nn.Module, pooling: Pooling, normalize: bool) -> None:
        super().__init__()
        self.backbone = backbone
        self.pooling = pooling
        self.normalize = normalize

    def forward(self, input_ids: torch.Tensor, segment_ids: torch.Tensor, position_ids: torch.Tensor) -> torch.Tensor:
        segments = segment_ids[0]
        same = segments[:, None] == segments[None, :]  # [T, T]: token i may attend to token j
        floor = torch.finfo(torch.float32).min
        mask = torch.zeros(same.shape, dtype=torch.float32).masked_fill(~same, floor)[None, None]
        hidden = self.backbone(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=position_ids,
            token_type_ids=torch.zeros_like(input_ids),
        ).last_hidden_state[0]  # [T, H]
        member = torch.arange(segments.max() + 1)[:, None] == segments[None, :]  # [inputs, T]
        if self.pooling is Pooling.CLS:
            pooled = hidden[position_ids[0] == 0]
        elif self.pooling is Pooling.MEAN:
            weights = member.to(hidden.dtype)
            pooled = weights @ hidden / weights.sum(dim=1, keepdim=True)
        else:
            pooled = hidden[None].masked_fill(~member[:, :, None], torch.finfo(hidden.dtype).min).max(dim=1).values
        if self.normalize:
            pooled = nn.functional.normalize(pooled, p=2.0, dim=-1)
        return pooled
