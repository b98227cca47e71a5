"""Book layer, the PDF: the book's single-page HTML printed by headless Chromium, offline.

``mrbook build`` renders the book twice from the same sources: as HTML pages
and with Sphinx's ``singlehtml`` builder (every chapter in order on one page,
cross-references turned into in-page anchors). :func:`print_pdf` serves that page
from 127.0.0.1, opens it in Debian's Chromium (``/usr/bin/chromium``, or
``$BROWSER_PATH``) driven over the DevTools protocol, waits until every plotly
figure has drawn and MathJax has typeset, and prints it with ``Page.printToPDF``:
A4, the print style sheet of ``_static/mrbook.css`` (one chapter per page run,
no navigation, no buttons), page numbers in the footer, a document outline, and
in-page links kept as PDF links. Chromium resolves no host but 127.0.0.1, so
printing never reaches the network.
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from ..errors import MRBookError

#: Chromium flags of every run (headless, no sandbox as root, no network but 127.0.0.1)
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                  "--disable-features=Translate,OptimizationHints,MediaRouter",
                  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")

#: JavaScript: true once every plotly figure drew and MathJax (if the page has math) finished
READY_JS = """(() => {
  const divs = [...document.querySelectorAll('.plotly-graph-div')];
  const figs = divs.every(d => d.querySelector('svg.main-svg'));
  const needs_math = document.querySelectorAll('.math').length > 0;
  const math = !needs_math || (window.MathJax && MathJax.startup && MathJax.startup.promise
                               && document.querySelectorAll('mjx-container').length > 0);
  return figs && !!math && document.readyState === 'complete';
})()"""

#: the page footer: "page n of N"
FOOTER = ('<div style="font-size:8px;width:100%;text-align:center;color:#555">'
          '<span class="pageNumber"></span> / <span class="totalPages"></span></div>')


def find_chromium() -> str | None:
    """Chromium's executable: ``$BROWSER_PATH`` if set, else ``chromium`` on the PATH."""
    env = os.environ.get("BROWSER_PATH")
    if env and Path(env).is_file():
        return env
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no access log on the build's output
        pass


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve ``directory`` on 127.0.0.1 (a free port) from a thread: (server, base URL).

    Stop it with ``server.shutdown(); server.server_close()``.
    """
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


class Chromium:
    """One headless Chromium with one page, driven over the DevTools protocol.

    Parameters
    ----------
    executable : str
        The browser (:func:`find_chromium`).
    timeout : float
        Seconds to wait for the browser's start and for each reply.
    window : tuple of int
        The window's width and height in pixels.

    Notes
    -----
    :meth:`call` sends one command and returns its result; the events that arrive
    meanwhile go to :meth:`on_event` (ignored here; a subclass may record them).
    """

    def __init__(self, executable: str, timeout: float = 60.0,
                 window: tuple[int, int] = (700, 1000)):
        import websocket  # websocket-client (a dependency of jupyter_server)

        self._websocket = websocket
        self.profile = Path(tempfile.mkdtemp(prefix="mrbook-chromium-"))
        self.proc = None
        self.ws = None
        self._id = 0
        try:
            self.proc = subprocess.Popen(
                [executable, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}",
                 "--remote-debugging-port=0", f"--window-size={window[0]},{window[1]}",
                 "about:blank"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            port_file = self.profile / "DevToolsActivePort"
            deadline = time.monotonic() + timeout
            while not (port_file.is_file() and port_file.read_text().strip()):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise MRBookError(f"{executable} did not start (no DevTools endpoint); "
                                      "install Debian's chromium or build with --no-pdf")
                time.sleep(0.05)
            port = int(port_file.read_text().splitlines()[0])
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                targets = json.load(r)
            page = next(t for t in targets if t.get("type") == "page")
            self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=timeout,
                                                  suppress_origin=True)
        except BaseException:
            self.close()
            raise

    def call(self, method: str, **params):
        self._id += 1
        my_id = self._id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise MRBookError(f"chromium: {method} failed: {msg['error'].get('message')}")
                return msg.get("result", {})
            if "method" in msg:
                self.on_event(msg)

    def on_event(self, msg: dict) -> None:
        """A DevTools event that arrived while waiting for a reply (ignored here)."""

    def evaluate(self, expression: str):
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                        awaitPromise=True)
        return res.get("result", {}).get("value")

    def close(self) -> None:
        if self.ws is not None:
            try:
                self.ws.close()
            except Exception:  # noqa: BLE001 - the browser is going away anyway
                pass
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def print_pdf(html_file: Path, pdf_file: Path, *, title: str = "", timeout: float = 180.0) -> Path:
    """Print an HTML page (and the files beside it) to a PDF with headless Chromium.

    Parameters
    ----------
    html_file : Path
        The page (the ``singlehtml`` book's ``index.html`` or its root page).
        Its folder is served on 127.0.0.1 so that fonts and scripts load as
        they do from a web server.
    pdf_file : Path
        Where the PDF goes; written to a temporary name and renamed when complete.
    title : str
        The document's title (the header line of every page).
    timeout : float
        Seconds to wait for the figures and math before giving up.

    Returns
    -------
    Path
        ``pdf_file``.

    Raises
    ------
    MRBookError
        If Chromium is missing or fails, or the page does not finish drawing.
    """
    executable = find_chromium()
    if executable is None:
        raise MRBookError("the PDF needs Chromium (apt-get install chromium, or set $BROWSER_PATH); "
                          "or build without it: mrbook build --no-pdf")
    html_file = Path(html_file).resolve()
    server, base = serve(html_file.parent)
    browser = None
    try:
        browser = Chromium(executable)
        browser.call("Page.enable")
        browser.call("Emulation.setEmulatedMedia", media="print")
        url = f"{base}{html_file.name}"
        browser.call("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        while not browser.evaluate(READY_JS):
            if time.monotonic() > deadline:
                raise MRBookError(f"{html_file}: figures or math did not finish drawing in "
                                  f"{timeout:.0f} s; the PDF was not written")
            time.sleep(0.2)
        # MathJax done: wait for its typesetting promise, then let plotly settle its layout
        browser.evaluate("window.MathJax && MathJax.startup ? MathJax.startup.promise.then(() => 1) : 1")
        browser.evaluate("document.fonts.ready.then(() => 1)")
        time.sleep(0.3)
        header = ('<div style="font-size:8px;width:100%;text-align:center;color:#555">'
                  f"{_escape(title)}</div>")
        res = browser.call("Page.printToPDF", paperWidth=8.27, paperHeight=11.69,
                           marginTop=0.6, marginBottom=0.6, marginLeft=0.55, marginRight=0.55,
                           printBackground=True, displayHeaderFooter=True, headerTemplate=header,
                           footerTemplate=FOOTER, generateDocumentOutline=True,
                           generateTaggedPDF=True, transferMode="ReturnAsBase64")
        data = base64.b64decode(res["data"])
    finally:
        if browser is not None:
            browser.close()
        server.shutdown()
        server.server_close()
    pdf_file = Path(pdf_file)
    pdf_file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=pdf_file.parent, prefix=f".{pdf_file.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, pdf_file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return pdf_file


_ARTICLE = re.compile(r'(<article class="bd-article"[^>]*>)(.*?)(</article>)', re.DOTALL)
_DOC_MARK = re.compile(r'<span id="document-([^"]+)"></span>')
_TARGET = re.compile(r'(<(?:section|span)\b[^>]*?\bid=")([^"]+)(")')
_HREF = re.compile(r'(href="#)([^"]+)(")')


def unique_anchors(page: str, root_doc: str) -> str:
    """Give every chapter's section anchors their own names in the one-page book.

    Sphinx's ``singlehtml`` keeps each page's anchors as they are, so "Overview" or
    "Summary" of every chapter share one id and a link to the second chapter's
    summary would land in the first one's. Ids that occur in more than one chapter
    become ``<chapter>--<id>``, and each in-page link to such an id points to the
    one of its own chapter (else the first). Unique ids are left alone.
    """
    m = _ARTICLE.search(page)
    if m is None:
        return page
    body = m.group(2)
    # split the article into chapters at Sphinx's "document-<name>" markers
    cuts = [(0, root_doc)] + [(mk.start(), mk.group(1)) for mk in _DOC_MARK.finditer(body)]
    parts = [(name, body[start:(cuts[i + 1][0] if i + 1 < len(cuts) else len(body))])
             for i, (start, name) in enumerate(cuts)]
    where: dict[str, list[str]] = {}
    for name, text in parts:
        for t in _TARGET.finditer(text):
            if not t.group(2).startswith("document-"):
                where.setdefault(t.group(2), []).append(name)
    dup = {i for i, docs in where.items() if len(set(docs)) > 1}
    if not dup:
        return page
    out = []
    for name, text in parts:
        mine = {t.group(2) for t in _TARGET.finditer(text)}
        text = _TARGET.sub(lambda t: t.group(1) + (f"{name}--{t.group(2)}" if t.group(2) in dup
                                                  else t.group(2)) + t.group(3), text)

        def href(h, name=name, mine=mine):
            target = h.group(2)
            if target not in dup:
                return h.group(0)
            owner = name if target in mine else where[target][0]
            return f"{h.group(1)}{owner}--{target}{h.group(3)}"

        out.append(_HREF.sub(href, text))
    return page[:m.start(2)] + "".join(out) + page[m.end(2):]


_LINK = re.compile(r'(<a\b[^>]*?)\s+href="([^"]*)"')


def drop_file_links(page: str) -> str:
    """Links to files beside the page (CSV and image downloads) become plain text.

    In the PDF they would point to the print server on 127.0.0.1, which is gone
    once printing ends; in-page anchors and web addresses stay links.
    """
    def fix(m):
        href = m.group(2)
        if href.startswith(("#", "http://", "https://", "mailto:")):
            return m.group(0)
        return m.group(1)

    return _LINK.sub(fix, page)


def prepare_single_page(single_dir: Path, root_doc: str) -> Path:
    """The ``singlehtml`` book's page made ready to print: chapter-unique anchors
    (:func:`unique_anchors`), no links to local files (:func:`drop_file_links`)."""
    page = Path(single_dir) / f"{root_doc}.html"
    if not page.is_file():
        raise MRBookError(f"{page}: the one-page book was not written")
    text = page.read_text(encoding="utf-8")
    page.write_text(drop_file_links(unique_anchors(text, root_doc)), encoding="utf-8")
    return page


def _escape(text: str) -> str:
    import html

    return html.escape(text)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
