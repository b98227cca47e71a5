"""Report layer: plots of MR results, pure functions from tidy result tables to plotly figures.

Each function mirrors one of TwoSampleMR's plots (``R/scatterplot.R``,
``R/forest_plot.R``, ``R/leaveoneout.R``, ``R/funnel_plot.R``): it takes only the
result table(s) of **one** exposure-outcome pair, as returned by
:mod:`mrbook.analysis`, and returns a :class:`plotly.graph_objects.Figure`. With
too few SNPs it returns a labelled empty figure (TwoSampleMR's ``blank_plot``)
instead of failing, so a page can show every pair.

Styling is shared: a white, journal-like template, a readable sans-serif font
and the Okabe-Ito colour-blind-safe palette, one fixed colour per MR method (in
the order of :data:`mrbook.estimators.METHODS`) so that a method looks the same
in every figure. Hover labels show the SNP and its numbers.

The functions compute nothing but the 95% confidence limits
(:math:`b \\pm 1.96\\,se`) that they draw.

:func:`export_figures` writes figures as static SVG and PNG files with kaleido
(a headless Chromium: Debian's ``chromium`` package by default), all of them
through one browser.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..errors import MRBookError

#: Okabe & Ito (2008) colour-blind-safe palette (black first).
OKABE_ITO = ["#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00",
             "#CC79A7"]

#: colour of each MR method's line or summary marker, by display name
METHOD_COLOURS = {
    "Inverse variance weighted": "#0072B2",
    "MR Egger": "#D55E00",
    "Weighted median": "#009E73",
    "Simple mode": "#CC79A7",
    "Weighted mode": "#E69F00",
    "Simple median": "#56B4E9",
    "Penalised weighted median": "#F0E442",
    "Inverse variance weighted (fixed effects)": "#000000",
    "Inverse variance weighted (multiplicative random effects)": "#56B4E9",
    "Maximum likelihood": "#999999",
    "Wald ratio": "#000000",
}
_EXTRA_COLOURS = ["#999999", "#56B4E9", "#F0E442", "#000000"]
#: line dash per method, so that lines differ in more than colour
METHOD_DASHES = {
    "Inverse variance weighted": "solid",
    "MR Egger": "dash",
    "Weighted median": "dot",
    "Simple mode": "dashdot",
    "Weighted mode": "longdash",
}
SNP_COLOUR = "#404040"
FONT = dict(family="Arial, Helvetica, 'Liberation Sans', sans-serif", size=13, color="#222222")
Z95 = 1.959963984540054

#: fewest SNPs each plot needs, as TwoSampleMR's blank_plot conditions
MIN_SNPS = {"scatter": 2, "forest": 2, "leaveoneout": 3, "funnel": 2}

IVW = "Inverse variance weighted"
EGGER = "MR Egger"


def method_colour(method: str) -> str:
    """Colour of an MR method (fixed across figures); unknown methods get a grey."""
    if method in METHOD_COLOURS:
        return METHOD_COLOURS[method]
    return _EXTRA_COLOURS[sum(map(ord, method)) % len(_EXTRA_COLOURS)]


def _layout(fig: go.Figure, title: str, xtitle: str, ytitle: str, height: int = 480) -> go.Figure:
    fig.update_layout(
        template="simple_white",
        title=dict(text=title, x=0.015, xref="container", xanchor="left", font=dict(size=15)),
        font=FONT,
        xaxis_title=xtitle,
        yaxis_title=ytitle,
        height=height,
        margin=dict(l=70, r=20, t=60, b=60),
        legend=dict(orientation="h", yanchor="top", y=-0.16, xanchor="left", x=0.0,
                    font=dict(size=12)),
        hoverlabel=dict(font=dict(family=FONT["family"], size=12)),
    )
    fig.update_xaxes(showgrid=False, ticks="outside", zeroline=False)
    fig.update_yaxes(showgrid=False, ticks="outside", zeroline=False)
    return fig


def empty_figure(title: str, message: str) -> go.Figure:
    """A labelled empty figure (TwoSampleMR's ``blank_plot``).

    Parameters
    ----------
    title : str
        Figure title (which plot, which pair).
    message : str
        Why nothing is drawn, shown in the middle of the figure.
    """
    fig = go.Figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper",
                       showarrow=False, font=dict(size=15, color="#555555"))
    _layout(fig, title, "", "", height=300)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.layout.meta = {"empty": True, "message": message}
    return fig


def _one_pair(table: pd.DataFrame, what: str) -> pd.DataFrame:
    for col in ("id_exposure", "id_outcome"):
        if col in table.columns and table[col].nunique() > 1:
            raise ValueError(f"{what}: the table holds several exposure-outcome pairs "
                             f"(column {col!r}); pass the rows of one pair")
    return table


def _pair_label(table: pd.DataFrame) -> str:
    if len(table) and {"exposure", "outcome"} <= set(table.columns):
        return f"{table['exposure'].iloc[0]} → {table['outcome'].iloc[0]}"
    return ""


def _title(kind: str, table: pd.DataFrame) -> str:
    label = _pair_label(table)
    return f"{kind}: {label}" if label else kind


def _too_few(kind: str, table: pd.DataFrame, k: int | None, need: int) -> go.Figure:
    have = f"{k} available, " if k else ""
    return empty_figure(_title(kind, table), f"Too few SNPs for this plot: {have}{need} needed")


def _fmt(x: float) -> str:
    return "NA" if x is None or not np.isfinite(x) else f"{x:.4g}"


def _split_summaries(singlesnp: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    is_all = singlesnp["snp"].astype(str).str.startswith("All")
    return singlesnp[~is_all], singlesnp[is_all]


def scatter_plot(mr_table: pd.DataFrame, harmonised: pd.DataFrame,
                 egger_intercept: float | None = None,
                 pleiotropy: pd.DataFrame | None = None) -> go.Figure:
    r"""SNP effects on the outcome against SNP effects on the exposure, with method slopes.

    As TwoSampleMR's ``mr_scatter_plot``: SNPs with ``mr_keep`` are oriented so
    that the exposure effect is positive (both betas of a SNP with a negative
    exposure beta change sign), drawn with ±1.96 se error bars in both
    directions, and each MR method that ran adds a line through the origin with
    slope ``b``; MR-Egger's line has its intercept.

    Parameters
    ----------
    mr_table : DataFrame
        Rows of one pair from :func:`mrbook.analysis.run_mr` (columns method, b,
        and optionally status).
    harmonised : DataFrame
        The pair's harmonised data in TwoSampleMR's names (SNP, beta.exposure,
        se.exposure, beta.outcome, se.outcome, optional mr_keep).
    egger_intercept : float, optional
        MR-Egger intercept; if not given it is read from ``pleiotropy``.
    pleiotropy : DataFrame, optional
        The pair's row of :func:`mrbook.analysis.pleiotropy` (egger_intercept).

    Returns
    -------
    plotly.graph_objects.Figure
        One marker trace "SNPs" and one line trace per method; a labelled empty
        figure with fewer than two usable SNPs.

    Notes
    -----
    Orientation: with :math:`s_j=\operatorname{sign}(\beta_{Xj})`, plotted
    :math:`(|\beta_{Xj}|, s_j\beta_{Yj})`. MR estimates are invariant to it; the
    Egger intercept is defined on this orientation.
    """
    _one_pair(mr_table, "scatter_plot")
    dat = harmonised
    if "mr_keep" in dat.columns:
        dat = dat[dat["mr_keep"].astype(bool)]
    label_table = mr_table if len(mr_table) and "exposure" in mr_table.columns else harmonised
    title = _title("Scatter plot", label_table)
    k = len(dat)
    if k < MIN_SNPS["scatter"]:
        return _too_few("Scatter plot", label_table, k, MIN_SNPS["scatter"])
    bx = dat["beta.exposure"].to_numpy(float)
    by = dat["beta.outcome"].to_numpy(float)
    sx = dat["se.exposure"].to_numpy(float)
    sy = dat["se.outcome"].to_numpy(float)
    flip = bx < 0
    bx = np.abs(bx)
    by = np.where(flip, -by, by)
    snps = dat["SNP"].astype(str).to_numpy()

    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=bx, y=by, mode="markers", name="SNPs",
        marker=dict(color=SNP_COLOUR, size=7, line=dict(width=0)),
        error_x=dict(type="data", array=Z95 * sx, color="#9a9a9a", thickness=1, width=0),
        error_y=dict(type="data", array=Z95 * sy, color="#9a9a9a", thickness=1, width=0),
        customdata=np.column_stack([snps, sx, sy]),
        hovertemplate=("<b>%{customdata[0]}</b><br>SNP–exposure β %{x:.4g} (se %{customdata[1]:.3g})"
                       "<br>SNP–outcome β %{y:.4g} (se %{customdata[2]:.3g})<extra></extra>"),
    ))
    if egger_intercept is None and pleiotropy is not None and len(pleiotropy):
        egger_intercept = float(pleiotropy["egger_intercept"].iloc[0])
    xmax = float(np.max(bx + Z95 * sx)) if k else 1.0
    xs = np.array([0.0, xmax])
    rows = mr_table
    if "status" in rows.columns:
        rows = rows[rows["status"] == "ok"]
    for _, r in rows.iterrows():
        if not np.isfinite(r["b"]):
            continue
        a = 0.0
        if r["method"] == EGGER:
            if egger_intercept is None or not np.isfinite(egger_intercept):
                continue
            a = float(egger_intercept)
        fig.add_trace(go.Scatter(
            x=xs, y=a + r["b"] * xs, mode="lines", name=r["method"],
            line=dict(color=method_colour(r["method"]), width=2,
                      dash=METHOD_DASHES.get(r["method"], "solid")),
            hovertemplate=(f"<b>{r['method']}</b><br>slope b = {_fmt(r['b'])}"
                           + (f"<br>intercept = {_fmt(a)}" if r["method"] == EGGER else "")
                           + "<extra></extra>"),
        ))
    fig.add_hline(y=0, line=dict(color="#bbbbbb", width=1))
    exp_name = _name(mr_table, "exposure", harmonised)
    out_name = _name(mr_table, "outcome", harmonised)
    _layout(fig, title, f"SNP effect on {exp_name}", f"SNP effect on {out_name}")
    return fig


def _name(table: pd.DataFrame, role: str, harmonised: pd.DataFrame | None = None) -> str:
    for t in (table, harmonised):
        if t is not None and role in t.columns and len(t):
            return str(t[role].iloc[0])
    return role


def _interval_plot(kind: str, table: pd.DataFrame, snps: pd.DataFrame, summaries: pd.DataFrame,
                   xtitle: str, summary_label: dict | None = None) -> go.Figure:
    """Horizontal interval plot: SNP rows sorted by b, summary rows at the bottom."""
    snps = snps.sort_values(["b", "snp"], kind="mergesort")
    summary_label = summary_label or {}
    # plotly draws category 0 at the bottom: summaries first, then SNPs by b
    # ascending so that the largest estimate is at the top, as TwoSampleMR.
    labels_sum = [summary_label.get(s, s) for s in summaries["snp"].astype(str)]
    labels_snp = snps["snp"].astype(str).tolist()
    order = labels_sum[::-1] + labels_snp
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=snps["b"], y=labels_snp, mode="markers", name="Single SNP",
        marker=dict(color=SNP_COLOUR, size=7, symbol="circle"),
        error_x=dict(type="data", symmetric=True, array=Z95 * snps["se"].to_numpy(float),
                     color="#7f7f7f", thickness=1.2, width=0),
        customdata=np.column_stack([snps["se"].to_numpy(float), snps["pval"].to_numpy(float)]),
        hovertemplate=("<b>%{y}</b><br>b = %{x:.4g} (se %{customdata[0]:.3g})"
                       "<br>P = %{customdata[1]:.3g}<extra></extra>"),
    ))
    for (_, r), lab in zip(summaries.iterrows(), labels_sum):
        method = str(r["snp"]).replace("All - ", "")
        colour = method_colour(method) if method != "All" else METHOD_COLOURS[IVW]
        fig.add_trace(go.Scatter(
            x=[r["b"]], y=[lab], mode="markers", name=lab,
            marker=dict(color=colour, size=12, symbol="diamond", line=dict(color="#000000", width=0.5)),
            error_x=dict(type="data", array=[Z95 * float(r["se"])], color=colour, thickness=2.4,
                         width=0),
            customdata=[[float(r["se"]), float(r["pval"])]],
            hovertemplate=(f"<b>{lab}</b><br>b = %{{x:.4g}} (se %{{customdata[0]:.3g}})"
                           "<br>P = %{customdata[1]:.3g}<extra></extra>"),
        ))
    fig.add_vline(x=0, line=dict(color="#888888", width=1, dash="dot"))
    if len(summaries) and len(snps):
        # a rule between the SNPs and the summaries
        fig.add_hline(y=len(summaries) - 0.5, line=dict(color="#444444", width=1))
    height = max(320, 130 + 15 * len(order))
    _layout(fig, _title(kind, table), xtitle, "", height=height)
    fig.update_yaxes(categoryorder="array", categoryarray=order, type="category",
                     range=[-0.7, len(order) - 0.3],
                     tickfont=dict(size=11 if len(order) > 40 else 12), automargin=True)
    fig.update_layout(showlegend=False)
    return fig


def forest_plot(singlesnp_table: pd.DataFrame) -> go.Figure:
    """Forest plot of single-SNP Wald ratios with the IVW and MR-Egger summaries.

    As TwoSampleMR's ``mr_forest_plot``: one row per SNP, sorted by its Wald
    ratio, with the 95% confidence interval (b ± 1.96 se); the rows
    "All - Inverse variance weighted" and "All - MR Egger" are drawn at the
    bottom as larger diamonds in their method colours, below a rule.

    Parameters
    ----------
    singlesnp_table : DataFrame
        Rows of one pair from :func:`mrbook.analysis.singlesnp` (snp, b, se, pval).

    Returns
    -------
    plotly.graph_objects.Figure
        A labelled empty figure with fewer than two SNPs.
    """
    _one_pair(singlesnp_table, "forest_plot")
    snps, summaries = _split_summaries(singlesnp_table)
    if len(snps) < MIN_SNPS["forest"]:
        return _too_few("Forest plot", singlesnp_table, len(snps), MIN_SNPS["forest"])
    summaries = summaries[np.isfinite(summaries["b"].to_numpy(float))]
    return _interval_plot("Forest plot", singlesnp_table, snps, summaries,
                          "MR effect size (95% CI)")


def leaveoneout_plot(loo_table: pd.DataFrame) -> go.Figure:
    """Leave-one-out plot: the IVW estimate with each SNP removed in turn.

    As TwoSampleMR's ``mr_leaveoneout_plot``: one row per left-out SNP, sorted
    by the estimate, with 95% CI; the estimate on all SNPs ("All") at the bottom
    as a diamond below a rule.

    Parameters
    ----------
    loo_table : DataFrame
        Rows of one pair from :func:`mrbook.analysis.leaveoneout` (snp, b, se, pval;
        last row snp == "All").

    Returns
    -------
    plotly.graph_objects.Figure
        A labelled empty figure with fewer than three SNPs.
    """
    _one_pair(loo_table, "leaveoneout_plot")
    snps, summaries = _split_summaries(loo_table)
    if len(snps) < MIN_SNPS["leaveoneout"]:
        # with two SNPs or fewer the table holds only the "All" row: the count is unknown
        return _too_few("Leave-one-out plot", loo_table, len(snps) or None,
                        MIN_SNPS["leaveoneout"])
    return _interval_plot("Leave-one-out plot", loo_table, snps, summaries,
                          "IVW estimate without the SNP (95% CI)",
                          summary_label={"All": "All SNPs"})


def funnel_plot(singlesnp_table: pd.DataFrame) -> go.Figure:
    r"""Funnel plot: precision (1/se) of each single-SNP Wald ratio against the ratio.

    As TwoSampleMR's ``mr_funnel_plot``: one point per SNP at
    :math:`(\hat\beta_j, 1/se_j)`, with vertical lines at the IVW and MR-Egger
    estimates. Without directional pleiotropy the points are symmetric around
    the lines, narrowing towards the top.

    Parameters
    ----------
    singlesnp_table : DataFrame
        Rows of one pair from :func:`mrbook.analysis.singlesnp`.

    Returns
    -------
    plotly.graph_objects.Figure
        A labelled empty figure with fewer than two SNPs.
    """
    _one_pair(singlesnp_table, "funnel_plot")
    snps, summaries = _split_summaries(singlesnp_table)
    if len(snps) < MIN_SNPS["funnel"]:
        return _too_few("Funnel plot", singlesnp_table, len(snps), MIN_SNPS["funnel"])
    se = snps["se"].to_numpy(float)
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=snps["b"], y=1.0 / se, mode="markers", name="Single SNP",
        marker=dict(color=SNP_COLOUR, size=7),
        customdata=np.column_stack([snps["snp"].astype(str).to_numpy(), se,
                                    snps["pval"].to_numpy(float)]),
        hovertemplate=("<b>%{customdata[0]}</b><br>Wald ratio b = %{x:.4g}"
                       "<br>se = %{customdata[1]:.3g} (1/se = %{y:.4g})"
                       "<br>P = %{customdata[2]:.3g}<extra></extra>"),
    ))
    ymax = float(np.max(1.0 / se)) * 1.05
    for _, r in summaries.iterrows():
        if not np.isfinite(r["b"]):
            continue
        method = str(r["snp"]).replace("All - ", "")
        fig.add_trace(go.Scatter(
            x=[r["b"], r["b"]], y=[0, ymax], mode="lines", name=method,
            line=dict(color=method_colour(method), width=2, dash=METHOD_DASHES.get(method, "solid")),
            hovertemplate=f"<b>{method}</b><br>b = {_fmt(r['b'])}<extra></extra>",
        ))
    _layout(fig, _title("Funnel plot", singlesnp_table), "Wald ratio estimate (b)",
            "Precision (1/se)")
    fig.update_yaxes(rangemode="tozero")
    return fig


def is_empty(fig: go.Figure) -> bool:
    """Whether ``fig`` is a labelled empty figure from this module."""
    meta = fig.layout.meta
    return isinstance(meta, dict) and bool(meta.get("empty"))


# --------------------------------------------------------------------------------------
# Static export (SVG, PNG) with kaleido and a headless Chromium
# --------------------------------------------------------------------------------------

#: Debian's Chromium (``apt-get install chromium``), which kaleido drives by default here
DEBIAN_CHROMIUM = "/usr/bin/chromium"
#: formats :func:`export_figures` writes
EXPORT_FORMATS = ("svg", "png", "pdf", "jpeg", "webp")
#: width (layout pixels) of exported figures that set none (kaleido's default)
EXPORT_WIDTH = 700

_NO_BROWSER = ("exporting figures as SVG/PNG needs a Chromium browser for kaleido and none was "
               "found: install Debian's chromium (apt-get install chromium), or set BROWSER_PATH "
               "to a Chrome/Chromium executable, or build without export "
               "(export_figures: false in the parameter file)")


def find_browser() -> str:
    """The Chromium that kaleido will drive, pointing kaleido at it.

    ``$BROWSER_PATH`` if set (kaleido's browser library, choreographer, reads
    it); else Debian's ``/usr/bin/chromium``, which is then put in
    ``$BROWSER_PATH``; else any Chrome or Chromium that choreographer finds on
    the ``PATH`` or has downloaded itself.

    Raises
    ------
    MRBookError
        If there is no browser (saying to install Debian's ``chromium``).
    """
    env = os.environ.get("BROWSER_PATH")
    if env:
        if Path(env).is_file():
            return env
        raise MRBookError(f"BROWSER_PATH={env!r} is not a file; {_NO_BROWSER}")
    if Path(DEBIAN_CHROMIUM).is_file():
        os.environ["BROWSER_PATH"] = DEBIAN_CHROMIUM
        return DEBIAN_CHROMIUM
    try:
        from choreographer.browsers.chromium import Chromium

        found = Chromium.find_browser(skip_local=False)
    except Exception:  # noqa: BLE001 - no kaleido, or nothing found: the same advice
        found = None
    if found and Path(found).is_file():
        return str(found)
    raise MRBookError(_NO_BROWSER)


def figure_stem(key: str, fig: go.Figure | None = None) -> str:
    """File name stem of an exported figure: the slug of its key (else of its title).

    ``"Forest plot: Hypothyroidism → Osteoporosis"`` →
    ``"forest-plot-hypothyroidism-osteoporosis"``.
    """
    text = str(key or "")
    if not text.strip() and fig is not None:
        text = fig.layout.title.text or ""
    return re.sub(r"[^a-z0-9_]+", "-", text.lower()).strip("-") or "figure"


_SVG_UID = re.compile(r'id="defs-([0-9a-f]+)"')
_SVG_REFS = re.compile(r'((?:\sid="|url\(#|href="#)[^")]*)')


def _stable_svg(path: Path, stem: str) -> None:
    """Replace the random id plotly.js gives each rendered figure by one derived from ``stem``.

    plotly.js names the ``<defs>`` and clip paths of a figure after a random
    ``_uid`` (``defs-8f3988``, ``url(#clip8f3988xyplot)``), so that two renderings of a
    figure differ in those ids only; with this replacement the SVG is byte-identical.
    """
    text = path.read_text(encoding="utf-8")
    m = _SVG_UID.search(text)
    if not m:
        return
    uid = m.group(1)
    new = hashlib.sha256(stem.encode()).hexdigest()[:len(uid)]
    text = _SVG_REFS.sub(lambda ref: ref.group(1).replace(uid, new), text)
    path.write_text(text, encoding="utf-8", newline="")


class _KeptBrowser:
    """One kaleido browser kept open for this process (``export_figures(keep_browser=True)``).

    It lives in a daemon thread with its own event loop; every call waits with
    a timeout (a dead browser is an error, not a hang), and the browser is
    closed at exit. Starting kaleido's browser and loading plotly.js into it
    takes about 2.5 s, which a notebook that exports figures in several cells
    then pays once.
    """

    def __init__(self, browser: str):
        import asyncio
        import threading

        self.browser = browser
        self.kaleido = None
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="mrbook-kaleido",
                                       daemon=True)
        self.thread.start()
        try:
            self._run(self._open(), timeout=120)
        except BaseException:
            self.close()
            raise

    async def _open(self):
        import kaleido

        k = kaleido.Kaleido(path=self.browser, mathjax=False)
        await k.open()
        self.kaleido = k

    def _run(self, coro, timeout: float):
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def write(self, specs: list) -> Any:
        return self._run(self.kaleido.write_fig_from_object(specs), timeout=60 + 30 * len(specs))

    def close(self) -> None:
        if self.kaleido is not None:
            try:
                self._run(self.kaleido.close(), timeout=30)
            except Exception:  # noqa: BLE001 - closing a browser that is already gone
                pass
            self.kaleido = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


_kept: _KeptBrowser | None = None


def _kept_browser(browser: str) -> _KeptBrowser:
    global _kept
    if _kept is None or _kept.browser != browser:
        close_browser()
        _kept = _KeptBrowser(browser)
        import atexit

        atexit.register(close_browser)
    return _kept


def close_browser() -> None:
    """Close the browser :func:`export_figures` kept open (``keep_browser=True``), if any."""
    global _kept
    if _kept is not None:
        kept, _kept = _kept, None
        kept.close()


def export_figures(figures: Mapping[str, go.Figure], folder: str | os.PathLike,
                   formats: Iterable[str] = ("svg", "png"), scale: float = 2, *,
                   keep_browser: bool = False) -> list[Path]:
    """Write figures as static images (SVG and PNG) with kaleido, through one browser.

    Parameters
    ----------
    figures : mapping of str to Figure
        Key → figure; the key's slug (:func:`figure_stem`) names the files, the
        figure's title when the key is empty.
    folder : path
        Output folder (created).
    formats : iterable of str
        Any of ``svg``, ``png``, ``pdf``, ``jpeg``, ``webp``.
    scale : float
        Pixel density of raster formats (PNG, JPEG, WebP): 2 gives a PNG twice
        the figure's layout size (1400 px wide for the default 700). Vector
        formats are written at scale 1 (their nominal size is the layout size).
    keep_browser : bool
        Keep kaleido's browser open for the next call of this process (closed
        at exit or by :func:`close_browser`) instead of starting one per call;
        the book's notebooks export their figures cell by cell this way.

    Returns
    -------
    list of Path
        The files written, figure by figure in the order of ``figures`` and
        format by format in the order of ``formats``.

    Raises
    ------
    MRBookError
        If no Chromium is found (:func:`find_browser`) or kaleido fails.
    ValueError
        For an unknown format or two keys with the same slug.

    Notes
    -----
    One kaleido browser renders every figure (kaleido's batch call, the one
    ``plotly.io.write_images`` makes), so the browser starts once per call, or
    once per process with ``keep_browser``.
    MathJax is off (the figures hold no LaTeX; kaleido would load it from a CDN)
    and plotly.js is the copy shipped with plotly, so nothing comes from the
    network. Files are deterministic: the same figure gives the same PNG bytes,
    and the same SVG bytes: traces without a ``uid`` get ``trace-<i>`` and the
    random id plotly.js gives the figure's clip paths is replaced by one
    derived from the file name.
    """
    formats = [{"jpg": "jpeg"}.get(str(f).lower(), str(f).lower()) for f in formats]
    bad = [f for f in formats if f not in EXPORT_FORMATS]
    if bad:
        raise ValueError(f"unknown image format {bad[0]!r}; known: {', '.join(EXPORT_FORMATS)}")
    folder = Path(folder)
    items = [(figure_stem(key, fig), fig) for key, fig in figures.items()]
    stems = [s for s, _ in items]
    dup = sorted({s for s in stems if stems.count(s) > 1})
    if dup:
        raise ValueError(f"two figures would be written to the same file name {dup[0]!r}")
    if not items or not formats:
        return []
    try:
        import kaleido
    except ImportError:
        raise MRBookError("exporting figures needs the kaleido package "
                          "(pip install 'kaleido>=1.0')") from None
    browser = find_browser()
    folder.mkdir(parents=True, exist_ok=True)
    specs, paths = [], []
    for stem, fig in items:
        fig_dict = fig.to_dict() if hasattr(fig, "to_dict") else dict(fig)
        # plotly.js names each trace's SVG group after its uid, random when unset
        fig_dict["data"] = [dict(trace, uid=trace.get("uid") or f"trace-{i}")
                            for i, trace in enumerate(fig_dict.get("data", []))]
        for fmt in formats:
            path = folder / f"{stem}.{'jpg' if fmt == 'jpeg' else fmt}"
            opts = dict(format=fmt, scale=1 if fmt in ("svg", "pdf") else scale)
            if not fig_dict.get("layout", {}).get("width"):
                opts["width"] = EXPORT_WIDTH
            specs.append(dict(fig=fig_dict, path=path, opts=opts))
            paths.append(path)
    try:
        # kaleido's batch call (plotly.io.write_images makes the same one, but cannot turn
        # MathJax off); kaleido 1.5 returns the figures' errors, early 1.x versions raised them
        if keep_browser:
            try:
                errors = _kept_browser(browser).write(specs)
            except Exception:
                close_browser()  # a broken browser is not kept
                raise
        else:
            errors = kaleido.write_fig_from_object_sync(
                specs, kopts=dict(path=browser, mathjax=False))
        errors = [e for e in (errors or ()) if isinstance(e, BaseException)]
        if errors:
            raise errors[0]
    except Exception as exc:  # noqa: BLE001 - kaleido's and the browser's errors, as one line
        name = type(exc).__name__
        if name == "ChromeNotFoundError":
            raise MRBookError(f"{_NO_BROWSER} ({exc})".replace("\n", " ")) from None
        raise MRBookError(f"figure export with kaleido and {browser} failed: "
                          f"{name}: {exc}".replace("\n", " ")) from None
    missing = [p for p in paths if not p.is_file() or p.stat().st_size == 0]
    if missing:
        raise MRBookError(f"kaleido did not write {missing[0]}")
    for path in paths:
        if path.suffix == ".svg":
            _stable_svg(path, path.stem)
    return paths
