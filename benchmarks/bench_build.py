"""Benchmark of ``mrbook build``: a cold build, a second build, a changed page, a changed parameter.

Runs the real command (``python -m mrbook.cli.main build``) in a copy of the
project's book sources in a temporary folder (``MRBOOK_ROOT``), so that this
checkout's ``book/`` and ``_build/`` are left alone, and times four builds in a row:

1. **cold**: an empty notebook cache (every notebook executed, HTML and PDF);
2. **again**: the same command right after (nothing changed: nothing to do);
3. **page edited**: ``book/intro.md`` touched up (no notebook runs; HTML and PDF again);
4. **parameter changed**: ``nboot: 999`` (every notebook executed again, HTML and PDF).

The demo study's generated files (``$MRBOOK_CACHE`` or ``~/.cache/mrbook``) are
reused if present: ``--cold-demo`` points ``MRBOOK_CACHE`` at an empty folder so that
the cold build also generates the demo study, as on a fresh machine.
Results go to stdout and ``benchmarks/results/build.json`` (git-ignored).

    .venv/bin/python benchmarks/bench_build.py [--cold-demo] [--no-pdf]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def copy_project(dst: Path) -> Path:
    shutil.copytree(ROOT / "notebooks", dst / "notebooks")
    shutil.copytree(ROOT / "params", dst / "params")
    shutil.copytree(ROOT / "book", dst / "book",
                    ignore=shutil.ignore_patterns("*.ipynb", "data", "_build", ".*", "plotly*.js"))
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, dst / name)
    return dst


def run(project: Path, env: dict, *args: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "mrbook.cli.main", "build", *args], cwd=project,
                          env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"bench_build: the build failed:\n{proc.stderr[-3000:]}")
    return seconds, proc.stderr


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cold-demo", action="store_true",
                    help="generate the demo study afresh in the cold build (an empty MRBOOK_CACHE)")
    ap.add_argument("--no-pdf", action="store_true", help="build without the PDF")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="mrbook-bench-build-"))
    try:
        project = copy_project(tmp / "project")
        env = dict(os.environ, MRBOOK_ROOT=str(project))
        env.pop("OPENGWAS_JWT", None)
        if args.cold_demo:
            env["MRBOOK_CACHE"] = str(tmp / "demo-cache")
        extra = ["--no-pdf"] if args.no_pdf else []
        rows = []

        def step(label, *more):
            seconds, log = run(project, env, "--params", "params/paper.yaml", *extra, *more)
            executed = re.search(r"(\d+) notebook\(s\) executed", log)
            stages = dict(re.findall(r"mrbook build: (rendered the HTML|printed the PDF) \(([\d.]+) s\)",
                                     log))
            rows.append({"build": label, "seconds": round(seconds, 1),
                         "executed": int(executed.group(1)) if executed else 0,
                         "render_s": float(stages.get("rendered the HTML", 0)),
                         "pdf_s": float(stages.get("printed the PDF", 0))})
            print(f"{label:<20} {seconds:7.1f} s   notebooks executed: {rows[-1]['executed']}   "
                  f"render {rows[-1]['render_s']:.1f} s   pdf {rows[-1]['pdf_s']:.1f} s", flush=True)

        step("cold")
        step("again")
        intro = project / "book" / "intro.md"
        intro.write_text(intro.read_text(encoding="utf-8") + "\n<!-- edited -->\n", encoding="utf-8")
        step("page edited")
        pfile = project / "params" / "paper.yaml"
        pfile.write_text(pfile.read_text(encoding="utf-8").replace("nboot: 1000", "nboot: 999"),
                         encoding="utf-8")
        step("parameter changed")
        out = ROOT / "benchmarks" / "results"
        out.mkdir(parents=True, exist_ok=True)
        (out / "build.json").write_text(json.dumps({
            "rows": rows, "cold_demo": args.cold_demo, "pdf": not args.no_pdf,
            "machine": platform.platform(), "cpus": os.cpu_count(),
            "load_before": os.getloadavg()}, indent=1))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
