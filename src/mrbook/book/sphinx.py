"""Book layer, the Sphinx extension: plotly.js and MathJax served locally, so the book works offline.

Listed as ``extra_extensions: [mrbook.book.sphinx]`` in ``_config.yml``, it
serves the plotly.js that ships with the installed plotly package once from
``_static/``, copies a local MathJax 3 (from the ``sphinx-mathjax-offline``
package) into ``_static/mathjax``, and drops remote assets (sphinx-thebe's CDN
loader) from every page. It also provides the ``mrbook-pdf-link`` directive: the
download link of the book's PDF (written by ``mrbook build`` beside the pages, its
name in ``$MRBOOK_PDF``); without a PDF (``--no-pdf``) the directive shows nothing.
"""

from __future__ import annotations

import html
import os
import shutil
from pathlib import Path

from ..errors import MRBookError

#: MathJax entry point, relative to _static/
MATHJAX_PATH = "mathjax/tex-chtml.js"
#: the parts of MathJax 3 that tex-chtml.js loads (fonts, TeX extensions, menu)
MATHJAX_PARTS = ("tex-chtml.js", "input/tex", "output/chtml", "output/chtml.js", "a11y", "ui")
#: environment variable with the PDF's file name (beside index.html) while ``mrbook build`` renders
PDF_ENV = "MRBOOK_PDF"

def plotly_js_path() -> Path:
    """The ``plotly.min.js`` shipped with the installed plotly package."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():  # pragma: no cover - plotly always ships it
        raise MRBookError(f"plotly.min.js not found in the plotly package ({path})")
    return path


def mathjax_dir() -> Path:
    """The MathJax 3 tree shipped by the ``sphinx-mathjax-offline`` package."""
    from importlib import metadata

    try:
        dist = metadata.distribution("sphinx-mathjax-offline")
    except metadata.PackageNotFoundError:
        raise MRBookError("the package sphinx-mathjax-offline is needed to render math "
                          "offline (pip install sphinx-mathjax-offline)") from None
    path = Path(dist.locate_file("sphinx-mathjax-offline/static/mathjax"))
    if not (path / "tex-chtml.js").is_file():  # pragma: no cover
        raise MRBookError(f"MathJax not found in {path}")
    return path


def _copy_if_changed(src: Path, dst: Path) -> None:
    if dst.is_file() and dst.stat().st_size == src.stat().st_size \
            and dst.read_bytes() == src.read_bytes():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def _on_builder_inited(app) -> None:
    # plotly.js goes into the source _static/ (git-ignored) so that Sphinx copies it once
    _copy_if_changed(plotly_js_path(), Path(app.srcdir) / "_static" / "plotly.min.js")
    app.config.mathjax_path = MATHJAX_PATH


def _is_remote(asset) -> bool:
    name = str(getattr(asset, "filename", asset) or "")
    attrs = getattr(asset, "attributes", {}) or {}
    body = str(attrs.get("body", ""))
    return (name.startswith(("http://", "https://", "//"))
            or "THEBE_JS_URL" in body or name.startswith("sphinx-thebe"))


def _on_html_page_context(app, pagename, templatename, context, doctree) -> None:
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [a for a in context[key] if not _is_remote(a)]


def _on_build_finished(app, exception) -> None:
    if exception is not None or app.builder is None or app.builder.format != "html":
        return
    src = mathjax_dir()
    dst = Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        s = src / part
        if s.is_dir():
            shutil.copytree(s, dst / part, dirs_exist_ok=True)
        else:
            _copy_if_changed(s, dst / part)


def _pdf_link_directive():
    from docutils import nodes
    from sphinx.util.docutils import SphinxDirective

    class PdfLink(SphinxDirective):
        """``{mrbook-pdf-link}``: "the whole book as one PDF", when the build writes one."""

        has_content = False

        def run(self):
            name = os.environ.get(PDF_ENV, "").strip()
            if not name:
                return []
            href = "../" * self.env.docname.count("/") + name
            text = (f'<p class="mrbook-pdf-link">The whole book as one PDF, to print, attach or '
                    f'archive: <a class="reference download" href="{html.escape(href)}" download>'
                    f"{html.escape(name)}</a></p>")
            return [nodes.raw("", text, format="html")]

    return PdfLink


def setup(app):
    """Sphinx entry point (``extra_extensions: [mrbook.book.sphinx]``)."""
    app.add_directive("mrbook-pdf-link", _pdf_link_directive())
    app.connect("builder-inited", _on_builder_inited)
    app.connect("html-page-context", _on_html_page_context, priority=900)  # after the others
    app.connect("build-finished", _on_build_finished)
    app.add_js_file("plotly.min.js", priority=200)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
