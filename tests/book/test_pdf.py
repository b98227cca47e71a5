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
    # every chapter starts a page of its own and the analysis pages are long: 7 chapters of
    # 1-25 pages each (64 pages on the demo as of this writing)
    assert 20 <= count <= 200, count
    assert re.search(r"^Page size:\s+595\.\d+ x 841\.\d+ pts \(A4\)", info, re.M), info


@pytest.mark.slow
@needs_poppler
def test_every_chapter_in_order_each_on_a_new_page(pages):
    titles = [_title(nb) for nb in NOTEBOOKS] + ["STROBE-MR checklist", "References"]
    where = []
    for title in titles:
        hits = [i for i, p in enumerate(pages) if title in p]
        assert hits, f"chapter {title!r} is not in the PDF's text"
        where.append(hits[0] if title != "References" else hits[-1])
    # the notebook chapters in the order of _toc.yml, each beginning a page
    assert where[:len(NOTEBOOKS)] == sorted(where[:len(NOTEBOOKS)]), dict(zip(titles, where))
    for title, i in zip(titles[:len(NOTEBOOKS)], where):
        # after the running header (the book's title), the chapter's title opens the page
        assert pages[i].find(title) < 200, f"{title!r} does not begin page {i + 1}"
    # the introduction comes first, and the data are labelled
    assert "Thyroid dysfunction and osteoporosis" in pages[0]
    assert any("simulated" in p.lower() for p in pages[:3])


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
    start = next(i for i, p in enumerate(pages) if _title(NOTEBOOKS[1]) in p)
    end = next(i for i, p in enumerate(pages) if _title(NOTEBOOKS[2]) in p)
    return range(start, end)


def _ppm(path: Path) -> np.ndarray:
    data = path.read_bytes()
    magic, w, h, maxval, rest = data.split(maxsplit=4)
    assert magic == b"P6" and maxval == b"255"
    return np.frombuffer(rest[: int(w) * int(h) * 3], dtype=np.uint8).reshape(int(h), int(w), 3)


@pytest.mark.slow
@needs_poppler
def test_forward_mr_figures_are_drawn(built_book, pages, tmp_path):
    """On the forward-MR pages, the area under each scatter plot's title holds the drawing."""
    forward = _forward_pages(pages)
    figure_pages = [i for i in forward if "Scatter plot: Hypothyroidism" in pages[i]
                    or "Forest plot: Hypothyroidism" in pages[i]]
    assert figure_pages, "no figure title on the forward-MR pages"
    dpi = 50
    checked = 0
    for i in figure_pages:
        # where the figure's title is (pdftotext's word boxes, in points)
        xml = _run("pdftotext", "-f", str(i + 1), "-l", str(i + 1), "-bbox", str(built_book.pdf), "-")
        words = re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">'
                           r"(Scatter|Forest)</word>", xml)
        assert words, f"page {i + 1}: no figure title in the word boxes"
        x0, y0 = float(words[0][0]), float(words[0][1])
        _run("pdftoppm", "-r", str(dpi), "-f", str(i + 1), "-l", str(i + 1), str(built_book.pdf),
             str(tmp_path / f"p{i}"))
        img = _ppm(next(tmp_path.glob(f"p{i}-*.ppm")))
        scale = dpi / 72.0
        # the plot area: from just under the title, 250 pt down, across the text width
        top, bottom = int((y0 + 20) * scale), int((y0 + 270) * scale)
        left, right = int(max(x0 - 20, 0) * scale), int(min(x0 + 480, 595) * scale)
        area = img[top:bottom, left:right].astype(int)
        dark = (area.min(axis=2) < 160).mean()
        colour = ((area.max(axis=2) - area.min(axis=2)) > 60).mean()
        assert dark > 0.01, f"page {i + 1}: the figure's area is blank ({dark:.4f} dark)"
        assert colour > 0.0005, f"page {i + 1}: no coloured line or point ({colour:.5f})"
        checked += 1
    assert checked >= 1


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
