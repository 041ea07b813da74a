"""MirrorBERT: turn any encoder into a sentence or lexical encoder with self-supervised contrastive tuning."""
