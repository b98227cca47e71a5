"""Report layer: the Phenome-wide MR page, tables and plotly figures from a batch's tidy tables.

The functions take the tables :func:`mrbook.batch.load_results` returns
(``results``, ``heterogeneity``, ``pleiotropy``, ``harmonised``, ``summary``) and,
for a simulated phenome, its ``truth.csv``; they compute nothing but what they
show: a heat map of the effects with their FDR, a volcano plot, the table of
significant pairs, the recovery of the known truth, and the per-pair scatter and
forest plots made by the same functions as the other chapters
(:func:`mrbook.report.plots.scatter_plot`, :func:`~mrbook.report.plots.forest_plot`,
:func:`mrbook.analysis.singlesnp`), gathered in one figure with a pair selector.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import plots
from .display import show_note

IVW = "Inverse variance weighted"
#: colours of significant and other pairs (Okabe-Ito blue and vermillion, grey)
POSITIVE, NEGATIVE, QUIET = "#0072B2", "#D55E00", "#9a9a9a"


def _method_rows(results: pd.DataFrame, method: str) -> pd.DataFrame:
    t = results[(results["method"] == method)]
    if "status" in t.columns:
        t = t[t["status"] == "ok"]
    return t.reset_index(drop=True)


# --------------------------------------------------------------------------- tables

def run_table(summary: Mapping) -> pd.DataFrame:
    """What the batch did: pairs, engine, workers, file reads (from ``summary.json``).

    Its seconds are left out: the table is the same in every build of the same data.
    """
    reads = summary.get("file_reads", {})
    rows = [
        ("pairs in the manifest", summary["pairs_planned"]),
        ("pairs done", summary["pairs_done_total"]),
        ("pairs failed (errors.csv)", summary["pairs_failed"]),
        ("pairs skipped as done by an earlier run", summary["pairs_skipped_done"]),
        ("engine", summary["engine"]),
        ("workers", summary["workers"]),
        ("exposures (each selected once)", summary["exposures"]),
        ("outcomes (each read once)", summary["outcomes"]),
        ("file reads per exposure", reads.get("per_exposure")),
        ("file reads per outcome", reads.get("per_outcome")),
    ]
    return pd.DataFrame([dict(item=k, value=str(v)) for k, v in rows])


def significant_pairs(results: pd.DataFrame, heterogeneity: pd.DataFrame | None = None,
                      pleiotropy: pd.DataFrame | None = None, method: str = IVW,
                      fdr: float = 0.05) -> pd.DataFrame:
    """The pairs whose ``method`` estimate has an FDR-adjusted P below ``fdr``, by P.

    Columns: exposure, outcome, nsnp, b, se, or, or_lci95, or_uci95, pval, pval_fdr,
    and (when given) the IVW Cochran's Q P (``ivw_q_pval``) and the MR-Egger
    intercept P (``egger_intercept_pval``), to judge each pair's instruments.
    """
    t = _method_rows(results, method)
    t = t[t["pval_fdr"] < fdr].sort_values(["pval", "exposure", "outcome"], kind="stable")
    cols = ["id_exposure", "id_outcome", "exposure", "outcome", "nsnp", "b", "se", "or",
            "or_lci95", "or_uci95", "pval", "pval_fdr"]
    t = t[cols]
    keys = ["id_exposure", "id_outcome"]
    if heterogeneity is not None and len(heterogeneity):
        q = heterogeneity[heterogeneity["method"] == IVW][keys + ["q_pval"]]
        t = t.merge(q.rename(columns={"q_pval": "ivw_q_pval"}), on=keys, how="left")
    if pleiotropy is not None and len(pleiotropy):
        t = t.merge(pleiotropy[keys + ["pval"]].rename(columns={"pval": "egger_intercept_pval"}),
                    on=keys, how="left")
    return t.drop(columns=keys).reset_index(drop=True)


#: display labels of the page's own columns (the others are report.COLUMNS')
COLUMNS = {"pval_fdr": ("FDR-adjusted P", "p"), "ivw_q_pval": ("IVW Q P", "p"),
           "egger_intercept_pval": ("Egger intercept P", "p"), "item": ("Quantity", str),
           "value": ("Value", str), "called": ("Called (FDR < threshold)", "int"),
           "not_called": ("Not called", "int"), "pairs": ("Pairs", "int"), "truth": ("Truth", str)}


def truth_table(results: pd.DataFrame, truth: pd.DataFrame, method: str = IVW,
                fdr: float = 0.05) -> pd.DataFrame:
    """How the calls (FDR-adjusted P < ``fdr``) match the known truth of a simulated phenome.

    One row per truth (causal, not causal): pairs called and not called; pairs
    that failed count as not called.
    """
    t = truth.merge(_method_rows(results, method)[["id_exposure", "id_outcome", "pval_fdr"]],
                    on=["id_exposure", "id_outcome"], how="left")
    called = t["pval_fdr"] < fdr
    rows = []
    for label, mask in (("causal", t["causal"].astype(bool)),
                        ("not causal", ~t["causal"].astype(bool))):
        rows.append(dict(truth=label, pairs=int(mask.sum()), called=int((mask & called).sum()),
                         not_called=int((mask & ~called).sum())))
    return pd.DataFrame(rows)


def truth_summary(table: pd.DataFrame) -> dict:
    """True and false positives, sensitivity and the false discovery proportion of a truth table."""
    c = table.set_index("truth")
    tp, fn = int(c.loc["causal", "called"]), int(c.loc["causal", "not_called"])
    fp, tn = int(c.loc["not causal", "called"]), int(c.loc["not causal", "not_called"])
    return {"true_positives": tp, "false_negatives": fn, "false_positives": fp,
            "true_negatives": tn, "sensitivity": tp / (tp + fn) if tp + fn else np.nan,
            "false_discovery_proportion": fp / (tp + fp) if tp + fp else 0.0}


# --------------------------------------------------------------------------- figures

def heatmap_plot(results: pd.DataFrame, method: str = IVW, fdr: float = 0.05) -> go.Figure:
    """Exposures x outcomes: the causal estimate ``b`` as colour, pairs with FDR < ``fdr`` marked.

    A diverging colour scale centred on 0 (blue positive, vermillion negative);
    a dot marks each pair whose FDR-adjusted P is below ``fdr``; hover shows b,
    the OR with its 95% CI, P and the FDR-adjusted P. Pairs that failed are empty.
    """
    t = _method_rows(results, method)
    if not len(t):
        return plots.empty_figure(f"{method}: exposures × outcomes", "No pair has this method's "
                                                                     "estimate")
    exps = sorted(t["exposure"].unique())
    outs = sorted(t["outcome"].unique())
    cell = t.set_index(["exposure", "outcome"])
    z = np.full((len(exps), len(outs)), np.nan)
    text = np.full(z.shape, "", dtype=object)
    for i, e in enumerate(exps):
        for j, o in enumerate(outs):
            if (e, o) in cell.index:
                r = cell.loc[(e, o)]
                z[i, j] = r["b"]
                text[i, j] = (f"{e} → {o}<br>b = {r['b']:.3g} (se {r['se']:.2g})<br>OR "
                              f"{r['or']:.3f} ({r['or_lci95']:.3f}, {r['or_uci95']:.3f})<br>"
                              f"P = {r['pval']:.2g}, FDR-adjusted P = {r['pval_fdr']:.2g}")
    lim = float(np.nanmax(np.abs(z))) or 1.0
    fig = go.Figure(go.Heatmap(
        z=z, x=outs, y=exps, zmin=-lim, zmax=lim, zmid=0,
        colorscale=[[0.0, NEGATIVE], [0.5, "#f7f7f7"], [1.0, POSITIVE]],
        colorbar=dict(title=dict(text="b (log OR)"), thickness=14),
        hovertext=text, hovertemplate="%{hovertext}<extra></extra>", xgap=1, ygap=1))
    sig = t[t["pval_fdr"] < fdr]
    fig.add_trace(go.Scatter(
        x=sig["outcome"], y=sig["exposure"], mode="markers", name=f"FDR < {fdr:g}",
        marker=dict(symbol="circle", size=7, color="#000000"), hoverinfo="skip"))
    height = max(360, 90 + 17 * len(exps))
    plots._layout(fig, f"{method}: causal estimates, exposures × outcomes (dot: FDR < {fdr:g})",
                  "Outcome", "Exposure", height=height)
    fig.update_yaxes(autorange="reversed", type="category", tickfont=dict(size=11))
    fig.update_xaxes(type="category", side="bottom")
    fig.update_layout(legend=dict(y=-0.08 if len(exps) > 20 else -0.16))
    return fig


def volcano_plot(results: pd.DataFrame, method: str = IVW, fdr: float = 0.05,
                 truth: pd.DataFrame | None = None) -> go.Figure:
    """Volcano plot: each pair's estimate ``b`` against -log10 P, pairs with FDR < ``fdr`` coloured.

    The dashed line is the largest P still called at this FDR (the
    Benjamini-Hochberg threshold). With ``truth`` (a simulated phenome), the truly
    causal pairs are drawn as diamonds.
    """
    t = _method_rows(results, method)
    if not len(t):
        return plots.empty_figure(f"Volcano plot: {method}", "No pair has this method's estimate")
    t = t.assign(mlog=-np.log10(t["pval"].clip(lower=1e-300)), sig=t["pval_fdr"] < fdr)
    if truth is not None:
        t = t.merge(truth[["id_exposure", "id_outcome", "causal"]],
                    on=["id_exposure", "id_outcome"], how="left")
    fig = go.Figure()
    groups = [("FDR < %g, b > 0" % fdr, t["sig"] & (t["b"] > 0), POSITIVE),
              ("FDR < %g, b < 0" % fdr, t["sig"] & (t["b"] <= 0), NEGATIVE),
              ("not significant", ~t["sig"], QUIET)]
    for name, mask, colour in groups:
        g = t[mask]
        if not len(g):
            continue
        symbol = (np.where(g["causal"].fillna(False).astype(bool), "diamond", "circle")
                  if "causal" in g.columns else "circle")
        fig.add_trace(go.Scatter(
            x=g["b"], y=g["mlog"], mode="markers", name=name,
            marker=dict(color=colour, size=8, symbol=symbol, line=dict(width=0.5, color="#333")),
            customdata=np.column_stack([g["exposure"], g["outcome"], g["pval"], g["pval_fdr"],
                                        g["nsnp"]]),
            hovertemplate=("<b>%{customdata[0]} → %{customdata[1]}</b><br>b = %{x:.3g}<br>"
                           "P = %{customdata[2]:.2g}, FDR-adjusted P = %{customdata[3]:.2g}<br>"
                           "%{customdata[4]} SNPs<extra></extra>")))
    called = t[t["sig"]]
    if len(called):
        fig.add_hline(y=float(called["mlog"].min()), line=dict(color="#555", width=1, dash="dash"))
    fig.add_vline(x=0, line=dict(color="#bbbbbb", width=1))
    title = f"Volcano plot: {method}, {len(t)} pairs"
    if "causal" in t.columns:
        title += " (diamonds: truly causal in the simulation)"
    plots._layout(fig, title, "Causal estimate b (log OR per unit of exposure)", "−log10 P")
    return fig


def truth_plot(results: pd.DataFrame, truth: pd.DataFrame, method: str = IVW,
               fdr: float = 0.05) -> go.Figure:
    """Estimated against true effect (a simulated phenome), with 95% CIs; called pairs coloured."""
    t = _method_rows(results, method).merge(truth[["id_exposure", "id_outcome", "theta",
                                                   "causal"]], on=["id_exposure", "id_outcome"])
    fig = go.Figure()
    for name, mask, colour in (("called (FDR < %g)" % fdr, t["pval_fdr"] < fdr, POSITIVE),
                               ("not called", ~(t["pval_fdr"] < fdr), QUIET)):
        g = t[mask]
        if not len(g):
            continue
        fig.add_trace(go.Scatter(
            x=g["theta"], y=g["b"], mode="markers", name=name,
            marker=dict(color=colour, size=7),
            error_y=dict(type="data", array=plots.Z95 * g["se"].to_numpy(float),
                         color="#c8c8c8", thickness=1, width=0),
            customdata=np.column_stack([g["exposure"], g["outcome"], g["pval_fdr"]]),
            hovertemplate=("<b>%{customdata[0]} → %{customdata[1]}</b><br>true effect %{x:.3g}"
                           "<br>estimate %{y:.3g}<br>FDR-adjusted P = %{customdata[2]:.2g}"
                           "<extra></extra>")))
    lo = float(min(t["theta"].min(), (t["b"] - plots.Z95 * t["se"]).min()))
    hi = float(max(t["theta"].max(), (t["b"] + plots.Z95 * t["se"]).max()))
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="estimate = truth",
                             line=dict(color="#000000", width=1, dash="dot"), hoverinfo="skip"))
    plots._layout(fig, f"{method}: estimate against the simulation's true effect",
                  "True effect θ (set by the simulation)", "Estimate b (95% CI)")
    return fig


def pair_figures(tables: Mapping, pairs: list[tuple[str, str]], kind: str) -> list:
    """Scatter or forest plots of chosen pairs, from the batch's tables, with the chapters' functions.

    ``kind`` "scatter" uses :func:`mrbook.report.plots.scatter_plot` on the pair's
    results, harmonised instruments and Egger intercept; "forest" uses
    :func:`~mrbook.report.plots.forest_plot` on :func:`mrbook.analysis.singlesnp`
    of its harmonised instruments. ``pairs`` are (id_exposure, id_outcome).
    Returns a list of (label, Figure).
    """
    from ..analysis import singlesnp

    res, harm, ple = tables["results"], tables["harmonised"], tables["pleiotropy"]
    out = []
    for ide, ido in pairs:
        r = res[(res["id_exposure"] == ide) & (res["id_outcome"] == ido)]
        h = harm[(harm["id.exposure"] == ide) & (harm["id.outcome"] == ido)]
        label = f"{r['exposure'].iloc[0]} → {r['outcome'].iloc[0]}" if len(r) else f"{ide} → {ido}"
        if kind == "scatter":
            p = ple[(ple["id_exposure"] == ide) & (ple["id_outcome"] == ido)]
            fig = plots.scatter_plot(r, h, pleiotropy=p)
        elif kind == "forest":
            fig = plots.forest_plot(singlesnp(h))
        else:
            raise ValueError(f"unknown kind {kind!r}: 'scatter' or 'forest'")
        out.append((label, fig))
    return out


def pair_selector(figures: list, title: str) -> go.Figure:
    """One figure showing one of several figures at a time, chosen from a drop-down menu.

    The traces of every figure are kept; the menu shows one figure's traces and
    sets its title, axis titles, height and (for a forest plot) its rows.
    """
    if not figures:
        return plots.empty_figure(title, "No pair to show")
    fig = go.Figure()
    spans = []
    for _, f in figures:
        start = len(fig.data)
        for tr in f.data:
            fig.add_trace(tr)
        spans.append((start, len(fig.data)))
    first = figures[0][1]
    fig.update_layout(first.layout)
    buttons = []
    for k, (label, f) in enumerate(figures):
        visible = [spans[k][0] <= i < spans[k][1] for i in range(len(fig.data))]
        lay = {"title.text": f.layout.title.text, "height": f.layout.height,
               "xaxis.title.text": f.layout.xaxis.title.text,
               "yaxis.title.text": f.layout.yaxis.title.text}
        if f.layout.yaxis.categoryarray is not None:
            lay.update({"yaxis.categoryarray": list(f.layout.yaxis.categoryarray),
                        "yaxis.range": list(f.layout.yaxis.range)})
        buttons.append(dict(label=label, method="update", args=[{"visible": visible}, lay]))
    for i, tr in enumerate(fig.data):
        tr.visible = spans[0][0] <= i < spans[0][1]
    fig.update_layout(
        updatemenus=[dict(buttons=buttons, direction="down", x=1.0, xanchor="right", y=1.0,
                          yanchor="bottom", showactive=True, bgcolor="#ffffff",
                          font=dict(size=12))],
        margin=dict(t=90))
    return fig


def top_pairs(results: pd.DataFrame, method: str = IVW, fdr: float = 0.05,
              limit: int = 12) -> list[tuple[str, str]]:
    """The (id_exposure, id_outcome) of the pairs to look at: those with FDR < ``fdr``
    by P (at most ``limit``), or the ``limit`` smallest P when none is significant."""
    t = _method_rows(results, method).sort_values(["pval", "exposure", "outcome"], kind="stable")
    sig = t[t["pval_fdr"] < fdr]
    t = sig if len(sig) else t
    return list(zip(t["id_exposure"], t["id_outcome"]))[:limit]


def show_phenome_source(run: Mapping) -> None:
    """The note at the top of the page: which data it shows (a SIMULATED phenome, or a manifest)."""
    from ..data.phenome import load_phenome
    from ..params import resolve_path

    manifest = run.get("phenome_manifest")
    if not manifest or load_phenome(resolve_path(manifest).parent) is not None:
        where = (f"written by `mrbook demo-phenome --exposures {run['phenome_exposures']} "
                 f"--outcomes {run['phenome_outcomes']} --seed {run['phenome_seed']}`"
                 if not manifest else f"from `{manifest}`, written by `mrbook demo-phenome`")
        show_note(f"This page shows a **SIMULATED phenome** {where}: every exposure, outcome, "
                  "SNP and effect is invented, and which pairs are causal was set by the "
                  "simulation (its truth table is used below to count true and false positives). "
                  "Nothing on this page is evidence about any real trait.",
                  title="Simulated data", kind="warning")
    else:
        show_note(f"This page shows the exposure-outcome pairs of the manifest `{manifest}`: the "
                  "data sources it lists, as given.", title="Data of this page")


def show_errors(errors: pd.DataFrame, *, output_dir) -> None:
    """The pairs that failed (step and message), or a line saying none did."""
    from .display import show_table

    if errors is None or not len(errors):
        show_note("Every pair of the manifest ran: `errors.csv` is empty.", title="Failed pairs")
        return
    show_table(errors[["row", "exposure", "outcome", "step", "message"]], "phenome_errors",
               f"Pairs that failed ({len(errors)})", output_dir=output_dir,
               columns={"row": ("Manifest row", "int"), "message": ("Message", str)})
