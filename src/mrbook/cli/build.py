"""CLI layer: ``mrbook build [--params params/paper.yaml] [--out _build/html]``, the book, offline."""

from __future__ import annotations

import sys


def add_parser(sub) -> None:
    p = sub.add_parser(
        "build", help="execute the notebooks and render the book (HTML, offline)",
        description="Validate the run parameters, execute every notebook of the book with "
                    "papermill into book/, then render it with jupyter-book (no execution, "
                    "warnings are errors). A wrong parameter stops the run before any "
                    "computation.")
    p.add_argument("--params", default="params/paper.yaml",
                   help="parameter file (YAML), relative to the project root "
                        "(default params/paper.yaml)")
    p.add_argument("--out", default="_build/html",
                   help="output folder of the HTML (default _build/html)")
    p.add_argument("--no-progress", action="store_true", help="hide papermill's progress bars")
    p.add_argument("--no-execute", action="store_true",
                   help="render the notebooks already executed in book/ (no papermill run)")
    p.add_argument("--quiet", action="store_true", help="print only errors")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..book.build import build

    result = build(args.params, args.out, progress_bar=not args.no_progress, quiet=args.quiet,
                   execute=not args.no_execute)
    if not args.quiet:
        steps = ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items())
        print(f"mrbook build: wrote {result.html_dir} ({steps})", file=sys.stderr)
    return 0
