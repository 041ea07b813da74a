"""`lexsent bench NAME [ARGS…]`: run one of the side-by-side benchmarks in `bench/` (encode, serve, …)."""

from __future__ import annotations

import argparse
import pkgutil
import runpy
import sys


def _available() -> list[str]:
    import bench

    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("bench", help="run a benchmark from bench/ (encode, mixed, serve, search, train)")
    parser.add_argument("name", help="benchmark module name, e.g. encode")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the benchmark")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    names = _available()
    if args.name not in names:
        choices = ", ".join(names)
        print(f"lexsent bench: unknown benchmark {args.name!r}; choose from {choices}", file=sys.stderr)
        return 2
    sys.argv = [f"lexsent bench {args.name}", *args.args]
    runpy.run_module(f"bench.{args.name}", run_name="__main__")
    return 0
