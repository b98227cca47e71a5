"""``mrbook build`` as a user runs it: a quiet log, the notebook cache, a staged build that
never leaves a mixed book (failure, interrupt, SIGINT, SIGTERM), paths as typed, ``make lab``.

Most tests work on a copy of the session's built project (``built_book``: ``make book``
of params/paper.yaml), so that they start from a complete previous book and can check
that a failed or interrupted build leaves every byte of it as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mrbook import params
from mrbook.book import build as book
from mrbook.errors import MRBookError, ParameterError

from conftest import copy_book_project, run_build

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
NAMES = [p.stem for p in NOTEBOOKS]


def _copy_built(built_book, dst: Path) -> Path:
    """A copy of the built project: sources, executed notebooks, tables, HTML, PDF, cache."""
    shutil.copytree(built_book.root, dst, symlinks=True)
    return dst


def _outputs(project: Path) -> dict[str, str]:
    """SHA-256 of every file a build writes: HTML, PDF, executed notebooks, tables."""
    out = {}
    for base in (project / "_build" / "html", project / "_build" / "pdf", project / "book" / "data"):
        for f in sorted(base.rglob("*")):
            if f.is_file():
                out[f.relative_to(project).as_posix()] = hashlib.sha256(f.read_bytes()).hexdigest()
    for f in sorted((project / "book").glob("*.ipynb")):
        out[f.relative_to(project).as_posix()] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def _leftovers(project: Path) -> list[str]:
    """Staging folders and temporary files a build must not leave behind."""
    found = [p for p in (project / "_build").glob(f"{book.STAGE_PREFIX}*")]
    found += [p for p in project.rglob("*.tmp") if ".venv" not in p.parts]
    return [str(p) for p in found]


def _paper_with(project: Path, name: str, **changes) -> str:
    values = yaml.safe_load((project / "params" / "paper.yaml").read_text())
    values.update(changes)
    (project / "params" / name).write_text(yaml.safe_dump(values, sort_keys=False))
    return f"params/{name}"


# ----------------------------------------------------------------------------- the log

@pytest.mark.slow
def test_make_book_prints_only_its_own_lines(built_book):
    """``make book``: one line per notebook and per stage with its time, and the summary."""
    lines = [ln for ln in built_book.log.splitlines() if ln.strip()]
    strays = [ln for ln in lines if not ln.startswith(("mrbook build: ", "setup: "))]
    assert not strays, f"lines that are not mrbook's own: {strays[:5]}"
    for name in NAMES:
        hits = [ln for ln in lines if re.fullmatch(rf"mrbook build: executed {name}\.ipynb "
                                                   r"\(\d+\.\d s\)", ln)]
        assert len(hits) == 1, (name, lines)
    assert sum(bool(re.fullmatch(r"mrbook build: rendered the HTML \(\d+\.\d s\)", ln))
               for ln in lines) == 1
    assert sum(bool(re.fullmatch(r"mrbook build: printed the PDF \(\d+\.\d s\)", ln))
               for ln in lines) == 1
    assert re.fullmatch(r"mrbook build: wrote \S+/_build/html and \S+/_build/pdf/book\.pdf in \d+ s "
                        rf"\({len(NAMES)} notebook\(s\) executed, 0 from the cache\)", lines[-1]), lines[-1]
    for noise in ("Kernel is running over TCP", "Traceback", "WARNING", "KeyboardInterrupt"):
        assert noise not in built_book.log
    assert len(lines) == len(NAMES) + 3


@pytest.mark.slow
def test_a_sphinx_warning_still_fails_the_build(built_book, tmp_path):
    project = _copy_built(built_book, tmp_path / "p")
    intro = project / "book" / "intro.md"
    intro.write_text(intro.read_text() + "\nSee {doc}`no_such_page`.\n")
    before = _outputs(project)
    proc = run_build(project, "--no-execute", "--no-pdf")
    assert proc.returncode == 2
    assert "WARNING" in proc.stderr and "no_such_page" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1  # one line: the error, naming the warning
    assert _outputs(project) == before and not _leftovers(project)


@pytest.mark.slow
def test_the_footer_text_of_the_configuration_is_on_every_page(built_book):
    """_config.yml's ``html.extra_footer`` reaches sphinx-book-theme (issue 13, item 5)."""
    footer = yaml.safe_load((ROOT / "_config.yml").read_text())["html"]["extra_footer"]
    assert "Built offline" in footer
    pages = sorted(built_book.html.glob("*.html"))
    assert len(pages) >= 8
    for page in pages:
        text = page.read_text(encoding="utf-8")
        if 'http-equiv="Refresh"' in text:  # index.html only redirects
            continue
        m = re.search(r'<div class="extra_footer">\s*(.*?)\s*</div>', text, re.S)
        assert m and m.group(1) == footer, page.name


# ----------------------------------------------------------------------------- the cache

@pytest.mark.slow
def test_second_build_changes_nothing(built_book):
    """Right after ``make book``: nothing executed or rendered, every table byte-identical."""
    before = {f: (f.read_bytes(), f.stat().st_mtime_ns) for f in built_book.tables.glob("*.csv")}
    html_before = (built_book.html / book.STAMP).stat().st_mtime_ns
    proc = run_build(built_book.root, "--params", "params/paper.yaml")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == (f"mrbook build: nothing changed since the last build: "
                                   f"{built_book.html} is up to date")
    after = {f: (f.read_bytes(), f.stat().st_mtime_ns) for f in built_book.tables.glob("*.csv")}
    assert after == before and len(before) >= 10
    assert (built_book.html / book.STAMP).stat().st_mtime_ns == html_before


@pytest.mark.slow
def test_unchanged_notebooks_come_from_the_cache(built_book, tmp_path):
    """A new output folder needs a new render, but no notebook runs again; same tables."""
    project = _copy_built(built_book, tmp_path / "p")
    tables = {f.name: f.read_bytes() for f in (project / "book" / "data").glob("*.csv")}
    shutil.rmtree(project / "book" / "data")
    proc = run_build(project, "--out", str(tmp_path / "other" / "html"), "--no-pdf")
    assert proc.returncode == 0, proc.stderr
    for name in NAMES:
        assert f"mrbook build: {name}.ipynb unchanged, taken from the cache" in proc.stderr
    assert "executed" not in proc.stderr.replace("0 notebook(s) executed", "")
    assert f"0 notebook(s) executed, {len(NAMES)} from the cache" in proc.stderr
    again = {f.name: f.read_bytes() for f in (project / "book" / "data").glob("*.csv")}
    assert again == tables
    assert (tmp_path / "other" / "html" / "02_forward_mr.html").is_file()
    # no PDF asked for: none written, and the introduction offers none
    assert not (tmp_path / "other" / "pdf").exists()
    assert "mrbook-pdf-link" not in (tmp_path / "other" / "html" / "intro.html").read_text()


def test_notebook_key_follows_what_it_depends_on(tmp_path):
    nb = NOTEBOOKS[0]
    code = book.code_fingerprint(kernel_only=True)
    base = book.notebook_key(nb, {"nboot": 1000}, ["demo:osteoporosis"], code)
    assert base == book.notebook_key(nb, {"nboot": 1000}, ["demo:osteoporosis"], code)
    assert base != book.notebook_key(nb, {"nboot": 999}, ["demo:osteoporosis"], code)
    assert base != book.notebook_key(nb, {"nboot": 1000}, ["demo:hashimoto"], code)
    assert base != book.notebook_key(nb, {"nboot": 1000}, ["demo:osteoporosis"], code + "0")
    assert base != book.notebook_key(NOTEBOOKS[1], {"nboot": 1000}, ["demo:osteoporosis"], code)
    # a data file's fingerprint changes when the file does
    f = tmp_path / "x.tsv"
    f.write_text("a\n1\n")
    fp = book.data_fingerprint({"outcome_source": str(f)})
    time.sleep(0.01)
    f.write_text("a\n2\n3\n")
    assert book.data_fingerprint({"outcome_source": str(f)}) != fp
    # the kernel never imports the book or the command line: editing them re-executes nothing
    assert book.code_fingerprint(kernel_only=True) != book.code_fingerprint()


def test_the_cache_keeps_the_most_recently_used_entries(tmp_path):
    from mrbook.book import cache

    root = tmp_path / "notebooks"
    for i in range(5):
        (root / f"k{i}").mkdir(parents=True)
        os.utime(root / f"k{i}", ns=(i * 10**9, i * 10**9))
    os.utime(root / "k0")  # just used
    removed = cache.prune(root, keep=3)
    assert sorted(p.name for p in removed) == ["k1", "k2"]
    assert sorted(p.name for p in root.iterdir()) == ["k0", "k3", "k4"]


# ----------------------------------------------------------------------------- never a mixed book

@pytest.mark.slow
def test_a_failed_notebook_leaves_the_previous_book(built_book, tmp_path):
    """A notebook that fails half-way: nothing of the previous book changes; --no-execute
    afterwards renders the previous, consistent run."""
    import nbformat

    project = _copy_built(built_book, tmp_path / "p")
    src = project / "notebooks" / "03_reverse_mr.ipynb"
    nb = nbformat.read(str(src), as_version=4)
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                      and "parameters" not in c.metadata.get("tags", []))
    nb.cells.insert(first_code + 1, nbformat.v4.new_code_cell('raise RuntimeError("planted failure")'))
    nbformat.write(nb, str(src))
    before = _outputs(project)
    proc = run_build(project)
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert err[-1].startswith("mrbook build: error: notebook 03_reverse_mr.ipynb failed in cell")
    assert "RuntimeError: planted failure" in err[-1] and "Traceback" not in proc.stderr
    assert "01_methods.ipynb unchanged, taken from the cache" in proc.stderr
    assert _outputs(project) == before, "the failed build changed the previous book"
    assert not _leftovers(project)
    proc = run_build(project, "--no-execute", "--no-pdf")
    assert proc.returncode == 0, proc.stderr
    page = (project / "_build" / "html" / "03_reverse_mr.html").read_text(encoding="utf-8")
    assert "planted failure" not in page and "Table 4" in page


@pytest.mark.slow
def test_no_execute_refuses_pages_of_another_run(built_book, tmp_path):
    project = _copy_built(built_book, tmp_path / "p")
    target = project / "book" / "04_sensitivity.ipynb"
    nb = json.loads(target.read_text(encoding="utf-8"))
    nb["metadata"]["papermill"]["parameters"]["nboot"] = 7
    target.write_text(json.dumps(nb), encoding="utf-8")
    before = _outputs(project)
    proc = run_build(project, "--no-execute")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "04_sensitivity.ipynb was executed with other run parameters (nboot differ)" in proc.stderr
    assert _outputs(project) == before


def test_notebook_problem_names_errors_and_other_parameters(tmp_path):
    good = {"metadata": {"papermill": {"parameters": {"seed": 1}}},
            "cells": [{"cell_type": "code", "outputs": [{"output_type": "stream"}]}]}
    p = tmp_path / "x.ipynb"
    p.write_text(json.dumps(good))
    assert book.notebook_problem(p, {"seed": 1}) is None
    assert "other run parameters (seed differ)" in book.notebook_problem(p, {"seed": 2})
    bad = json.loads(json.dumps(good))
    bad["cells"][0]["outputs"].append({"output_type": "error", "ename": "OpenGWASError"})
    p.write_text(json.dumps(bad))
    assert book.notebook_problem(p, {"seed": 1}) == "holds an error from a failed run"
    bad = json.loads(json.dumps(good))
    bad["metadata"]["papermill"]["exception"] = True
    p.write_text(json.dumps(bad))
    assert book.notebook_problem(p, {"seed": 1}) == "holds an error from a failed run"
    p.write_text(json.dumps({"metadata": {}, "cells": []}))
    assert "not executed by mrbook build" in book.notebook_problem(p, {"seed": 1})


@pytest.mark.slow
def test_opengwas_without_token_stops_before_any_notebook(built_book, tmp_path):
    project = _copy_built(built_book, tmp_path / "p")
    before = _outputs(project)
    t0 = time.perf_counter()
    proc = run_build(project, "--params", "params/opengwas.yaml",
                     env={"XDG_CACHE_HOME": str(tmp_path / "empty-cache")})
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "ebi-a-GCST90018862" in lines[0] and "OPENGWAS_JWT" in lines[0]
    assert "no notebook was run" in lines[0] and "executed" not in proc.stderr
    assert time.perf_counter() - t0 < 60
    assert _outputs(project) == before and not _leftovers(project)


def test_opengwas_token_check(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("OPENGWAS_JWT", raising=False)
    run = {"outcome_source": "finn-b-M13_OSTEOPOROSIS"}
    with pytest.raises(MRBookError, match="finn-b-M13_OSTEOPOROSIS is an OpenGWAS study"):
        book.check_opengwas_token(run)
    # a reply cached by an earlier run answers without a token
    cache = tmp_path / "mrbook" / "opengwas"
    cache.mkdir(parents=True)
    (cache / "tophits-0.json").write_text(json.dumps(
        {"endpoint": "tophits", "params": {"id": ["finn-b-M13_OSTEOPOROSIS"]}, "response": []}))
    book.check_opengwas_token(run)
    monkeypatch.setenv("OPENGWAS_JWT", "a-token-from-the-environment")
    book.check_opengwas_token({"outcome_source": "ebi-a-GCST90018862"})
    book.check_opengwas_token({})  # the demo needs no token


# ----------------------------------------------------------------------------- interrupted

def _kernels_of(pid: int) -> list[int]:
    """Processes started for a build (kernels and their children carry JPY_PARENT_PID)."""
    needle = f"JPY_PARENT_PID={pid}\0".encode()
    found = []
    for env in Path("/proc").glob("[0-9]*/environ"):
        try:
            if needle in env.read_bytes():
                found.append(int(env.parent.name))
        except OSError:
            continue
    return found


def _interrupt(project: Path, params_file: str, signum: int, whole_group: bool, demo_cache: Path):
    """Start a build, let it execute its first notebook, then send ``signum`` mid-run."""
    import sys

    env = dict(os.environ, MRBOOK_ROOT=str(project), MRBOOK_CACHE=str(demo_cache))
    env.pop("OPENGWAS_JWT", None)
    proc = subprocess.Popen([sys.executable, "-m", "mrbook.cli.main", "build", "--params",
                             params_file], cwd=project, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    deadline = time.time() + 600
    while not any("executed 01_methods" in ln for ln in lines):
        assert proc.poll() is None, f"the build ended early: {lines}"
        assert time.time() < deadline, lines
        time.sleep(0.2)
    time.sleep(3)  # 02_forward_mr is executing now
    kernels = _kernels_of(proc.pid)
    assert kernels, "no kernel is running: the signal would not land mid-run"
    if whole_group:  # Ctrl-C in a terminal: the whole foreground group
        os.killpg(proc.pid, signum)
    else:  # kill PID: the build alone; it must stop its kernels itself
        proc.send_signal(signum)
    proc.wait(120)
    reader.join(10)
    deadline = time.time() + 15
    while _kernels_of(proc.pid) and time.time() < deadline:
        time.sleep(0.2)
    return proc.returncode, "".join(lines), _kernels_of(proc.pid)


@pytest.mark.slow
@pytest.mark.parametrize("signum, whole_group", [(signal.SIGINT, True), (signal.SIGTERM, False)],
                         ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_build_leaves_the_previous_book(built_book, book_demo_cache, tmp_path, signum,
                                                       whole_group):
    project = _copy_built(built_book, tmp_path / "p")
    changed = _paper_with(project, "changed.yaml", nboot=200)
    before = _outputs(project)
    code, log, kernels = _interrupt(project, changed, signum, whole_group, book_demo_cache)
    assert code == 128 + signum, log
    name = signal.Signals(signum).name
    assert log.strip().splitlines()[-1] == (f"mrbook build: interrupted ({name}); the previous "
                                            "book was left as it was")
    assert "Traceback" not in log
    assert not kernels, f"kernels left running: {kernels}"
    assert _outputs(project) == before, "the interrupted build changed the previous book"
    assert not _leftovers(project)
    if signum == signal.SIGINT:
        # the next build works: the same changed parameter, to the end; the notebook the
        # interrupted build finished is reused, the others (nboot changed) run again
        proc = run_build(project, "--params", changed, "--no-pdf")
        assert proc.returncode == 0, proc.stderr
        assert "01_methods.ipynb unchanged, taken from the cache" in proc.stderr
        assert f"{len(NAMES) - 1} notebook(s) executed, 1 from the cache" in proc.stderr
        nb = json.loads((project / "book" / "02_forward_mr.ipynb").read_text())
        assert nb["metadata"]["papermill"]["parameters"]["nboot"] == 200
        t2 = pd.read_csv(project / "book" / "data" / "table2_forward_mr.csv")
        t2_before = pd.read_csv(built_book.tables / "table2_forward_mr.csv")
        ivw = t2["method"] == "Inverse variance weighted"
        # IVW has no bootstrap: unchanged; the medians' and modes' bootstrap SEs moved
        assert (t2.loc[ivw, "se"].to_numpy() == t2_before.loc[ivw, "se"].to_numpy()).all()
        assert (t2.loc[~ivw, "se"].to_numpy() != t2_before.loc[~ivw, "se"].to_numpy()).any()
    else:
        # the next build works: the previous parameters, nothing to do
        proc = run_build(project, "--params", "params/paper.yaml")
        assert proc.returncode == 0, proc.stderr
        assert "nothing changed since the last build" in proc.stderr
    assert not _leftovers(project)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_waits_until_the_swap_is_done(signum):
    """During the swap a signal is held back; it stops the build right after, never half-way."""
    steps = []
    with pytest.raises(book.BuildInterrupted) as info:
        with book._signals_raise():
            with book._signals_held():
                os.kill(os.getpid(), signum)
                time.sleep(0.2)
                steps.append("swapped")
            steps.append("never")
    assert steps == ["swapped"] and info.value.signum == signum
    # the handlers are restored: SIGINT is Python's KeyboardInterrupt again
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_stale_staging_folder_is_swept(tmp_path):
    """A build killed outright (SIGKILL) leaves its staging folder; the next one removes it."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f"{book.STAGE_PREFIX}{dead.pid}-abc"
    (stale / "book").mkdir(parents=True)
    alive = tmp_path / f"{book.STAGE_PREFIX}{os.getpid()}-xyz"
    alive.mkdir()
    book._sweep_stale_stages(tmp_path)
    assert not stale.exists() and alive.exists()


# ----------------------------------------------------------------------------- paths as typed

def test_paths_in_a_parameter_file_are_taken_from_its_folder(tmp_path, monkeypatch):
    folder = tmp_path / "study"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "exp.tsv").write_text("x\n")
    (folder / "conf.tsv").write_text("x\n")
    (folder / "p.yaml").write_text("exposures:\n  Exposure A: data/exp.tsv\n"
                                   "outcome_source: demo:osteoporosis\n"
                                   "confounder_table: conf.tsv\noutput_dir: results\n")
    monkeypatch.chdir(tmp_path)  # the reader stands elsewhere: the file's folder counts
    got = params.load_yaml("study/p.yaml")
    assert got["exposures"] == {"Exposure A": str(folder / "data" / "exp.tsv")}
    assert got["confounder_table"] == str(folder / "conf.tsv")
    assert got["output_dir"] == str(folder / "results")
    assert got["outcome_source"] == "demo:osteoporosis"
    # a missing file is named where the rule looked for it
    (folder / "q.yaml").write_text("outcome_source: data/missing.tsv\n")
    with pytest.raises(ParameterError, match=re.escape(str(folder / "data" / "missing.tsv"))):
        params.load_yaml(folder / "q.yaml")
    # the project's own files sit in params/: ../book/data is the project's book/data
    assert params.load_yaml(ROOT / "params" / "paper.yaml")["output_dir"] == "book/data"


def test_a_typed_parameter_file_is_taken_from_the_current_folder(tmp_path):
    project = copy_book_project(tmp_path / "project")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (project / "p.yaml").write_text("nboot: 10\n")  # in the project root: not the one meant
    proc = run_build(project, "--params", "p.yaml", cwd=elsewhere)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"mrbook build: error: parameter file not found: {elsewhere / 'p.yaml'}"


@pytest.mark.slow
def test_build_from_a_scratch_folder_with_relative_data_paths(tmp_path, demo_folder, book_demo_cache):
    """Acceptance (issue 16): ``mrbook build --params p.yaml`` from a scratch folder outside the
    project, whose data files, LD panel, confounder table and output folder are given
    relative to p.yaml's folder."""
    from mrbook.data import demo

    files = demo.load_manifest(demo_folder)["files"]
    scratch = tmp_path / "scratch"
    data = scratch / "gwas"
    data.mkdir(parents=True)
    wanted = {"exposure": demo.TRAITS["hypothyroidism"]["file"],
              "outcome": demo.TRAITS["osteoporosis"]["file"], "confounders": files["confounders"]}
    for rel in wanted.values():
        shutil.copy(demo_folder / rel, data / Path(rel).name)
    panel = Path(files["panel"])
    for ext in (".bed", ".bim", ".fam"):
        shutil.copy(demo_folder / (files["panel"] + ext), data / (panel.name + ext))
    (scratch / "p.yaml").write_text(yaml.safe_dump({
        "exposures": {"Hypothyroidism": f"gwas/{Path(wanted['exposure']).name}"},
        "outcome_source": f"gwas/{Path(wanted['outcome']).name}",
        "ld_ref": f"gwas/{panel.name}", "confounder_table": f"gwas/{Path(wanted['confounders']).name}",
        "output_dir": "results", "nboot": 100, "presso_n_distribution": 100,
        "export_figures": False}, sort_keys=False))
    project = copy_book_project(tmp_path / "project")
    proc = run_build(project, "--params", "p.yaml", "--out", "html", "--no-pdf", cwd=scratch)
    assert proc.returncode == 0, proc.stderr[-3000:]
    t2 = pd.read_csv(scratch / "results" / "table2_forward_mr.csv")
    assert set(t2["exposure"]) == {"Hypothyroidism"} and (t2["nsnp"] == 69).all()
    t1 = pd.read_csv(scratch / "results" / "table1_data_sources.csv")
    assert str(data / Path(wanted["exposure"]).name) in t1.to_string()
    page = (scratch / "html" / "01_methods.html").read_text(encoding="utf-8")
    assert "Data: simulated demo study" not in page
    assert not (project / "book" / "data").exists()  # the project's own tables untouched


# ----------------------------------------------------------------------------- make lab

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_lab_starts_jupyterlab(tmp_path):
    """``make lab`` gives a working JupyterLab, as root too (``--allow-root`` only for uid 0)."""
    port, token = _free_port(), secrets.token_hex(8)
    args = (f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} "
            f"--ServerApp.port_retries=0 --IdentityProvider.token={token}")
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "ws"))
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"], cwd=ROOT,
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, ok = time.time() + 120, False
        while time.time() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}",
                                            timeout=5) as r:
                    ok = r.status == 200
                    break
            except OSError:
                time.sleep(0.5)
        text = (tmp_path / "lab.log").read_text()
        assert ok, f"JupyterLab did not answer; make lab said: {text[-1500:]}"
        assert "Running as root is not recommended" not in text
        assert ("--allow-root" in text) == (os.geteuid() == 0)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
