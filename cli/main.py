"""Entry point of the `lexsent` console script.

Each subcommand module exposes `register(subparsers)`; heavy imports (torch, servers) happen inside
the handlers, so `lexsent --help` stays instant and serving never imports torch.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from lexsent.errors import LexsentError

SUBCOMMANDS = ("encode", "export", "data", "train", "eval", "serve", "bench", "ingest", "mine")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lexsent", description="Train, export and serve sentence and lexical encoders."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except LexsentError as exc:
        print(f"lexsent {args.command}: error: {exc.message}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # stdout's reader has gone (`| head`): not the user's mistake, so no message. Output still buffered
        # goes to /dev/null, else Python's flush at exit fails again and prints "Exception ignored".
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # what a shell reports for a tool that SIGPIPE killed, e.g. `seq` or `cat`
    except OSError as exc:  # a path that cannot be read or written: the message names it, a traceback adds nothing
        print(f"lexsent {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    raise SystemExit(main())
