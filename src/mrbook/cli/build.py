"""CLI layer: ``mrbook build [--params FILE] [--out DIR] [--no-pdf]``, the book (HTML and PDF), offline."""

from __future__ import annotations

import signal
import sys


def add_parser(sub) -> None:
    p = sub.add_parser(
        "build", help="execute the notebooks and render the book (HTML and PDF, offline)",
        description="Validate the run parameters, execute every notebook of the book with "
                    "papermill (unchanged ones come from the notebook cache), then render it "
                    "with jupyter-book (no execution, warnings are errors) as HTML and as one "
                    "PDF. Everything is made in a staging folder and swapped in only when it "
                    "all succeeded. A wrong parameter stops the run before any computation.")
    p.add_argument("--params", default=None, metavar="FILE",
                   help="parameter file (YAML), relative to the current directory; paths inside "
                        "it are relative to its own folder (default: the project's "
                        "params/paper.yaml)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="output folder of the HTML, relative to the current directory; the PDF "
                        "goes to DIR/../pdf/book.pdf (default: the project's _build/html)")
    p.add_argument("--no-pdf", action="store_true",
                   help="do not write the PDF (nor need Chromium for it)")
    p.add_argument("--no-execute", action="store_true",
                   help="render the notebooks already executed in book/ (no papermill run); "
                        "refused if one holds an error or was run with other parameters")
    p.add_argument("--no-cache", action="store_true",
                   help="execute every notebook, even those unchanged since the last build")
    p.add_argument("--progress", action="store_true",
                   help="show papermill's per-cell progress bars")
    p.add_argument("--no-progress", action="store_true",
                   help="(kept for old scripts: papermill's bars are off unless --progress)")
    p.add_argument("--quiet", action="store_true", help="print only errors")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..book.build import BuildInterrupted, build

    try:
        result = build(args.params, args.out, progress_bar=args.progress and not args.no_progress,
                       quiet=args.quiet, execute=not args.no_execute, pdf=not args.no_pdf,
                       cache=not args.no_cache)
    except BuildInterrupted as exc:
        name = signal.Signals(exc.signum).name
        if exc.completed:
            print(f"mrbook build: interrupted ({name}) after the new book was complete and "
                  "swapped in", file=sys.stderr)
        else:
            print(f"mrbook build: interrupted ({name}); the previous book was left as it was",
                  file=sys.stderr)
        return 128 + exc.signum
    if not args.quiet and not result.up_to_date:
        wrote = f"{result.html_dir}" + (f" and {result.pdf}" if result.pdf else "")
        counts = (f"{len(result.executed)} notebook(s) executed, {len(result.cached)} from the cache"
                  if not args.no_execute else "rendered without executing")
        print(f"mrbook build: wrote {wrote} in {result.seconds['total']:.0f} s ({counts})",
              file=sys.stderr)
    return 0
