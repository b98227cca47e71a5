"""Shared fixtures: where ../shared lives, and the TwoSampleMR reference cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
REFERENCE = SHARED / "reference"
SKIP_SHARED = "../shared is not beside this clone (CI has it; a user's clone may not)"


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
