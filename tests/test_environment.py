"""conda users (environment.yml) and pip users (pyproject.toml) get the same dependencies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _split(req: str) -> tuple[str, str]:
    req = req.split("#")[0].strip()
    name = re.split(r"[<>=!~ \[;]", req, maxsplit=1)[0]
    return name.lower().replace("_", "-"), req[len(name):].replace(" ", "")


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_side = dict(_split(d) for d in project["dependencies"] + project["optional-dependencies"]["test"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda_side = {}
    for dep in env["dependencies"]:
        items = dep["pip"] if isinstance(dep, dict) else [dep]
        for item in items:
            name, spec = _split(item)
            if name in ("python", "pip", "-e", "-e."):
                continue
            conda_side[name] = spec
    assert conda_side == pip_side


# ----------------------------------------------------------------------------- the lock


def _locked() -> dict[str, str]:
    """name -> version pinned in requirements.lock (``name==version`` lines)."""
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^ ;\\]+)", line)
        if m:
            pins[m.group(1).lower().replace("_", "-").replace(".", "-")] = m.group(3)
    return pins


def _requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project["dependencies"] + project["optional-dependencies"]["test"]


def test_lock_pins_every_dependency_within_the_ranges_of_pyproject():
    """requirements.lock (``make lock``) covers pyproject's dependencies and the test extra,
    each at a version its range allows; after a change to pyproject.toml, run `make lock`."""
    from packaging.requirements import Requirement

    pins = _locked()
    assert len(pins) > 50, "requirements.lock holds the whole environment, not only the direct deps"
    for text in _requirements():
        req = Requirement(text)
        name = req.name.lower().replace("_", "-").replace(".", "-")
        assert name in pins, f"{req.name} is not in requirements.lock: run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), \
            f"requirements.lock pins {req.name}=={pins[name]}, outside {req.specifier}: run `make lock`"


def test_lock_is_installed_with_hashes_by_setup_and_ci_runs_the_newest_versions_too():
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert "--require-hashes -r requirements.lock" in setup
    assert "--no-deps -e ." in setup
    assert "--hash=sha256:" in (ROOT / "requirements.lock").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "uv pip compile pyproject.toml --extra test" in makefile and "--exclude-newer" in makefile
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci and "--upgrade" in ci and "-e \".[test]\"" in ci


def test_the_locked_versions_are_the_ones_installed_here():
    """On the lock's venv (`make test`) every pin is what runs; in CI's second venv (the newest
    versions pyproject allows) the pins may differ: skipped there."""
    import sys
    from importlib.metadata import PackageNotFoundError, version

    if Path(sys.prefix).name != ".venv":
        pytest.skip("not the lock's .venv (CI's second run uses the newest allowed versions)")
    pins = _locked()
    for name in ("numpy", "pandas", "scipy", "pyarrow", "pyyaml", "pytest", "hypothesis"):
        try:
            assert version(name) == pins[name], f"{name} {version(name)} != lock {pins[name]}"
        except PackageNotFoundError:  # pragma: no cover
            pytest.fail(f"{name} is not installed")
