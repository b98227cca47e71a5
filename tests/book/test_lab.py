"""The teacher's path: every notebook run top to bottom in JupyterLab, in a real browser.

The test starts a JupyterLab server on 127.0.0.1 (a random free port, a random
token, ``--allow-root`` only when running as root, as ``make lab`` does) on a copy
of the project's notebooks, so that nothing JupyterLab saves can touch the stored
notebooks, and drives Debian's Chromium with playwright (``executable_path``:
playwright's own browser download is never needed). For each notebook of
``notebooks/`` it opens the notebook, clicks *Run → Run All Cells* as a teacher
would, waits until every cell has run and the kernel is idle, and checks:

- no cell has an error output (read from the notebook model in the page);
- every plotly figure drew: its output holds an ``svg.main-svg``;
- the first table is visible on the page.

Marked ``lab`` (``pytest -m lab``) and ``slow``; skipped, with the reason, when
Chromium or playwright is missing. ``MRBOOK_LAB_SHOTS=<folder>`` saves a screenshot of
each notebook after its run (to look at what a teacher sees).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CHROMIUM = os.environ.get("BROWSER_PATH") or shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = [
    pytest.mark.lab, pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).is_file(),
                       reason="Debian's chromium is not installed (apt-get install chromium; "
                              "make test installs it as root)"),
]
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="playwright is not installed (pip install -e '.[test]')")

#: seconds a whole notebook may take in the browser (the demo's slowest takes ~30 s alone)
RUN_TIMEOUT = 600


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory, book_demo_cache):
    """A JupyterLab server on a copy of the project's notebooks; yields (base URL, token, root)."""
    root = tmp_path_factory.mktemp("lab-project")
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    (root / "book").mkdir()
    shutil.copy(ROOT / "_config.yml", root / "_config.yml")
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser",
           "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
           "--ServerApp.disable_check_xsrf=False", "--LabServerApp.open_browser=False"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    env = dict(os.environ, MRBOOK_ROOT=str(root), MRBOOK_CACHE=str(book_demo_cache),
               JUPYTER_CONFIG_DIR=str(root / ".jupyter-config"),
               JUPYTERLAB_WORKSPACES_DIR=str(root / ".workspaces"))
    env.pop("OPENGWAS_JWT", None)
    log = open(root / "lab.log", "wb")
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            log.close()
            pytest.fail("JupyterLab did not start: " + (root / "lab.log").read_text()[-2000:])
        time.sleep(0.5)
    yield base, token, root
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
    log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                    "--no-first-run", "--disable-dev-shm-usage"])
        yield b
        b.close()


#: the notebook panel of a path, from the JupyterLab application (exposed for the test)
PANEL = """((path) => {
  const app = window.jupyterapp;
  if (!app) return null;
  for (const w of app.shell.widgets('main')) {
    if (w.context && w.context.path === path && w.content && w.sessionContext) return w;
  }
  return null;
})"""

#: the notebook's kernel has started and is idle
KERNEL_IDLE = """(path) => {
  const panel = PANEL(path);
  const k = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
  return !!k && k.status === 'idle';
}""".replace("PANEL", PANEL)

#: every code cell has run: a number in its prompt, none waiting ("[*]") and the kernel idle
ALL_RUN = """(path) => {
  const panel = PANEL(path);
  if (!panel) return false;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  if (!kernel || kernel.status !== 'idle') return false;
  const cells = [...panel.content.model.cells].filter(c => c.type === 'code');
  return cells.length > 0 && cells.every(c => c.executionCount !== null)
         && ![...panel.node.querySelectorAll('.jp-InputPrompt')].some(p => p.textContent.includes('*'));
}""".replace("PANEL", PANEL)

#: what the run left: error outputs (from the model), figures and tables (from the page)
RESULT = """(path) => {
  const panel = PANEL(path);
  const errors = [];
  for (const cell of panel.content.model.cells) {
    if (cell.type !== 'code') continue;
    for (let i = 0; i < cell.outputs.length; i++) {
      const out = cell.outputs.get(i).toJSON();
      if (out.output_type === 'error') errors.push(out.ename + ': ' + out.evalue);
    }
  }
  const node = panel.content.node;
  const figures = [...node.querySelectorAll('.js-plotly-plot, .plotly-graph-div')]
    .filter(d => !d.parentElement.closest('.js-plotly-plot, .plotly-graph-div'));
  return {
    errors,
    cells: [...panel.content.model.cells].filter(c => c.type === 'code').length,
    figures: figures.length,
    drawn: figures.filter(d => d.querySelector('svg.main-svg')).length,
    tables: node.querySelectorAll('.jp-OutputArea-output table').length,
  };
}""".replace("PANEL", PANEL)


def _expected_figures(nb_path: Path) -> int:
    """How many figures a notebook shows: its cells calling show_figures on pair figures."""
    text = nb_path.read_text(encoding="utf-8")
    return len(re.findall(r"report\.show_figures\(", text))


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_jupyterlab(lab, browser, nb_path):
    base, token, root = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        # a workspace of its own (reset), so that no earlier notebook is restored beside it
        path = f"notebooks/{nb_path.name}"
        page.goto(f"{base}/lab/workspaces/test-{nb_path.stem}/tree/{path}?reset&token={token}",
                  timeout=120_000)
        # the notebook is open and its kernel has started
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=120_000)
        page.wait_for_function(KERNEL_IDLE, arg=path, timeout=120_000)
        # Run -> Run All Cells, through the menu bar as a teacher does
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        page.wait_for_function(ALL_RUN, arg=path, timeout=RUN_TIMEOUT * 1000, polling=500)
        # give plotly a moment to draw the last figures
        page.wait_for_timeout(1000)
        res = page.evaluate(RESULT, path)
        if os.environ.get("MRBOOK_LAB_SHOTS"):
            print(nb_path.stem, res)
            page.screenshot(path=f"{os.environ['MRBOOK_LAB_SHOTS']}/{nb_path.stem}.png")
        assert res["errors"] == [], f"{nb_path.name}: error outputs {res['errors']}"
        assert res["cells"] > 3
        assert res["drawn"] == res["figures"], \
            f"{nb_path.name}: only {res['drawn']} of {res['figures']} plotly figures drew"
        if _expected_figures(nb_path):
            assert res["figures"] > 0, f"{nb_path.name}: shows figures, none found in the page"
        assert res["tables"] > 0, f"{nb_path.name}: no table in the outputs"
        first = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output table").first
        first.scroll_into_view_if_needed()
        assert first.is_visible(), f"{nb_path.name}: the first table is not visible"
        box = first.bounding_box()
        assert box and box["width"] > 100 and box["height"] > 20
    finally:
        # stop this notebook's kernel (the next notebook starts its own)
        page.evaluate("""(path) => { const p = PANEL(path);
                         return p ? p.sessionContext.shutdown().then(() => 1) : 0; }"""
                      .replace("PANEL", PANEL), f"notebooks/{nb_path.name}")
        page.close()
    # nothing was written into the project's stored notebooks: the server ran on a copy
    assert root != ROOT
