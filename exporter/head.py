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
    """The same embedding over packed rows (`lexsent.packing`): rows [R, T] of several inputs each,
    `segment_ids` numbering the inputs across rows (-1: a row's padding) and `position_ids` restarting
    per input; returns [inputs, H] in segment order, pooled by mean or cls. Attention is masked to each
    input's own tokens, so every vector is the one `EmbeddingHead` gives that input alone (the
    exporter's parity run checks it)."""

    def __init__(self, backbone: nn.Module, pooling: Pooling, normalize: bool) -> None:
        if pooling is Pooling.MAX:  # exported padded instead (`exporter.export._packs`)
            raise ValueError("packed graphs pool by mean or cls")
        super().__init__()
        self.backbone = backbone
        self.pooling = pooling
        self.normalize = normalize

    def forward(self, input_ids: torch.Tensor, segment_ids: torch.Tensor, position_ids: torch.Tensor) -> torch.Tensor:
        same = segment_ids[:, :, None] == segment_ids[:, None, :]  # [R, T, T]: token i may attend to token j
        floor = torch.finfo(torch.float32).min
        mask = torch.zeros(same.shape, dtype=torch.float32).masked_fill(~same, floor)[:, None]
        hidden = self.backbone(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=position_ids,
            token_type_ids=torch.zeros_like(input_ids),
        ).last_hidden_state
        tokens = hidden.flatten(0, 1)  # [R·T, H], row after row (H stays a static width in the graph)
        segments = segment_ids.reshape(-1)
        if self.pooling is Pooling.CLS:
            pooled = tokens[(position_ids.reshape(-1) == 0) & (segments >= 0)]
        else:
            member = torch.arange(segments.max() + 1)[:, None] == segments[None, :]  # [inputs, R·T]
            weights = member.to(tokens.dtype)
            pooled = weights @ tokens / weights.sum(dim=1, keepdim=True)
        if self.normalize:
            pooled = nn.functional.normalize(pooled, p=2.0, dim=-1)
        return pooled
