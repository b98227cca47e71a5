"""CLI layer: the ``mrbook`` command line's entry point and dispatcher.

Each sub-command lives in :mod:`mrbook.cli.<name>` and provides
``add_parser(subparsers)`` (which sets ``func`` on its parser) so that this file
only dispatches. Any :class:`~mrbook.errors.MRBookError`, and any operating-system
error (a full disk, a file that vanished), becomes one line on stderr and exit status 2;
nothing else is printed (no traceback). The sub-command modules import the engine
(numpy, pandas, scipy) only inside ``run``, so ``mrbook --help`` answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__
from ..errors import MRBookError

#: sub-command modules, in the order ``mrbook --help`` lists them
COMMANDS = ["harmonise", "mr", "mvmr", "demo_data", "instruments", "build", "demo_phenome", "batch"]


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line usage error (``mrbook mr: error: ...``), exit status 2."""

    def error(self, message: str):
        message = " ".join(message.split())
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    except OSError as exc:  # a fault outside the checked paths: still one line, no traceback
        from ..output import os_reason

        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        reason = " ".join(os_reason(exc).split())
        print(f"mrbook {args.command}: error: {where}{reason}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        print("mrbook: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
