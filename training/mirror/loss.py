"""InfoNCE over in-batch negatives for two views (NT-Xent, as in MirrorBERT / SimCLR).

For 2N embeddings (view a and view b of N items) each embedding's positive is its mirror; the other
2N-2 embeddings are negatives. Cosine similarities are divided by the temperature τ.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(view_a: torch.Tensor, view_b: torch.Tensor, temperature: float) -> torch.Tensor:
    z = F.normalize(torch.cat([view_a, view_b]), dim=-1)
    n = view_a.shape[0]
    logits = z @ z.T / temperature
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, targets)
