"""Training side of lexsent (torch): corpora, MLM pre-training, MirrorBERT, evaluation.

Shared, trainer-agnostic helpers live in small modules here so every trainer (MLM, Mirror, LASER,
distillation) reuses them instead of growing its own copy:

- `training.runtime`    seeding, thread count, device choice, capture/restore of every RNG state
- `training.checkpoint` atomic checkpoint save/load (weights_only) and "latest checkpoint" lookup
- `training.progress`   tqdm progress + a JSON-lines loss log per run directory
- `training.plot`       loss-curve PNG from that log

Nothing in this package is imported by `lexsent/` or `server/`.
"""
