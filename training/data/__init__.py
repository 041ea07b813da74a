"""Corpora from local sources (gettext catalogues, WordNet 3.0) with hashed train/eval splits."""
