"""Argument types shared by the subcommands."""

from __future__ import annotations

import argparse


def at_least_one(text: str) -> int:
    """A count flag such as --threads: 0 must not pass for "unset" (it once meant every core)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value
