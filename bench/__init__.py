"""Benchmarks, run side by side against peers; not part of the test suite."""
