"""Where results go (issues 13 and 16): permissions from the umask, one line on success,
``-`` for standard output, links and existing files, and a ``--help`` that loads no engine.

The commands run as a user runs them: the console script, from a scratch folder, with the
umask set in the shell.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

EXE = Path(sys.executable).with_name("mrbook")

HARM = ("SNP,beta.exposure,se.exposure,beta.outcome,se.outcome,effect_allele.exposure,"
        "other_allele.exposure,pval.exposure\n"
        "rs1,0.10,0.01,0.05,0.02,A,G,1e-20\nrs2,0.12,0.01,0.04,0.02,C,T,1e-25\n"
        "rs3,-0.08,0.01,-0.03,0.02,G,A,1e-9\nrs4,0.09,0.01,0.02,0.02,G,A,1e-15\n"
        "rs5,0.11,0.012,NA,0.025,G,A,1e-18\n")
EXP = ("SNP,beta.exposure,se.exposure,effect_allele.exposure,other_allele.exposure\n"
       "rs1,0.1,0.01,A,G\nrs2,0.2,0.01,C,T\nrs3,0.3,0.01,G,A\n")
OUT = ("SNP,beta.outcome,se.outcome,effect_allele.outcome,other_allele.outcome\n"
       "rs1,0.05,0.02,G,A\nrs2,0.04,0.02,C,T\nrs9,0.1,0.02,G,A\n")


@pytest.fixture
def ws(tmp_path, monkeypatch, demo_root):
    if not EXE.exists():
        pytest.skip("console script not installed in this environment")
    monkeypatch.setenv("MRBOOK_CACHE", str(demo_root))
    (tmp_path / "h.csv").write_text(HARM)
    (tmp_path / "exp.csv").write_text(EXP)
    (tmp_path / "out.csv").write_text(OUT)
    return tmp_path


def sh(ws: Path, command: str, umask: str = "022") -> subprocess.CompletedProcess:
    return subprocess.run(f"umask {umask}; {command}", shell=True, cwd=ws, capture_output=True,
                          text=True, env={**os.environ, "MRBOOK": str(EXE)})


def mode(p: Path) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


@pytest.mark.parametrize("umask, file_mode, dir_mode", [("022", 0o644, 0o755),
                                                         ("077", 0o600, 0o700),
                                                         ("002", 0o664, 0o775)])
def test_outputs_honour_the_umask(ws, umask, file_mode, dir_mode):
    instruments = umask == "022"  # the slow command once, with the usual umask
    r = sh(ws, '"$MRBOOK" mr h.csv --json res/results.json --nboot 20 && '
               '"$MRBOOK" harmonise exp.csv out.csv --out harmonised.csv'
               + (' && "$MRBOOK" instruments --exposure demo:hashimoto --outcome '
                  'demo:osteoporosis --out run' if instruments else ""), umask)
    assert r.returncode == 0, r.stderr
    assert mode(ws / "res") == dir_mode and mode(ws / "res" / "results.json") == file_mode
    assert mode(ws / "harmonised.csv") == file_mode
    assert mode(ws / "harmonised_exclusions.csv") == file_mode
    if instruments:
        assert mode(ws / "run") == dir_mode
        for f in ("harmonised.csv", "exclusions.csv", "snps.csv", "summary.json"):
            assert mode(ws / "run" / f) == file_mode, f
    assert not [p for p in ws.rglob(".*")], "a temporary file was left behind"


def test_demo_data_honours_the_umask(ws):
    r = sh(ws, '"$MRBOOK" demo-data demo --seed 7', "027")
    assert r.returncode == 0, r.stderr
    assert mode(ws / "demo") == 0o750 and mode(ws / "demo" / "manifest.json") == 0o640
    assert mode(ws / "demo" / "ld_panel") == 0o750
    assert all(mode(p) == (0o750 if p.is_dir() else 0o640) for p in (ws / "demo").rglob("*"))
    from mrbook.data.demo import planned_files  # what the CLI checks before simulating

    assert sorted(str(p.relative_to(ws / "demo")) for p in (ws / "demo").rglob("*")
                  if p.is_file()) == planned_files()


def test_demo_cache_folder_honours_the_umask(tmp_path, monkeypatch):
    """The cache folder is built under mkdtemp (owner-only) and renamed: the umask decides."""
    from mrbook.data import demo
    from mrbook.output import new_dir_mode

    def generate(outdir, seed):  # the folder's making, not the simulation, is tested here
        Path(outdir, "manifest.json").write_text(json.dumps(
            {"demo_version": demo.DEMO_VERSION, "seed": seed, "files": {}}))

    monkeypatch.setattr(demo, "generate", generate)
    saved = os.umask(0o022)
    try:
        folder = demo.demo_dir(3, root=tmp_path)
        assert new_dir_mode() == 0o755 and mode(folder) == 0o755
    finally:
        os.umask(saved)


def test_mr_and_harmonise_say_what_they_wrote(ws):
    r = sh(ws, '"$MRBOOK" mr h.csv --json o.json --nboot 20')
    assert r.returncode == 0 and r.stdout == ""
    n = len(json.loads((ws / "o.json").read_text())["mr"])
    assert n == 5  # TwoSampleMR's five default methods on 4 SNPs
    assert r.stderr == ("mrbook mr: wrote o.json: 5 estimate(s) from 4 of 5 SNPs (1 excluded, "
                        "see 'excluded')\n")
    r = sh(ws, '"$MRBOOK" harmonise exp.csv out.csv --out hm.csv')
    assert r.returncode == 0, r.stderr
    assert r.stderr == ("mrbook harmonise: wrote hm.csv: 2 SNPs in both studies, 2 usable for MR "
                        "(mr_keep TRUE); 2 exclusion(s) listed in hm_exclusions.csv\n")


def test_harmonise_to_standard_output(ws):
    r = sh(ws, '"$MRBOOK" harmonise exp.csv out.csv --out - --exclusions ex.csv')
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("SNP,") and len(r.stdout.splitlines()) == 3
    assert "wrote standard output" in r.stderr
    assert sorted(p.name for p in ws.iterdir()) == ["ex.csv", "exp.csv", "h.csv", "out.csv"]


def test_replacing_a_file_keeps_its_mode_and_a_link_stays_a_link(ws):
    target = ws / "keep" / "real.json"
    target.parent.mkdir()
    target.write_text("old\n")
    target.chmod(0o640)
    (ws / "link.json").symlink_to(target)
    r = sh(ws, '"$MRBOOK" mr h.csv --json link.json --nboot 20')
    assert r.returncode == 0, r.stderr
    assert (ws / "link.json").is_symlink() and os.readlink(ws / "link.json") == str(target)
    assert json.loads(target.read_text())["meta"]["nboot"] == 20
    assert mode(target) == 0o640
    assert sorted(p.name for p in target.parent.iterdir()) == ["real.json"]


def test_instruments_rerun_replaces_its_files_and_keeps_the_users(ws):
    (ws / "run").mkdir()
    (ws / "run" / "notes.txt").write_text("mine\n")
    for _ in range(2):
        r = sh(ws, '"$MRBOOK" instruments --exposure demo:hashimoto --outcome demo:osteoporosis '
                   '--out run')
        assert r.returncode == 0, r.stderr
    assert (ws / "run" / "notes.txt").read_text() == "mine\n"
    assert sorted(p.name for p in (ws / "run").iterdir()) == [
        "exclusions.csv", "exposure.csv", "harmonised.csv", "notes.txt", "outcome.csv", "snps.csv",
        "summary.json"]
    assert sorted(p.name for p in ws.iterdir()) == ["exp.csv", "h.csv", "out.csv", "run"]


def test_help_is_answered_without_loading_the_engine():
    code = ("import sys; from mrbook.cli.main import main\n"
            "for argv in (['--help'], ['mr', '--help'], ['demo-data', '--help'], ['--version']):\n"
            "    try: main(argv)\n"
            "    except SystemExit: pass\n"
            "print(sorted(m for m in ('numpy', 'pandas', 'scipy', 'pyarrow') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"


def test_demo_seed_default_of_the_cli_is_the_demo_default():
    from mrbook.cli.demo_data import DEFAULT_SEED
    from mrbook.data import demo

    assert DEFAULT_SEED == demo.DEFAULT_SEED


def test_public_api_still_imports_on_first_use():
    code = ("import sys, mrbook\nassert 'pandas' not in sys.modules\n"
            "import mrbook.harmonise\n"
            "assert callable(mrbook.harmonise) and mrbook.run_mr.__module__ == 'mrbook.analysis'\n"
            "assert 'mr_egger_regression' in mrbook.METHODS\n"
            "print(mrbook.__version__)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    from mrbook.output import VERSION

    assert r.stdout.strip() == VERSION
