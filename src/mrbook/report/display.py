"""Report layer: what a notebook displays, tables with CSV links, plotly figures, notes, run cards.

:func:`show_table` writes the table as CSV next to the page and shows it
formatted with a download link; :func:`show_figure` shows a plotly figure that
renders in the book (plotly.js from ``_static/``) and in JupyterLab (plotly's
mimetype), with SVG/PNG download buttons, and :func:`show_figures` shows
several, written first as SVG and PNG files with download links when the
``export_figures`` parameter is on; :func:`show_run_parameters` and
:func:`show_data_source` are the card and the note at the top of each page.

Display bundles carry MyST markdown for the book and HTML for JupyterLab; the
book prefers the markdown (``nb_mime_priority_overrides`` in ``_config.yml``).
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from ..params import resolve_path, source_kind
from .study import DirectionResult, Pair, slug, uses_demo
from .tables import comparison_caveat, format_table, instrument_table, run_parameters_table, write_csv

#: the plots of a pair: plot function and the stacked tables it takes
PLOT_KINDS = ("scatter", "forest", "leaveoneout", "funnel")

def pair_figures(result: DirectionResult, kind: str, prefix: str) -> list[tuple[str, Any]]:
    """One figure of the given kind per pair of a direction, with a unique name.

    Parameters
    ----------
    result : DirectionResult
    kind : {"scatter", "forest", "leaveoneout", "funnel"}
        Which plot of :mod:`mrbook.report.plots`.
    prefix : str
        Start of the figure names (e.g. ``"forward"``).

    Returns
    -------
    list of (name, plotly Figure)
    """
    from . import plots

    if kind not in PLOT_KINDS:
        raise ValueError(f"unknown plot kind {kind!r}; known: {', '.join(PLOT_KINDS)}")
    out = []
    for pair in result.pairs:
        if kind == "scatter":
            fig = plots.scatter_plot(result.pair_rows("mr", pair), result.pair_rows("harmonised", pair),
                                     pleiotropy=result.pair_rows("pleiotropy", pair))
        elif kind == "forest":
            fig = plots.forest_plot(result.pair_rows("singlesnp", pair))
        elif kind == "leaveoneout":
            fig = plots.leaveoneout_plot(result.pair_rows("leaveoneout", pair))
        else:
            fig = plots.funnel_plot(result.pair_rows("singlesnp", pair))
        out.append((f"{prefix}-{kind}-{slug(pair.exposure)}-{slug(pair.outcome)}", fig))
    return out

def methods_figures(result: DirectionResult, extended: pd.DataFrame, prefix: str) -> list[tuple[str, Any]]:
    """One all-methods forest plot per pair: the run's ``methods`` first, then the extended ones.

    Parameters
    ----------
    result : DirectionResult
        The direction's analysis (its ``mr`` table: the paper's methods).
    extended : DataFrame
        :func:`mrbook.report.study.extended_mr` of the same direction.
    prefix : str
        Start of the figure names (e.g. ``"forward"``).

    Returns
    -------
    list of (name, plotly Figure)
    """
    from .beyond import all_methods_table, methods_forest_plot

    table = all_methods_table(result.mr, extended)
    out = []
    for pair in result.pairs:
        rows = table[(table["exposure"] == pair.exposure) & (table["outcome"] == pair.outcome)]
        out.append((f"{prefix}-all-methods-{slug(pair.exposure)}-{slug(pair.outcome)}",
                    methods_forest_plot(rows)))
    return out


def show_unavailable_methods(run: Mapping[str, Any]) -> None:
    """Say which of the ``extended_methods`` this mrbook does not have yet (nothing if none)."""
    from .study import split_methods

    _, missing = split_methods(run.get("extended_methods", []))
    if missing:
        show_note("Not in this version of mrbook yet, so not shown: "
                  + ", ".join(f"`{k}`" for k in missing)
                  + " (issue 18's estimators; they appear here once they are implemented).",
                  title="Estimators not available", kind="note")

def show_instrument_table(result: DirectionResult, pair: Pair, prefix: str, *,
                          output_dir: str | os.PathLike) -> None:
    """Show a pair's candidate instruments (all SNPs past the P threshold in the CSV).

    The table shows the SNPs left after LD clumping, used or excluded with the
    step and reason; the CSV ``instruments_<prefix>_<exposure>_<outcome>.csv``
    also has every SNP that clumping removed.
    """
    table = instrument_table(result, pair)
    clumped = table["step"] == "clumping"
    name = f"instruments_{prefix}_{slug(pair.exposure)}_{slug(pair.outcome)}"
    used = int((table["status"] == "used").sum())
    show_table(table, name, f"Candidate instruments: {pair.label} ({used} used)",
                      output_dir=output_dir, rows=~clumped,
                      drop=("rsq", "n", "chr", "pos", "proxy_snp", "confounder_hits"),
                      note=f"{int(clumped.sum())} further SNPs passed the P threshold but were "
                           "removed by LD clumping (listed in the CSV).")

def _display(bundle: dict) -> None:
    from IPython.display import display

    display(bundle, raw=True)

def _out_dir(output_dir: str | os.PathLike) -> Path:
    d = resolve_path(output_dir)
    d.mkdir(parents=True, exist_ok=True)
    return d

def _rel_link(path: Path) -> str:
    """``path`` relative to the working directory (the page's folder), with forward slashes."""
    return Path(os.path.relpath(path, Path.cwd())).as_posix()

#: a SNP list longer than this is folded under a <details> element
SNP_LIST_INLINE = 3
#: a text column with a cell longer than this gets room to wrap in two or three lines
#: (class ``mrbook-long``, a minimum width in book/_static/mrbook.css)
LONG_TEXT = 60

def _snp_list_html(text: str) -> str:
    snps = [s for s in (t.strip() for t in str(text).split(",")) if s]
    if len(snps) <= SNP_LIST_INLINE:
        return html.escape(str(text))
    return (f"<details><summary>{len(snps)} SNPs</summary>"
            f"{html.escape(', '.join(snps))}</details>")

def _html_table(shown: pd.DataFrame) -> str:
    """The formatted table as HTML: cells escaped, long SNP lists folded, numbers unbroken.

    Columns named in ``shown.attrs["snp_lists"]`` (:func:`format_table`) show a list
    of more than :data:`SNP_LIST_INLINE` SNPs under a ``<details>`` element whose
    summary gives their number; a column of long texts (an exclusion reason) is
    given a minimum width so that the narrow numeric columns, not it, stay on one
    line; ``m × 10⁻ⁿ`` never breaks across lines.
    """
    lists = set(shown.attrs.get("snp_lists", ()))

    def cell(col, v, long: bool) -> str:
        if col in lists:
            return _snp_list_html(v)
        text = html.escape(str(v))
        return f'<div class="mrbook-long">{text}</div>' if long and text else text

    cells = {}
    for col in shown.columns:
        values = [str(v) for v in shown[col]]
        long = col not in lists and max((len(v) for v in values), default=0) > LONG_TEXT
        cells[html.escape(str(col))] = [cell(col, v, long) for v in values]
    cells = pd.DataFrame(cells, dtype=object)
    text = cells.to_html(index=False, border=0, classes=["mrbook-table"], escape=False,
                         na_rep="–")
    text = text.replace(" × 10", "&nbsp;×&nbsp;10")
    # no blank lines, so that the whole table is one raw-HTML block in MyST
    return "\n".join(line for line in text.splitlines() if line.strip())

def show_table(table: pd.DataFrame, name: str, caption: str, *, output_dir: str | os.PathLike,
               columns: Mapping[str, tuple] | None = None, drop: Iterable[str] = (),
               note: str | None = None, max_rows: int | None = None,
               rows: Any = None, sortable: bool = False) -> None:
    """Write ``table`` as ``<output_dir>/<name>.csv`` and show it formatted with a download link.

    Parameters
    ----------
    table : DataFrame
        The tidy table (numbers as numbers); written as it is.
    name : str
        File name stem, unique within the book (e.g. ``"table2_forward_mr"``).
    caption : str
        Caption shown above the table (markdown).
    output_dir : path
        Folder of the CSV files (the ``output_dir`` run parameter).
    columns : mapping, optional
        Extra column labels and formats (``{"col": ("Label", 3)}``).
    drop : iterable of str
        Columns not shown (still in the CSV).
    note : str, optional
        A line under the table (markdown).
    max_rows : int, optional
        Show at most this many rows (the CSV has all).
    rows : boolean array, optional
        Which rows to show (the CSV has all).
    sortable : bool
        Let a reader sort the table in the book by clicking a column header
        (numbers as numbers; a small inline script, no network).

    The CSV is written with :func:`write_csv`; its link is relative to the
    working directory (the page's folder), so it works in the book (a Sphinx
    download) and in JupyterLab.
    """
    path = write_csv(table, _out_dir(output_dir) / f"{name}.csv")
    shown = format_table(table if rows is None else table[np.asarray(rows, dtype=bool)],
                         columns, drop)
    more = ""
    if rows is not None and len(shown) < len(table):
        more = f" Showing {len(shown)} of {len(table)} rows; the CSV has all."
    if max_rows is not None and len(shown) > max_rows:
        more = f" Showing {max_rows} of {len(table)} rows; the CSV has all."
        shown = shown.head(max_rows)
    table_html = _html_table(shown)
    wrap = '<div class="mrbook-table-wrap">'
    if sortable:
        wrap = f'<div class="mrbook-table-wrap mrbook-sortable" id="mrbook-sort-{name}">'
        table_html += "\n" + _SORT_JS.replace("__ID__", f"mrbook-sort-{name}")
        more = " Click a column header to sort." + more
    link = _rel_link(path)
    md = [f"**{caption}**", "", f'{wrap}\n{table_html}\n</div>', "",
          f"[Download {path.name} (CSV)]({link}){more}"]
    if note:
        md += ["", note]
    htm = [f"<p><strong>{html.escape(caption)}</strong></p>",
           f'{wrap}{table_html}</div>',
           f'<p><a href="{html.escape(link)}" download>Download {html.escape(path.name)} (CSV)</a>'
           f"{html.escape(more)}</p>"]
    if note:
        htm.append(f"<p>{html.escape(note)}</p>")
    _display({"text/markdown": "\n".join(md), "text/html": "\n".join(htm),
              "text/plain": f"{caption}\n{shown.to_string(index=False)}"})

#: sorts a table by a clicked header; numbers (also "1.2e-05", "< 1e-300", "12,345",
#: "3.1 × 10⁻⁵" and an OR's leading number) as numbers, "–" last
_SORT_JS = """<script>
(function () {
  var box = document.getElementById('__ID__');
  if (!box || box.getAttribute('data-sortable')) { return; }
  box.setAttribute('data-sortable', '1');
  var table = box.querySelector('table'), sup = '⁰¹²³⁴⁵⁶⁷⁸⁹';
  function num(t) {
    t = t.replace(/[,\\s]/g, '').replace(/^[<>≤≥]/, '').replace(/−/g, '-');
    var m = t.match(/^(-?[0-9.]+)[×x]10([⁻-]?[⁰¹²³⁴⁵⁶⁷⁸⁹0-9]+)/);
    if (m) {
      var e = m[2].replace('⁻', '-').split('').map(function (c) {
        var i = sup.indexOf(c); return i >= 0 ? String(i) : c; }).join('');
      return parseFloat(m[1]) * Math.pow(10, parseFloat(e));
    }
    return parseFloat(t);
  }
  table.querySelectorAll('thead th').forEach(function (th, col) {
    th.style.cursor = 'pointer';
    th.title = 'Sort by this column';
    th.addEventListener('click', function () {
      var asc = th.getAttribute('data-order') !== 'asc';
      table.querySelectorAll('thead th').forEach(function (h) { h.removeAttribute('data-order'); });
      th.setAttribute('data-order', asc ? 'asc' : 'desc');
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].textContent.trim(), y = b.cells[col].textContent.trim();
        if (x === '–' || y === '–') { return (x === '–') - (y === '–'); }
        var nx = num(x), ny = num(y), r;
        r = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return asc ? r : -r;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
})();
</script>"""

#: plotly config of every figure: no logo, PNG export at twice the size
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True,
                 "toImageButtonOptions": {"format": "png", "scale": 2}}

_EXPORT_JS = """
(function () {
  var gd = document.getElementById('{plot_id}');
  if (!gd || gd.getAttribute('data-mrbook-export')) { return; }
  gd.setAttribute('data-mrbook-export', '1');
  var bar = document.createElement('div');
  bar.className = 'mrbook-export';
  ['svg', 'png'].forEach(function (fmt) {
    var b = document.createElement('button');
    b.type = 'button';
    b.textContent = 'Download ' + fmt.toUpperCase();
    b.onclick = function () {
      Plotly.downloadImage(gd, {format: fmt, filename: '__NAME__', scale: fmt === 'png' ? 2 : 1});
    };
    bar.appendChild(b);
  });
  // plotly's wrapper div has the figure's fixed height: put the buttons after it
  var box = gd.closest('.mrbook-figure');
  if (box) { box.appendChild(bar); } else { gd.parentNode.insertBefore(bar, gd.nextSibling); }
})();
"""

def figure_bundle(fig, name: str) -> dict:
    """The display bundle of a figure: plotly's mimetype (JupyterLab) and HTML (the book).

    The HTML does not include plotly.js: the book loads it once from
    ``_static/plotly.min.js``. The figure's div has the id ``mrbook-fig-<name>``
    and is followed by "Download SVG" and "Download PNG" buttons.
    """
    import plotly.io as pio

    safe = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")
    config = dict(PLOTLY_CONFIG, toImageButtonOptions=dict(PLOTLY_CONFIG["toImageButtonOptions"],
                                                           filename=safe))
    fig_json = json.loads(pio.to_json(fig, validate=False, remove_uids=True))
    fig_html = pio.to_html(fig, include_plotlyjs=False, include_mathjax=False, full_html=False,
                           div_id=f"mrbook-fig-{safe}", config=config, validate=False,
                           default_width="100%",
                           post_script=_EXPORT_JS.replace("__NAME__", safe))
    fig_html = "\n".join(line for line in fig_html.splitlines() if line.strip())
    title = fig.layout.title.text or name
    return {"application/vnd.plotly.v1+json": {"data": fig_json.get("data", []),
                                               "layout": fig_json.get("layout", {}),
                                               "config": config},
            "text/html": f'<div class="mrbook-figure">{fig_html}</div>',
            "text/plain": f"<Figure: {title}>"}

#: static image files written next to the CSVs when figures are exported, in link order
FIGURE_FORMATS = ("svg", "png")

def figure_files_bundle(paths: Iterable[Path]) -> dict:
    """The display bundle of a figure's "Image files: SVG | PNG" download links.

    As a table's CSV link: the links are relative to the working directory (the
    page's folder), so the markdown becomes Sphinx downloads in the book and the
    HTML works in JupyterLab.
    """
    paths = list(paths)
    links = [(p.suffix.lstrip(".").upper(), _rel_link(p)) for p in paths]
    md = "Image files: " + " | ".join(f"[{label}]({link})" for label, link in links)
    htm = ('<p class="mrbook-figure-files">Image files: '
           + " | ".join(f'<a href="{html.escape(link)}" download>{label}</a>'
                        for label, link in links) + "</p>")
    return {"text/markdown": md, "text/html": htm,
            "text/plain": "Image files: " + ", ".join(p.name for p in paths)}

def show_figures(figures, *, output_dir: str | os.PathLike | None = None,
                 export: bool = False) -> None:
    """Show plotly figures, and with ``export`` write them as SVG and PNG with links.

    Parameters
    ----------
    figures : mapping or iterable of (name, Figure)
        The figures in display order, by unique name (:func:`pair_figures`).
    output_dir : path, optional
        Folder of the image files (the ``output_dir`` run parameter, where the
        CSVs go); needed with ``export``.
    export : bool
        The ``export_figures`` run parameter: write every figure as
        ``<output_dir>/<name>.svg`` and ``.png`` (the name's slug) with
        :func:`mrbook.report.plots.export_figures` (one browser, kept open for the
        page's next figures) and
        show "Image files: SVG | PNG" under each figure. Either way each figure
        has its in-browser "Download SVG/PNG" buttons.
    """
    items = list(figures.items() if isinstance(figures, Mapping) else figures)
    files: dict[str, list[Path]] = {}
    if export:
        if output_dir is None:
            raise ValueError("show_figures(export=True) needs output_dir")
        from .plots import export_figures, figure_stem

        written = export_figures(dict(items), _out_dir(output_dir), formats=FIGURE_FORMATS,
                                 keep_browser=True)
        for name, fig in items:
            stem = figure_stem(name, fig)
            files[name] = [p for p in written if p.stem == stem]
    for name, fig in items:
        _display(figure_bundle(fig, name))
        if files.get(name):
            _display(figure_files_bundle(files[name]))

def show_figure(fig, name: str, *, output_dir: str | os.PathLike | None = None,
                export: bool = False) -> None:
    """Show one plotly figure in the book and in JupyterLab (see :func:`figure_bundle`).

    With ``export`` it is also written as SVG and PNG (see :func:`show_figures`,
    which exports several figures through one browser).
    """
    show_figures([(name, fig)], output_dir=output_dir, export=export)

def show_run_parameters(run: Mapping[str, Any]) -> None:
    """Show the small "Run parameters" table at the top of a page.

    Two parameter-value pairs per row; each parameter's meaning is its tooltip
    (and in the CSV-free plain-text form). An empty value reads "(automatic)".
    """
    t = run_parameters_table(run)

    def cell(r, span=""):
        value = html.escape(r.value) if r.value else "<em>(automatic)</em>"
        return (f'<td title="{html.escape(r.meaning)}"><code>{html.escape(r.parameter)}</code></td>'
                f"<td{span}>{value}</td>")

    rows, pending = [], []
    for r in t.itertuples():
        if isinstance(run[r.parameter], (dict, list)):  # long values get a row of their own
            rows.append(f'<tr>{cell(r, " colspan=3")}</tr>')
            continue
        pending.append(cell(r))
        if len(pending) == 2:
            rows.append(f"<tr>{''.join(pending)}</tr>")
            pending = []
    if pending:
        rows.append(f"<tr>{pending[0]}<td></td><td></td></tr>")
    rows = "\n".join(rows)
    table_html = ('<table class="mrbook-table mrbook-params">\n<thead><tr><th>Parameter</th>'
                  "<th>Value</th><th>Parameter</th><th>Value</th></tr></thead>\n<tbody>\n"
                  f"{rows}\n</tbody>\n</table>")
    md = ("```{admonition} Run parameters\n:class: tip mrbook-run-parameters\n\n"
          f'<div class="mrbook-table-wrap">\n{table_html}\n</div>\n\n'
          "Hover over a parameter for its meaning; `mrbook build --params FILE` sets them.\n```")
    htm = f"<details open><summary><strong>Run parameters</strong></summary>{table_html}</details>"
    _display({"text/markdown": md, "text/html": htm, "text/plain": t.to_string(index=False)})

def _source_line(trait: str, src: str) -> str:
    kind = source_kind(src)
    if kind == "demo":
        return f"{trait}: simulated demo GWAS `{src}`"
    if kind == "opengwas":
        when = _retrieval_date(src)
        return f"{trait}: OpenGWAS `{src}`" + (f", retrieved {when}" if when else "")
    p = resolve_path(src)
    import datetime

    stamp = datetime.datetime.fromtimestamp(p.stat().st_mtime, datetime.timezone.utc)
    return f"{trait}: file `{p.name}` (modified {stamp:%Y-%m-%d})"

def _retrieval_date(opengwas_id: str) -> str | None:
    """When the cached OpenGWAS data of a study were retrieved, if mrbook.data.opengwas tells."""
    try:
        from ..data import opengwas
    except ImportError:
        return None
    fn = getattr(opengwas, "retrieval_date", None)
    if fn is None:
        return None
    try:
        value = fn(opengwas_id)
    except Exception:  # noqa: BLE001 - a missing cache entry only drops the date
        return None
    return None if value is None else str(value)

DEMO_WARNING = ("These are **simulated** data (the offline demo study generated by mrbook from a "
                "fixed seed), not real GWAS. The simulation mirrors the paper (same traits, sample "
                "sizes and instrument counts); its planted causal effects are the published "
                "estimates (ln OR), and each outcome association is that truth plus sampling noise "
                "drawn with the outcome GWAS's standard error. Estimates differ from the paper's by "
                "that sampling error; any agreement is by construction and is **not evidence** for "
                "the paper's findings.")

def show_data_source(run: Mapping[str, Any]) -> None:
    """Show the note on where this page's data come from (simulated demo or real GWAS)."""
    lines = [_source_line(t, s) for t, s in run.get("exposures", {}).items()]
    if "outcome_source" in run:
        lines.append(_source_line(run["outcome_trait"], run["outcome_source"]))
    demo = uses_demo(run)
    title = "Data: simulated demo study" if demo else "Data source"
    head = DEMO_WARNING if demo else "Real summary statistics:"
    md = (f"```{{admonition}} {title}\n:class: {'warning' if demo else 'note'} mrbook-data-source\n\n"
          f"{head}\n\n" + "\n".join(f"- {ln}" for ln in lines) + "\n```")
    items = "".join(f"<li>{html.escape(ln.replace('`', ''))}</li>" for ln in lines)
    head_html = html.escape(head.replace("**", ""))
    htm = (f'<div style="border-left:4px solid {"#D55E00" if demo else "#0072B2"};'
           f'padding:0.4em 0.8em;background:#f7f7f7"><strong>{html.escape(title)}</strong>'
           f"<p>{head_html}</p><ul>{items}</ul></div>")
    _display({"text/markdown": md, "text/html": htm,
              "text/plain": title + "\n" + "\n".join(lines)})

def show_note(markdown: str, title: str = "Note", kind: str = "note") -> None:
    """Show an admonition whose text depends on the run (e.g. the demo warning)."""
    md = f"```{{admonition}} {title}\n:class: {kind}\n\n{markdown}\n```"
    htm = (f'<div style="border-left:4px solid #0072B2;padding:0.4em 0.8em;background:#f7f7f7">'
           f"<strong>{html.escape(title)}</strong>"
           f"<p>{html.escape(markdown.replace('**', ''))}</p></div>")
    _display({"text/markdown": md, "text/html": htm, "text/plain": f"{title}: {markdown}"})

def show_comparison_caveat(run: Mapping[str, Any]) -> None:
    """Show what the comparison with the paper can and cannot show on this run's data."""
    title, kind, text = comparison_caveat(run)
    show_note(text, title=title, kind=kind)
