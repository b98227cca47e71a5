"""The package's layout: folders name the pipeline's layers and imports point one way.

Reads the source with :mod:`ast` (imports inside functions counted) and checks
what docs/ARCHITECTURE.md promises: no import circle, no import from a lower
layer into a higher one, at most 8 modules directly in ``src/mrbook/``, report
modules under 700 lines, and a one-line docstring on every module that says its
place.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

PKG = ROOT / "src" / "mrbook"

#: layer of each top-level part of the package, bottom (0) to top; a module may
#: import from its own layer or below, never above. ``mrbook`` is the package's
#: ``__init__`` (the public API, which re-exports from below).
LAYERS = {
    "errors": 0, "output": 0, "rmath": 0,
    "data": 1,
    "harmonise": 2,
    "estimators": 3, "pairs": 3,
    "sensitivity": 4,
    "instruments": 5, "multivariable": 5,
    "analysis": 6,
    "params": 7,
    "report": 8,
    "mrbook": 9,
    "batch": 10,
    "book": 11, "cli": 11,
}
#: the words a module's first docstring line starts with, per layer
LAYER_WORDS = {
    "errors": "Ground floor", "output": "Ground floor", "rmath": "Ground floor",
    "data": "Data layer", "harmonise": "Harmonise layer", "estimators": "Estimators layer",
    "pairs": "Estimators layer", "sensitivity": "Sensitivity layer", "instruments": "Instruments layer",
    "multivariable": "Multivariable layer",
    "analysis": "Analysis layer", "params": "Parameters", "report": "Report layer", "batch": "Batch layer",
    "book": "Book layer", "cli": "CLI layer",
}


def _modules() -> dict[str, Path]:
    mods = {}
    for f in PKG.rglob("*.py"):
        parts = list(f.relative_to(PKG.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = f
    return mods


def _imports(mods: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the package modules it imports (anywhere in the file)."""
    out: dict[str, set[str]] = {}
    for mod, f in mods.items():
        is_pkg = f.name == "__init__.py"
        deps = out.setdefault(mod, set())
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name in mods)
            elif isinstance(node, ast.ImportFrom):
                base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                if node.level:
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for a in node.names:
                    cand = f"{target}.{a.name}"
                    if cand in mods:
                        deps.add(cand)
                    elif target in mods:
                        deps.add(target)
        deps.discard(mod)
    return out


def _part(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else "mrbook"


def test_no_import_circle():
    graph = _imports(_modules())
    state: dict[str, int] = {}
    circles = []

    def visit(m, stack):
        state[m] = 1
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                circles.append(" -> ".join(stack[stack.index(d):] + [d]))
            elif d not in state:
                visit(d, stack + [d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert circles == []


def test_imports_point_down_the_layers():
    graph = _imports(_modules())
    upward = []
    for mod, deps in graph.items():
        for d in deps:
            a, b = _part(mod), _part(d)
            assert a in LAYERS and b in LAYERS, f"{mod} or {d}: a part of the package with no layer"
            if LAYERS[b] > LAYERS[a]:
                upward.append(f"{mod} imports {d}")
    assert upward == []


def test_nothing_below_imports_report_book_or_cli():
    graph = _imports(_modules())
    top = {"report", "book", "cli", "batch", "mrbook"}
    bad = [f"{m} imports {d}" for m, deps in graph.items() for d in deps
           if _part(d) in top and _part(m) not in top]
    assert bad == []


def test_at_most_eight_modules_at_the_top():
    top = sorted(p.name for p in PKG.glob("*.py"))
    assert len(top) <= 8, top


def test_report_modules_are_small():
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines())
             for p in (PKG / "report").glob("*.py")}
    assert sizes and all(n < 700 for n in sizes.values()), sizes


def test_every_module_says_its_place():
    for mod, f in _modules().items():
        if mod == "mrbook":
            continue
        doc = ast.get_docstring(ast.parse(f.read_text(encoding="utf-8")), clean=False)
        assert doc, f"{f}: no module docstring"
        first = doc.splitlines()[0]
        assert first.startswith(LAYER_WORDS[_part(mod)]), f"{f}: first line {first!r}"
        assert len(first) <= 104, f"{f}: the first line should fit one line"


@pytest.mark.parametrize("name", ["harmonise", "run_mr", "analyse", "select_instruments",
                                  "read_harmonised", "read_tsmr", "METHODS", "Params", "MRAnalysis",
                                  "heterogeneity", "pleiotropy", "leaveoneout", "singlesnp",
                                  "__version__"])
def test_public_api_keeps_working(name):
    import mrbook

    assert getattr(mrbook, name) is not None


def test_cli_help_lists_every_command():
    out = subprocess.run([sys.executable, "-m", "mrbook.cli.main", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for cmd in ("harmonise", "mr", "demo-data", "instruments", "build"):
        assert cmd in out
