"""The book as one PDF: chapters in order, tables, figures drawn, internal links that work.

Reads the PDF of the session's ``make book`` (``_build/pdf/book.pdf``) with Debian's
poppler-utils: ``pdfinfo`` (page count, named destinations), ``pdftotext`` (the
text of each page) and ``pdftoppm`` (the pixels of a page). Skipped, with the
reason, when poppler-utils is missing (``scripts/setup.sh`` installs it as root).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mrbook.book import pdf as book_pdf

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
POPPLER = all(shutil.which(t) for t in ("pdfinfo", "pdftotext", "pdftoppm"))
needs_poppler = pytest.mark.skipif(not POPPLER, reason="poppler-utils is not installed "
                                   "(apt-get install poppler-utils; make test installs it as root)")


def _run(*cmd: str) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def _title(nb_path: Path) -> str:
    """A notebook's title: the first line of its first markdown cell, without the '# '."""
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    md = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    src = "".join(md["source"]) if isinstance(md["source"], list) else md["source"]
    return src.lstrip().splitlines()[0].lstrip("# ").strip()


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.fixture(scope="module")
def pages(built_book) -> list[str]:
    """The PDF's text, one string per page."""
    if not POPPLER:
        pytest.skip("poppler-utils is not installed (apt-get install poppler-utils)")
    assert built_book.pdf.is_file(), "make book wrote no PDF"
    text = _run("pdftotext", "-layout", str(built_book.pdf), "-")
    return [_norm(p) for p in text.split("\f")][:-1] if text.endswith("\f") else \
        [_norm(p) for p in text.split("\f")]


@pytest.mark.slow
@needs_poppler
def test_page_count(built_book, pages):
    info = _run("pdfinfo", str(built_book.pdf))
    count = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    assert count == len(pages)
    # every chapter starts a page of its own and the analysis pages are long: 9 chapters of
    # 1-25 pages each (64 pages for the first 7 on the demo when this was written)
    assert 20 <= count <= 300, count
    assert re.search(r"^Page size:\s+595\.\d+ x 841\.\d+ pts \(A4\)", info, re.M), info


def _toc_titles() -> list[str]:
    """The chapters' titles in the order of _toc.yml (notebooks and pages of book/)."""
    import yaml

    files = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                files.append(Path(node["file"]).stem)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(yaml.safe_load((ROOT / "_toc.yml").read_text()))
    titles = []
    for stem in files:
        nb = ROOT / "notebooks" / f"{stem}.ipynb"
        page = ROOT / "book" / f"{stem}.md"
        titles.append(_title(nb) if nb.is_file()
                      else page.read_text(encoding="utf-8").lstrip().splitlines()[0].lstrip("# "))
    return titles


def _chapter_starts(pages: list[str]) -> dict[str, int]:
    """The page (0-based) each chapter begins: its title opens the page, after the running
    header (the book's title from _config.yml)."""
    import yaml

    header = _norm(yaml.safe_load((ROOT / "_config.yml").read_text())["title"])
    titles = _toc_titles()
    starts, after = {}, 0
    for title in titles:  # in order: a chapter's title may also open a page of an earlier one
        hits = [i for i, p in enumerate(pages) if i > after
                and p.startswith(header) and p[len(header):].lstrip().startswith(title)]
        starts[title] = hits[0] if hits else None
        after = hits[0] if hits else after
    return starts


@pytest.mark.slow
@needs_poppler
def test_every_chapter_in_order_each_on_a_new_page(pages):
    starts = _chapter_starts(pages)
    missing = [t for t, i in starts.items() if i is None]
    assert not missing, f"chapters that open no page: {missing}"
    order = list(starts.values())
    assert order == sorted(order) and len(set(order)) == len(order), starts
    assert len(starts) == len(NOTEBOOKS) + 2  # the notebooks, STROBE-MR and the references
    # the introduction (with the contents) comes first, and its data are labelled
    assert order[0] > 0 and "Thyroid dysfunction and osteoporosis" in pages[0]
    assert "Contents" in pages[0]
    assert any("simulated" in p.lower() for p in pages[:order[0]])


@pytest.mark.slow
@needs_poppler
def test_tables_are_in_the_pdf(pages, built_book):
    import pandas as pd

    text = " ".join(pages)
    for caption in ("Table 1. Data sources of each trait", "Table 2. MR estimates, forward direction",
                    "Table 4. MR estimates, reverse direction"):
        assert caption in text, caption
    t2 = pd.read_csv(built_book.tables / "table2_forward_mr.csv")
    ivw = t2[(t2["exposure"] == "Hypothyroidism") & (t2["method"] == "Inverse variance weighted")]
    assert f"{ivw['b'].iloc[0]:.4f}" in text  # the table's estimate, as the page prints it


def _forward_pages(pages: list[str]) -> range:
    starts = _chapter_starts(pages)
    return range(starts[_title(NOTEBOOKS[1])], starts[_title(NOTEBOOKS[2])])


def _ppm(path: Path) -> np.ndarray:
    data = path.read_bytes()
    magic, w, h, maxval, rest = data.split(maxsplit=4)
    assert magic == b"P6" and maxval == b"255"
    return np.frombuffer(rest[: int(w) * int(h) * 3], dtype=np.uint8).reshape(int(h), int(w), 3)


@pytest.mark.slow
@needs_poppler
def test_forward_mr_figures_are_drawn(built_book, pages, tmp_path):
    """On the forward-MR pages, the area under each figure's title holds a drawing.

    The page is rendered with pdftoppm; every word pdftotext finds (the text, and the
    figure's own tick labels and titles) is blanked, so that what is left in the
    figure's area is drawn ink: points, error bars, lines, axes. A page of text and
    tables leaves under 1 % of that area inked (measured: 0-0.9 %); a drawn scatter
    plot about 12 %, a forest plot about 3 %. A scatter plot's method lines are also
    coloured.
    """
    forward = _forward_pages(pages)
    figure_pages = [i for i in forward if "Scatter plot: Hypothyroidism" in pages[i]
                    or "Forest plot: Hypothyroidism" in pages[i]]
    assert figure_pages, "no figure title on the forward-MR pages"
    dpi, scale = 50, 50 / 72.0
    kinds = []
    for i in figure_pages:
        xml = _run("pdftotext", "-f", str(i + 1), "-l", str(i + 1), "-bbox", str(built_book.pdf), "-")
        words = [(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
            xml)]
        title = next(w for w in words if w[4] in ("Scatter", "Forest"))
        _run("pdftoppm", "-r", str(dpi), "-f", str(i + 1), "-l", str(i + 1), str(built_book.pdf),
             str(tmp_path / f"p{i}"))
        img = _ppm(next(tmp_path.glob(f"p{i}-*.ppm"))).astype(int).copy()
        colour = (img.max(axis=2) - img.min(axis=2)) > 60
        for x0, y0, x1, y1, _ in words:  # blank the text: what remains is drawn
            img[max(int(y0 * scale) - 1, 0):int(y1 * scale) + 2,
                max(int(x0 * scale) - 1, 0):int(x1 * scale) + 2] = 255
        # the figure: from under its title, 250 pt down, across the text width
        top, bottom = int((title[1] + 20) * scale), int((title[1] + 270) * scale)
        left, right = int(max(title[0] - 20, 0) * scale), int(min(title[0] + 480, 595) * scale)
        ink = (img[top:bottom, left:right].min(axis=2) < 200).mean()
        assert ink > 0.02, f"page {i + 1}: nothing drawn in the {title[4]} plot's area ({ink:.4f})"
        if title[4] == "Scatter":
            share = colour[top:bottom, left:right].mean()
            assert share > 0.005, f"page {i + 1}: no coloured method line ({share:.4f})"
        kinds.append(title[4])
    assert "Scatter" in kinds and "Forest" in kinds, kinds


def _link_annotations(pdf: Path) -> tuple[list[bytes], list[bytes]]:
    data = pdf.read_bytes()
    return re.findall(rb"/Dest /([^\s/>\]]+)", data), re.findall(rb"/URI \(([^)]*)\)", data)


@pytest.mark.slow
@needs_poppler
def test_internal_links_work(built_book):
    """Every in-document link goes to a named destination of the PDF; no link to a local file."""
    dests, uris = _link_annotations(built_book.pdf)
    named = set(re.findall(r'"([^"]*)"\s*$', _run("pdfinfo", "-dests", str(built_book.pdf)), re.M))
    assert dests, "no internal link in the PDF"
    missing = sorted({d.decode() for d in dests} - named)
    assert not missing, f"links to destinations that do not exist: {missing[:5]}"
    # the table of contents links every chapter
    for nb in NOTEBOOKS:
        assert f"document-{nb.stem}".encode() in dests, nb.stem
    local = [u for u in uris if not u.startswith((b"https://", b"http://doi", b"mailto:"))
             or b"127.0.0.1" in u]
    assert not local, f"links that only worked while printing: {local[:3]}"


@pytest.mark.slow
def test_introduction_links_the_pdf(built_book):
    page = (built_book.html / "intro.html").read_text(encoding="utf-8")
    m = re.search(r'<p class="mrbook-pdf-link">.*?href="([^"]+)"', page)
    assert m, "no PDF download link on the introduction page"
    assert m.group(1) == "book.pdf"
    assert (built_book.html / "book.pdf").read_bytes() == built_book.pdf.read_bytes()


# ----------------------------------------------------------------------------- the pieces

def test_unique_anchors_per_chapter():
    page = ('<html><nav id="nav"></nav><article class="bd-article" role="main">'
            '<section id="intro-title"><a href="#overview">o</a></section>'
            '<section id="overview">first</section>'
            '<span id="document-a"></span><section id="a-title"><section id="overview">a</section>'
            '<a href="#overview">here</a><a href="#intro-title">top</a></section>'
            '<span id="document-b"></span><section id="summary"><a href="#overview">up</a></section>'
            '</article></html>')
    out = book_pdf.unique_anchors(page, "intro")
    assert out.count('id="intro--overview"') == 1 and out.count('id="a--overview"') == 1
    assert '<a href="#a--overview">here</a>' in out  # its own chapter's section
    assert '<a href="#intro--overview">o</a>' in out
    assert '<a href="#intro--overview">up</a>' in out  # not in chapter b: the first one
    assert 'id="intro-title"' in out and '<a href="#intro-title">top</a>' in out  # unique: kept
    assert 'id="nav"' in out and 'id="summary"' in out
    assert book_pdf.unique_anchors("<p>no article</p>", "intro") == "<p>no article</p>"


def test_file_links_become_text():
    page = ('<a class="reference download internal" download="" href="_downloads/1/t.csv">CSV</a>'
            '<a href="#x">in</a><a class="reference external" href="https://doi.org/10.1/x">doi</a>'
            '<a href="02_forward_mr.html#a">page</a>')
    out = book_pdf.drop_file_links(page)
    assert '<a class="reference download internal" download="">CSV</a>' in out
    assert '<a href="#x">in</a>' in out and 'href="https://doi.org/10.1/x"' in out
    assert "02_forward_mr.html" not in out
