"""The README's "engine on its own" walkthrough runs as written, in a scratch folder.

The test reads the shell block of the README section "The engine on its own",
runs its commands in order with bash from the clone's root (as a user does, after
``make setup``), and checks that each exits 0 and writes what the README's bullets
under the block say it writes; then it runs the section's Python block in the
same scratch folder. Nothing may land in the clone (issue 13, items 2 and 9).

The expected instrument counts are SPEC section 1's (hypothyroidism: 90
candidates, 4 missing in the outcome, 8 palindromic, 9 confounder, 69 final).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SECTION = "## The engine on its own"
#: what the walkthrough writes, which must never appear in the clone's root
LITTER = ("demo", "run", "results.json", "harmonised.csv", "harmonised_exclusions.csv")


def walkthrough() -> tuple[str, list[str], str]:
    """The section's text, its shell commands (continuations joined) and its Python block."""
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start:end if end > 0 else None]
    shell = re.findall(r"```bash\n(.*?)```", section, re.S)
    python = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(shell) == 1 and len(python) == 1, "the section has one bash and one python block"
    commands = [c.strip() for c in shell[0].replace("\\\n", " ").splitlines() if c.strip()]
    return section, commands, python[0]


def bullet(section: str, command: str) -> str:
    """The README bullet that starts with ```command```."""
    m = re.search(rf"^- `{re.escape(command)}` (.*?)(?=^- |^\S|\Z)", section, re.S | re.M)
    assert m, f"no bullet for {command}"
    return " ".join(m.group(1).split())


def test_walkthrough_commands_are_the_four_steps():
    _, commands, _ = walkthrough()
    steps = [c.split()[1] for c in commands if c.startswith("mrbook ")]
    assert steps == ["demo-data", "instruments", "harmonise", "mr"]
    # every command either sets up the scratch folder or runs mrbook from PATH
    for c in commands:
        assert c.startswith(("export PATH=", "cd ", "mrbook ")), c


@pytest.mark.slow
def test_readme_walkthrough_runs_in_a_scratch_folder(tmp_path):
    section, commands, python_block = walkthrough()
    before = {name: (ROOT / name).exists() for name in LITTER}
    steps = tmp_path / "steps.log"
    script = ["set -u"]
    for i, cmd in enumerate(commands):
        script += [cmd, f'rc=$?; echo "{i} $rc $PWD" >> "{steps}"; [ "$rc" -eq 0 ] || exit "$rc"']
    env = dict(os.environ)
    # the clone's .venv/bin comes first (the README's export); the interpreter running the
    # tests is the fallback for an environment without .venv (conda, CI)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["TMPDIR"] = str(tmp_path)  # mktemp -d makes the scratch folder inside tmp_path
    env["MRBOOK_CACHE"] = str(tmp_path / "cache")
    env.pop("OPENGWAS_JWT", None)
    proc = subprocess.run(["bash", "-c", "\n".join(script)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    done = [ln.split(" ", 2) for ln in steps.read_text().splitlines()] if steps.exists() else []
    for i, rc, _ in done:
        assert rc == "0", (f"README command exits {rc}: {commands[int(i)]}\n"
                           f"{proc.stderr[-2000:]}")
    assert len(done) == len(commands) and proc.returncode == 0, proc.stderr[-2000:]
    scratch = Path(done[-1][2])
    assert scratch.parent == tmp_path, "the walkthrough did not move into a scratch folder"

    # demo-data: the files its bullet names, and the manifest's files
    demo = scratch / "demo"
    for sub in ("sumstats", "ld_panel", "confounders"):
        assert f"demo/{sub}/" in bullet(section, "demo-data") and (demo / sub).is_dir()
    man = json.loads((demo / "manifest.json").read_text())
    assert man["simulated"] is True and (demo / "README.txt").is_file()
    for key, rel in man["files"].items():
        assert (demo / rel).is_file() or key == "panel", rel
    # instruments: every file its bullet says it writes, and the paper's counts
    run = scratch / "run"
    written = re.findall(r"`([\w.]+\.(?:csv|json))`", bullet(section, "instruments"))
    assert {"harmonised.csv", "exclusions.csv", "snps.csv", "summary.json", "exposure.csv",
            "outcome.csv"} <= set(written)
    for name in written:
        assert (run / name).is_file(), name
    s = json.loads((run / "summary.json").read_text())
    assert (s["candidates"], s["missing_in_outcome"], s["palindromic"], s["confounder"],
            s["final"]) == (90, 4, 8, 9, 69)
    assert len(pd.read_csv(run / "exposure.csv")) == 90
    assert len(pd.read_csv(run / "outcome.csv")) == 86
    # harmonise: the two files and the numbers its bullet gives
    text = bullet(section, "harmonise")
    h = pd.read_csv(scratch / "harmonised.csv")
    ex = pd.read_csv(scratch / "harmonised_exclusions.csv")
    assert "`harmonised.csv` (the 86" in text and len(h) == 86
    assert "the 8 ambiguous palindromes" in text and int((~h["mr_keep"]).sum()) == 8
    assert set(h.loc[~h["mr_keep"], "SNP"]) == set(s["palindromic_snps"])
    assert len(ex) == 4 + 8
    assert "`run/harmonised.csv` (69 SNPs)" in text
    # mr: the JSON object with the parts its bullet lists
    res = json.loads((scratch / "results.json").read_text())
    parts = re.findall(r"`(\w+)`", bullet(section, "mr").split(" and, with ")[0])
    assert set(parts) == {"mr", "heterogeneity", "pleiotropy", "leaveoneout", "singlesnp",
                          "directionality", "not_run", "excluded"}
    for part in parts:
        assert part in res, part
    ivw = next(r for r in res["mr"] if r["method"] == "Inverse variance weighted")
    assert ivw["nsnp"] == 69

    # the Python block, in the same folder
    py = subprocess.run([sys.executable, "-c", python_block], cwd=scratch, env=env,
                        capture_output=True, text=True, timeout=300)
    assert py.returncode == 0, py.stderr[-2000:]

    # nothing landed in the clone
    for name in LITTER:
        assert (ROOT / name).exists() == before[name], f"the walkthrough wrote {name} into the clone"
