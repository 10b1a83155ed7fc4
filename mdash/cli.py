"""Argument parsing and exit codes only: each subcommand lives in ``mdash.commands.<name>``.

A command module exposes ``register(subparsers)``, which adds its parser and sets ``func`` to a
``run(args) -> int``. Heavy imports stay inside ``run`` so ``mdash --version`` and ``--help`` are instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from mdash import __version__
from mdash.errors import MdashError

COMMANDS = ("snapshot", "check", "tui", "demo", "presets", "canary", "rollback", "audit")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mdash",
        description="Observability dashboard for deployed ML models: terminal, Jupyter and CLI.",
    )
    parser.add_argument("--version", action="version", version=f"mdash {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"mdash.commands.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"mdash.commands.{name}":
                raise
            continue  # a command still being built
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except MdashError as err:
        print(f"mdash: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("mdash: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
