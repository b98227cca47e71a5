"""The built book in a real browser: every figure drew, tables are there, nothing left localhost.

Builds the book (``mrbook build`` on ``params/paper.yaml``, the offline demo), serves
``_build/html`` from a local HTTP server and opens every page in headless Chromium
through the DevTools protocol. Chromium resolves no host name but 127.0.0.1
(``--host-resolver-rules``), and every request the pages make is recorded, so a
page that needs the network fails twice: its figure does not draw and the request
is listed.

Per page it checks: each plotly figure the executed notebook produced is a
``.plotly-graph-div`` holding a rendered ``svg.main-svg``; every table the notebook
showed is present; no table is wider than its container at a 1400 px wide window
(no horizontal scroll, nothing cut off; issue 13 item 7); math (if any) was typeset
by the local MathJax; no JavaScript exception was thrown; every request went to the
local server.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: the window width at which every table must fit the page (issue 13, item 7)
WIDTH, HEIGHT = 1400, 900
CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"),
                             shutil.which("google-chrome")) if p), None)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="no chromium (apt-get install chromium)")]

websocket = pytest.importorskip("websocket", reason="websocket-client (a jupyter_server dependency)")

from mrbook.book.pdf import Chromium, serve  # noqa: E402  (after the skip above)


# ----------------------------------------------------------------------------- helpers

class Browser(Chromium):
    """Headless Chromium (mrbook's own driver) that records the page's events."""

    def __init__(self):
        self.events: list[dict] = []
        super().__init__(CHROMIUM, timeout=30, window=(WIDTH, HEIGHT))
        for domain in ("Page", "Network", "Runtime"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT,
                  deviceScaleFactor=1, mobile=False)

    def on_event(self, msg: dict) -> None:
        self.events.append(msg)

    def pump(self, seconds: float) -> None:
        """Collect events for a while."""
        end = time.time() + seconds
        self.ws.settimeout(0.1)
        try:
            while time.time() < end:
                try:
                    msg = json.loads(self.ws.recv())
                except websocket.WebSocketTimeoutException:
                    continue
                if "method" in msg:
                    self.events.append(msg)
        finally:
            self.ws.settimeout(30)

    def open(self, url: str, ready: str, timeout: float = 30.0):
        """Navigate, wait for the load event, then until ``ready`` (JS) is true."""
        self.events.clear()
        self.call("Page.navigate", url=url)
        end = time.time() + timeout
        loaded = False
        while time.time() < end and not loaded:
            self.pump(0.2)
            loaded = any(e["method"] == "Page.loadEventFired" for e in self.events)
        while time.time() < end:
            if self.evaluate(ready):
                break
            self.pump(0.2)
        self.pump(0.3)

    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events
                if e["method"] == "Network.requestWillBeSent"]

    def exceptions(self) -> list[str]:
        out = []
        for e in self.events:
            if e["method"] == "Runtime.exceptionThrown":
                d = e["params"]["exceptionDetails"]
                out.append(d.get("exception", {}).get("description") or d.get("text", ""))
        return out


PAGE_STATE = """(() => {
  const divs = [...document.querySelectorAll('.plotly-graph-div')];
  return {
    figures: divs.length,
    drawn: divs.filter(d => d.querySelector('svg.main-svg')).length,
    traces: divs.map(d => (d.data || []).length),
    tables: document.querySelectorAll('table.mrbook-table').length,
    csv_links: [...document.querySelectorAll('a')]
      .filter(a => /\\.csv$/.test(a.getAttribute('href') || '')).length,
    math_source: document.querySelectorAll('.math').length,
    math_rendered: document.querySelectorAll('mjx-container').length,
    title: document.title,
    // tables wider than their container (a horizontal scroll) or than the page's text column
    overflowing: (() => {
      const article = document.querySelector('article.bd-article') || document.body;
      const right = article.getBoundingClientRect().right;
      return [...article.querySelectorAll('table')].map(t => {
        const box = t.closest('.mrbook-table-wrap, .pst-scrollable-table-container')
                    || t.parentElement;
        const over = Math.max(box.scrollWidth - box.clientWidth,
                              t.getBoundingClientRect().right - right);
        const head = [...t.querySelectorAll('th')].slice(0, 4).map(h => h.textContent.trim());
        return over > 1 ? `${head.join(' | ')}: ${Math.round(over)} px too wide` : null;
      }).filter(x => x);
    })(),
  };
})()"""

READY = """(() => {
  const divs = [...document.querySelectorAll('.plotly-graph-div')];
  const figs = divs.every(d => d.querySelector('svg.main-svg'));
  const math = document.querySelectorAll('.math').length === 0
               || document.querySelectorAll('mjx-container').length > 0;
  return figs && math;
})()"""


def expected_outputs(notebook: Path) -> dict:
    """Figures and tables an executed notebook shows (what its page must contain)."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    figures = tables = 0
    for cell in nb["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if "remove-cell" in tags or "remove-output" in tags:
            continue
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "application/vnd.plotly.v1+json" in data:
                figures += 1
            md = data.get("text/markdown", "")
            if isinstance(md, list):
                md = "".join(md)
            tables += md.count('class="dataframe mrbook-table"')
    return {"figures": figures, "tables": tables}


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def book_html(built_book):
    """The session's book (``make book`` of params/paper.yaml in a project copy): its HTML."""
    return built_book.html


@pytest.fixture(scope="module")
def browser():
    b = Browser()
    yield b
    b.close()


# ----------------------------------------------------------------------------- tests

def test_every_page_renders_offline(book_html, built_book, browser):
    server, base = serve(book_html)
    try:
        pages = sorted(p.relative_to(book_html).as_posix() for p in book_html.glob("*.html"))
        assert "index.html" in pages and "02_forward_mr.html" in pages
        problems, seen = [], {}
        for page in pages:
            browser.open(base + page, READY)
            state = browser.evaluate(PAGE_STATE)
            seen[page] = state
            nb = built_book.notebooks / (Path(page).stem + ".ipynb")
            if nb.is_file():
                want = expected_outputs(nb)
                if state["figures"] != want["figures"]:
                    problems.append(f"{page}: {state['figures']} figure divs, the notebook made "
                                    f"{want['figures']}")
                if state["tables"] < want["tables"]:
                    problems.append(f"{page}: {state['tables']} tables, the notebook showed "
                                    f"{want['tables']}")
            if state["drawn"] != state["figures"]:
                problems.append(f"{page}: only {state['drawn']} of {state['figures']} figures drew")
            for table in state["overflowing"]:
                problems.append(f"{page}: a table does not fit at {WIDTH} px: {table}")
            if state["math_source"] and not state["math_rendered"]:
                problems.append(f"{page}: math was not typeset (MathJax did not load)")
            remote = [u for u in browser.requests()
                      if not u.startswith((base, "data:", "blob:", "about:"))]
            if remote:
                problems.append(f"{page}: requests left localhost: {remote[:5]}")
            errors = browser.exceptions()
            if errors:
                problems.append(f"{page}: JavaScript errors: {errors[:3]}")
        assert not problems, "\n".join(problems)
        # the analysis pages show figures and tables; the methods page typesets math
        for page in ("02_forward_mr.html", "03_reverse_mr.html", "04_sensitivity.html"):
            assert seen[page]["figures"] > 0 and seen[page]["drawn"] == seen[page]["figures"], page
            assert seen[page]["tables"] > 0, page
        assert seen["01_methods.html"]["math_rendered"] > 0
        assert seen["01_methods.html"]["csv_links"] >= seen["01_methods.html"]["tables"] - 1
    finally:
        server.shutdown()


def test_csv_downloads_resolve(book_html):
    """Every CSV link of every page points to a file of the built book."""
    import re

    missing = []
    for page in book_html.glob("*.html"):
        for href in re.findall(r'href="([^"]+\.csv)"', page.read_text(encoding="utf-8")):
            if not (page.parent / href).is_file():
                missing.append(f"{page.name}: {href}")
    assert not missing, missing


def test_figure_file_downloads_resolve(book_html, built_book):
    """With export_figures on (params/paper.yaml), each figure links its SVG and PNG file."""
    import re

    import yaml

    if not yaml.safe_load((ROOT / "params" / "paper.yaml").read_text()).get("export_figures"):
        pytest.skip("params/paper.yaml has export_figures: false")
    missing, counts = [], {}
    for page in book_html.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        for ext in ("svg", "png"):
            hrefs = re.findall(rf'href="(_downloads/[^"]+\.{ext})"', text)
            counts[(page.name, ext)] = len(hrefs)
            missing += [f"{page.name}: {h}" for h in hrefs if not (page.parent / h).is_file()]
    assert not missing, missing
    for name in ("02_forward_mr", "03_reverse_mr", "04_sensitivity"):
        want = expected_outputs(built_book.notebooks / f"{name}.ipynb")["figures"]
        assert counts[(f"{name}.html", "svg")] == counts[(f"{name}.html", "png")] == want, name
