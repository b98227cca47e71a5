r"""Report layer: the Sensitivity chapter's "Beyond the paper": its tables and its all-methods plot.

The section shows the estimators of the ``extended_methods`` run parameter
(issue 18's nine: MR-RAPS, the contamination mixture, MR-Lasso, cML-MA-BIC,
debiased IVW, MBE, penalised and robust IVW, robust MR-Egger) for every pair:

* :func:`extended_table`: one row per pair and estimator, with its 95% interval
  and odds ratios, and :func:`extended_notes`, its notes under it;
* :func:`all_methods_table`: the paper's methods (the run's ``methods``) and
  these together, the tidy table of
* :func:`methods_forest_plot`: one forest plot per pair with every method's
  estimate and interval, the paper's five first.

A method's own interval (``ci_low``, ``ci_upp``: the contamination mixture's,
from its profile likelihood) is used where its row has one; every other
interval is :math:`b \pm 1.96\,se`, as MendelianRandomization prints it.
(A module of its own: ``tables.py`` and ``plots.py`` are at the size limit of
``tests/test_layout.py``.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .plots import SNP_COLOUR, Z95, _layout, _one_pair, _title, empty_figure, method_colour

#: what the book says where a fit has no usable standard error (R reports SE 0 and P 0)
NO_SE = ("no standard error: the robust fit's covariance matrix is not positive definite "
         "(R's lmrob reports SE 0 and P 0)")


def _intervals(t: pd.DataFrame) -> pd.DataFrame:
    """``ci_low``/``ci_upp``: a method's own interval where its row has one, else b ± 1.96 se.

    A standard error of exactly 0 (robustbase's degenerate covariance, which R
    reports as SE 0 and P 0) is shown as missing, with :data:`NO_SE` as the note.
    """
    t = t.copy()
    zero = (t["se"] == 0) & np.isfinite(t["b"].astype(float))
    if zero.any():
        t.loc[zero, ["se", "pval"]] = np.nan
        t["reason"] = t["reason"].astype(object) if "reason" in t.columns else ""
        t.loc[zero, "reason"] = NO_SE
    for col, sign in (("ci_low", -1), ("ci_upp", 1)):
        own = t[col] if col in t.columns else pd.Series(np.nan, index=t.index)
        t[col] = own.where(own.notna(), t["b"] + sign * Z95 * t["se"]).astype(float)
    return t


def extended_table(extended: pd.DataFrame) -> pd.DataFrame:
    """"Beyond the paper": each pair by each estimator of ``extended_methods``.

    Parameters
    ----------
    extended : DataFrame
        From :func:`mrbook.report.study.extended_mr`.

    Returns
    -------
    DataFrame
        exposure, outcome, method, nsnp, b, se, ci_low, ci_upp (the method's own
        95% interval where it gives one, as the contamination mixture does, else
        b ± 1.96 se), or, or_lci95, or_uci95 (their exponentials), pval, status,
        reason.
    """
    cols = ["exposure", "outcome", "method", "nsnp", "b", "se", "ci_low", "ci_upp", "or", "or_lci95",
            "or_uci95", "pval", "status", "reason"]
    if not len(extended):
        return pd.DataFrame(columns=cols)
    t = _intervals(extended)
    t["or"], t["or_lci95"], t["or_uci95"] = np.exp(t["b"]), np.exp(t["ci_low"]), np.exp(t["ci_upp"])
    t["reason"] = t["reason"].fillna("")
    return t[cols].reset_index(drop=True)



def extended_notes(table: pd.DataFrame) -> str:
    """The notes of :func:`extended_table` as one markdown paragraph under the table.

    Each distinct note (an estimator's own message, e.g. MR-RAPS's R warning
    that the over-dispersion is set to 0, or why a method did not run) once,
    with the method and the pairs it concerns; "" when there is none. The
    book shows the table without its Note column and this under it, so that
    long messages do not widen the table (the CSV keeps them in its rows).
    """
    if not len(table) or "reason" not in table.columns:
        return ""
    t = table[table["reason"].fillna("").astype(str).str.strip() != ""]
    items = []
    for (method, reason), g in t.groupby(["method", "reason"], sort=False):
        pairs = ", ".join(f"{e} → {o}" for e, o in zip(g["exposure"], g["outcome"]))
        items.append(f"{method} ({pairs}): {reason.rstrip('.')}.")
    return ("**Notes.** " + " ".join(items)) if items else ""

def all_methods_table(mr: pd.DataFrame, extended: pd.DataFrame) -> pd.DataFrame:
    """The paper's methods and the extended ones together: what the all-methods forest plots show.

    Returns
    -------
    DataFrame
        exposure, outcome, method, group ("paper" for the run's ``methods``,
        "beyond" for ``extended_methods``), b, se, ci_low, ci_upp, pval; the
        methods that ran, the paper's first, each group in its own order (a
        method in both lists once, in the first group).
    """
    cols = ["exposure", "outcome", "method", "group", "b", "se", "ci_low", "ci_upp", "pval"]
    parts, seen = [], set()
    for group, t in (("paper", mr), ("beyond", extended)):
        if t is None or not len(t):
            continue
        t = t[t["status"] == "ok"] if "status" in t.columns else t
        t = t[~t["method"].isin(seen)]     # a method in both lists is drawn once, with the paper's
        seen |= set(t["method"])
        parts.append(_intervals(t).assign(group=group))
    if not parts:
        return pd.DataFrame(columns=cols)
    return pd.concat(parts, ignore_index=True)[cols]


def methods_forest_plot(table: pd.DataFrame) -> go.Figure:
    """Each method's estimate for one pair (rows of :func:`all_methods_table`), in order: group
    "paper" in method colours, then grey below a rule; ci_low-ci_upp, else b ± 1.96 se (empty: none)."""
    _one_pair(table, "methods_forest_plot")
    t = table[np.isfinite(table["b"].to_numpy(float))]
    if not len(t):
        return empty_figure(_title("All methods", table), "No method could be estimated for this pair")
    lo = t.get("ci_low", pd.Series(np.nan, t.index)).fillna(t["b"] - Z95 * t["se"]).to_numpy(float)
    hi = t.get("ci_upp", pd.Series(np.nan, t.index)).fillna(t["b"] + Z95 * t["se"]).to_numpy(float)
    paper = (t["group"] == "paper").to_numpy() if "group" in t.columns else np.ones(len(t), bool)
    fig = go.Figure([go.Scatter(
        x=[b], y=[m], mode="markers", name=m, customdata=[[l_, h, p]], marker=dict(
            color=method_colour(m) if g else SNP_COLOUR, size=11, symbol="diamond" if g else "circle"),
        error_x=dict(type="data", symmetric=False, array=[h - b], arrayminus=[b - l_], width=0,
                     thickness=2.2, color=method_colour(m) if g else SNP_COLOUR),
        hovertemplate=f"<b>{m}</b><br>b = %{{x:.4g}} (%{{customdata[0]:.4g}}, %{{customdata[1]:.4g}})"
                      "<br>P = %{customdata[2]:.3g}<extra></extra>")
        for m, b, l_, h, p, g in zip(t["method"], t["b"], lo, hi, t["pval"], paper)])
    fig.add_vline(x=0, line=dict(color="#888888", width=1, dash="dot"))
    if paper.any() and not paper.all():     # a rule between the paper's methods and the others
        fig.add_hline(y=int((~paper).sum()) - 0.5, line=dict(color="#444444", width=1))
    _layout(fig, _title("All methods", table), "MR effect size (95% CI)", "", height=110 + 30 * len(t))
    return fig.update_yaxes(categoryorder="array", categoryarray=list(t["method"])[::-1],
                            type="category", automargin=True).update_layout(showlegend=False)
