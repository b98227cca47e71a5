"""conda users (environment.yml) and pip users (pyproject.toml) get the same dependencies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

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
