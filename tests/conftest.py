"""Shared fixtures: where ../shared lives, and the TwoSampleMR reference cases."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import settings

# The property tests (hypothesis) explore new random examples on every local run, which is
# how they find bugs; CI runs them on a fixed, derandomized set (.ci/run sets
# MRBOOK_HYPOTHESIS_PROFILE=ci) so that the same code gives the same verdict on every run.
settings.register_profile("ci", derandomize=True)
if os.environ.get("MRBOOK_HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["MRBOOK_HYPOTHESIS_PROFILE"])

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REFERENCE = SHARED / "reference"
SKIP_SHARED = "../shared is not beside this clone (CI has it; a user's clone may not)"


def benchmark_module(name: str):
    """A script of benchmarks/ loaded as a module (its data generators serve tests too)."""
    import importlib.util

    path = ROOT / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def validation_rows(seed: int, which: int, row: int):
    """Row ``row`` of benchmarks/validate_density_mode.py's data set ``seed`` and weighting
    ``which`` (0 equal and 1 second-order weights on the first draw, 2 first-order
    weights on the second): (x, w, h) for ``density_mode``."""
    import numpy as np

    from mrbook.estimators.mode import _norm_weights, mode_bandwidth

    bx, by, sx, sy = benchmark_module("validate_density_mode").simulated(seed)
    g = np.random.default_rng(seed + 10**6)
    b_iv = by / bx
    se1 = np.sqrt(sy**2 / bx**2 + by**2 * sx**2 / bx**4)
    se2 = sy / np.abs(bx)
    k = bx.size
    X = b_iv[None, :] + se1[None, :] * g.standard_normal((200, k))
    if which == 2:
        X = b_iv[None, :] + se2[None, :] * g.standard_normal((200, k))
    W = (np.full(k, 1.0 / k), _norm_weights(se1), _norm_weights(se2))[which]
    return X[row:row + 1], W, mode_bandwidth(X)[row:row + 1]


#: the densities (validation seeds 201-2200, k = 3 to 8) where a narrow peak between two
#: coarse nodes once escaped the fast mode search: (seed, weighting, row)
NARROW_PEAKS = [(376, 1, 66), (1441, 1, 164), (1469, 1, 143), (1909, 0, 58), (1937, 2, 100),
                (2198, 1, 98)]


def pleiotropic_pair(k: int = 79, seed: int = 79):
    """bx, by, sx, sy of a BMI -> CHD-like simulated pair (causal 0.4, 10 pleiotropic SNPs)."""
    import numpy as np

    g = np.random.default_rng(seed)
    bx = g.uniform(0.02, 0.2, k) * g.choice([-1.0, 1.0], k)
    sx = g.uniform(0.002, 0.02, k)
    sy = g.uniform(0.002, 0.03, k)
    by = 0.4 * bx + g.normal(0.0, sy)
    by[:10] += g.normal(0.0, 0.03, 10)                             # pleiotropic SNPs
    return bx, by, sx, sy


def reference_cases() -> list[Path]:
    """Every folder of ../shared/reference with a twosamplemr.json (new ones are picked up)."""
    if not REFERENCE.is_dir():
        return []
    return sorted(p for p in REFERENCE.iterdir() if (p / "twosamplemr.json").is_file())


def case_params(cases: list[Path]) -> list:
    """``pytest.param`` per reference case, named by its folder, for a ``case`` parameter.

    Without ../shared (a user's clone) this is one skipped placeholder, so the
    parity tests are reported as skipped with :data:`SKIP_SHARED` as the reason.
    """
    if not cases:
        return [pytest.param(None, id="no-reference", marks=pytest.mark.skip(reason=SKIP_SHARED))]
    return [pytest.param(c, id=c.name) for c in cases]


def load_reference(case: Path) -> dict:
    return json.loads((case / "twosamplemr.json").read_text())


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(SKIP_SHARED)
    return SHARED


def rrng_available() -> bool:
    """Whether R's generator (mrbook.rmath.generator) can be made."""
    from mrbook.rmath.rng import make_rng

    try:
        make_rng(1, "r")
    except ImportError:
        return False
    return True


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory) -> Path:
    """Cache root shared by the test modules: the demo study is generated once per session."""
    from mrbook.data import demo
    root = tmp_path_factory.getbasetemp() / "mrbook-cache"
    demo.demo_dir(demo.DEFAULT_SEED, root=root)
    return root


@pytest.fixture(scope="session")
def demo_folder(demo_root) -> Path:
    """The generated demo study's folder (default seed)."""
    from mrbook.data import demo
    return demo.demo_dir(demo.DEFAULT_SEED, root=demo_root)


# ----------------------------------------------------------------------------- the built book
# One `mrbook build` of params/paper.yaml per session, shared by the book tests (tests/book/):
# it runs in a copy of the project's book sources (MRBOOK_ROOT), so that the tests never write
# into this checkout's book/ or _build/.

#: a fake OpenGWAS token in the session build's environment: no output may contain it
FAKE_TOKEN = "fake-opengwas-token-for-tests-0123456789"


def copy_book_project(dst: Path) -> Path:
    """A project of its own: the notebooks, the book's sources, its configuration and params/."""
    import shutil

    dst.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "notebooks", dst / "notebooks")
    shutil.copytree(ROOT / "params", dst / "params")
    shutil.copytree(ROOT / "book", dst / "book",
                    ignore=shutil.ignore_patterns("*.ipynb", "data", "_build", ".*", "plotly*.js"))
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, dst / name)
    return dst


#: the session's demo study (set by the ``book_demo_cache`` fixture): the book builds of the
#: tests read it instead of ~/.cache/mrbook, which other processes on the machine may rewrite
_DEMO_CACHE: list = []


@pytest.fixture(scope="session")
def book_demo_cache(demo_root) -> Path:
    """The session's demo cache, used by :func:`run_build` and the JupyterLab test's kernels."""
    _DEMO_CACHE[:] = [demo_root]
    return demo_root


def run_build(project: Path, *args: str, cwd: Path | None = None, env: dict | None = None,
              timeout: float = 1800):
    """``mrbook build ARGS`` as a user runs it, in ``project`` (or from ``cwd``)."""
    import os
    import subprocess
    import sys

    full_env = dict(os.environ, MRBOOK_ROOT=str(project))
    if _DEMO_CACHE:
        full_env["MRBOOK_CACHE"] = str(_DEMO_CACHE[0])
    full_env.pop("OPENGWAS_JWT", None)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "mrbook.cli.main", "build", *args],
                          cwd=cwd or project, env=full_env, capture_output=True, text=True,
                          timeout=timeout)


class BuiltBook:
    """The session's book: its project, HTML folder, PDF, tables and build log."""

    def __init__(self, root: Path, log: str, seconds: float):
        self.root = root
        self.html = root / "_build" / "html"
        self.pdf = root / "_build" / "pdf" / "book.pdf"
        self.tables = root / "book" / "data"
        self.notebooks = root / "book"
        self.log = log
        self.seconds = seconds


@pytest.fixture(scope="session")
def built_book(tmp_path_factory, book_demo_cache) -> BuiltBook:
    """``make book`` (HTML and PDF of params/paper.yaml), once per session, as a user runs it.

    The project copy gets the Makefile, scripts/ and pyproject.toml (modification times
    kept) and this checkout's .venv (a link), so that ``scripts/setup.sh`` finds everything
    installed and ``make book`` prints what it prints on a set-up machine.
    """
    import os
    import shutil
    import subprocess
    import time

    project = copy_book_project(tmp_path_factory.mktemp("book-project"))
    shutil.copy2(ROOT / "Makefile", project / "Makefile")
    shutil.copy2(ROOT / "pyproject.toml", project / "pyproject.toml")
    shutil.copytree(ROOT / "scripts", project / "scripts")
    (project / ".venv").symlink_to(ROOT / ".venv")
    env = dict(os.environ, MRBOOK_ROOT=str(project), OPENGWAS_JWT=FAKE_TOKEN,
               MRBOOK_CACHE=str(book_demo_cache))
    t0 = time.perf_counter()
    import sys
    # `make book` runs the project's .venv; the other builds of the session (run_build) run
    # this interpreter. They must be the same environment: the build cache keys on the library
    # versions (CI's second run tests the newest versions in another venv beside .venv)
    same_env = Path(sys.prefix).resolve() == (ROOT / ".venv").resolve()
    if shutil.which("make") and (ROOT / ".venv" / "bin" / "mrbook").is_file() and same_env:
        cmd = ["make", "--no-print-directory", "book"]
    else:  # no make, or the tests run in another venv: the command make runs, in this one
        cmd = [sys.executable, "-m", "mrbook.cli.main", "build", "--params", "params/paper.yaml"]
    proc = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=1800)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    return BuiltBook(project, log, time.perf_counter() - t0)
