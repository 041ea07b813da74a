"""Masked-language-model pre-training of a small BERT from scratch (the model MirrorBERT transforms)."""
