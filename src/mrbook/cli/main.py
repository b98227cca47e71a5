"""CLI layer: the ``mrbook`` command line's entry point and dispatcher.

Each sub-command lives in :mod:`mrbook.cli.<name>` and provides
``add_parser(subparsers)`` (which sets ``func`` on its parser) so that this file
only dispatches. Any :class:`~mrbook.errors.MRBookError` becomes one line on
stderr and exit status 2; nothing else is printed (no traceback).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__
from ..errors import MRBookError

#: sub-command modules, in the order ``mrbook --help`` lists them
COMMANDS = ["harmonise", "mr", "mvmr", "demo_data", "instruments", "build", "demo_phenome", "batch"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mrbook",
        description="Reproducible two-sample Mendelian randomization (TwoSampleMR-exact engine "
                    "and a Jupyter Book report).",
    )
    parser.add_argument("--version", action="version", version=f"mrbook {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f".{name}", __package__)
        except ModuleNotFoundError as exc:  # a command whose module is not installed
            if exc.name and exc.name.endswith(f"cli.{name}"):
                continue
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except MRBookError as exc:
        print(f"mrbook {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        print("mrbook: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
