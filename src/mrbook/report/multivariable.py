"""Report layer: the "Multivariable MR" chapter, its two data sets, its forest plot and its notes.

* :func:`mv_lipids_analysis`: the REAL lipid data shipped with mrbook (Waterworth
  et al. 2010, :mod:`mrbook.data.shipped`), all three lipid fractions on CHD;
* :func:`mv_thyroid_analysis`: the run's three thyroid exposures together on its
  outcome, from their data sources; a ``demo:<trait>`` source is read from the
  demo's multivariable extension (``demo-mv:<trait>``, SIMULATED, shared loci),
  since the demo's own traits share no locus;
* :func:`mv_forest_plot`: each exposure's univariable estimate next to its
  multivariable ones (a plotly figure from :func:`mrbook.report.tables.mv_forest_table`);
* :func:`show_mv_data_sources`, :func:`show_mv_data_note`, :func:`strength_note`:
  what the page says about its data and its instruments.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..multivariable import F_THRESHOLD, MVResult, mv_from_frame, mvmr_from_sources, run_mvmr
from .display import DEMO_WARNING, show_note
from .plots import FONT, Z95, _layout

#: colour and marker of each analysis in the forest plot (Okabe-Ito)
ANALYSIS_STYLE = {
    "Univariable IVW": ("#E69F00", "circle"),
    "Multivariable IVW": ("#0072B2", "diamond"),
    "Multivariable IVW (random effects)": ("#56B4E9", "diamond-open"),
    "Multivariable MR-Egger": ("#D55E00", "square"),
    "Multivariable weighted median": ("#009E73", "triangle-up"),
}


def mv_lipids_analysis(*, iterations: int = 10000, rng: str = "numpy") -> MVResult:
    """LDL cholesterol, HDL cholesterol and triglycerides together on coronary heart disease.

    REAL data: the 28 variants of Waterworth et al. (2010) as distributed with
    MendelianRandomization, shipped inside mrbook (``mrbook/data/PROVENANCE.md``).
    The weighted median's bootstrap uses MendelianRandomization's seed.
    """
    from ..data.shipped import LIPID_EXPOSURES, LIPID_OUTCOME, SHIPPED, read_lipids_chd

    data = mv_from_frame(read_lipids_chd(), exposure_names=LIPID_EXPOSURES,
                         outcome_name=LIPID_OUTCOME)
    data.meta.update(simulated=False, input="mrbook/data/" + SHIPPED["lipids_chd"]["file"],
                     citation=SHIPPED["lipids_chd"]["citation"])
    return run_mvmr(data, iterations=iterations, rng=rng)


def mv_sources(run: Mapping[str, Any]) -> tuple[dict, str]:
    """The run's exposures and outcome as multivariable sources (``demo:`` -> ``demo-mv:``)."""
    def mv(src: str) -> str:
        return "demo-mv:" + src[5:] if src.startswith("demo:") else src

    return {t: mv(s) for t, s in run["exposures"].items()}, mv(run["outcome_source"])


def mv_thyroid_analysis(run: Mapping[str, Any], *, iterations: int = 10000) -> MVResult | None:
    """The run's exposures together on its outcome, with the run's selection settings.

    A ``demo:<trait>`` source becomes ``demo-mv:<trait>`` (:func:`mv_sources`); files
    and OpenGWAS IDs are used as they are. With fewer than two exposures it shows a
    note saying why there is nothing to show, and returns None.
    """
    from ..params import resolve_path

    exposures, outcome = mv_sources(run)
    if len(exposures) < 2:
        show_note(f"This run has {len(exposures)} exposure; multivariable MR needs two or more "
                  "(the `exposures` parameter), so part 2 is empty.", title="Nothing to show",
                  kind="note")
        return None

    def path(src: str) -> str:
        return src if ":" in src or not resolve_path(src).is_file() else str(resolve_path(src))

    return mvmr_from_sources(
        {t: path(s) for t, s in exposures.items()}, path(outcome),
        p_threshold=run["p_threshold"], clump_r2=run["clump_r2"], clump_kb=run["clump_kb"],
        ld_ref=str(resolve_path(run["ld_ref"])) if run["ld_ref"] else None, clump=run["clump"],
        palindrome_action=run["palindrome_action"],
        confounder_table=str(resolve_path(run["confounder_table"])) if run["confounder_table"]
        else None, confounder_traits=run["confounder_traits"], iterations=iterations,
        rng=run["rng"])


def mv_forest_plot(table: pd.DataFrame, title: str = "Univariable and multivariable estimates",
                   xtitle: str = "Effect on the outcome, β (95% CI)",
                   reference: Mapping[str, float] | None = None,
                   reference_name: str = "Simulated direct effect") -> go.Figure:
    """Forest plot: per exposure, the univariable estimate next to the multivariable ones.

    Parameters
    ----------
    table : DataFrame
        :func:`mrbook.report.tables.mv_forest_table`: exposure, analysis, b, se, pval.
    title, xtitle : str
    reference : mapping, optional
        Exposure -> a known value to mark on its row (e.g. a simulation's true
        direct effect), drawn as a black cross named ``reference_name``.

    Returns
    -------
    plotly.graph_objects.Figure
        One row per exposure (top to bottom in table order), one marker per
        analysis with its 95% confidence interval (b ± 1.96 se), a dotted line at
        0; the analyses keep their colours and markers in every figure.
    """
    exposures = list(dict.fromkeys(table["exposure"]))
    analyses = list(dict.fromkeys(table["analysis"]))
    m = len(analyses)
    step = 0.7 / max(m - 1, 1)
    fig = go.Figure()
    for a_i, analysis in enumerate(analyses):
        rows = table[table["analysis"] == analysis]
        y = [len(exposures) - 1 - exposures.index(e) + 0.35 - a_i * step for e in rows["exposure"]]
        colour, symbol = ANALYSIS_STYLE.get(analysis, ("#999999", "circle"))
        fig.add_trace(go.Scatter(
            x=rows["b"], y=y, mode="markers", name=analysis,
            marker=dict(color=colour, symbol=symbol, size=10, line=dict(color="#000000", width=0.5)),
            error_x=dict(type="data", array=Z95 * rows["se"].to_numpy(float), color=colour,
                         thickness=2, width=0),
            customdata=np.column_stack([rows["exposure"], rows["se"].to_numpy(float),
                                        rows["pval"].to_numpy(float)]),
            hovertemplate=(f"<b>%{{customdata[0]}}</b><br>{analysis}<br>b = %{{x:.4g}} "
                           "(se %{customdata[1]:.3g})<br>P = %{customdata[2]:.3g}<extra></extra>")))
    if reference:
        ref = [(e, float(reference[e])) for e in exposures if e in reference]
        fig.add_trace(go.Scatter(
            x=[v for _, v in ref], y=[len(exposures) - 1 - exposures.index(e) for e, _ in ref],
            mode="markers", name=reference_name,
            marker=dict(color="#000000", symbol="x-thin", size=16, line=dict(color="#000000", width=2)),
            hovertemplate=f"{reference_name}: %{{x:.4g}}<extra></extra>"))
    fig.add_vline(x=0, line=dict(color="#888888", width=1, dash="dot"))
    for i in range(1, len(exposures)):
        fig.add_hline(y=i - 0.5, line=dict(color="#dddddd", width=1))
    _layout(fig, title, xtitle, "", height=max(420, 230 + 95 * len(exposures)))
    fig.update_yaxes(tickvals=list(range(len(exposures))), ticktext=exposures[::-1],
                     range=[-0.6, len(exposures) - 0.4], tickfont=dict(size=13), automargin=True)
    # the legend at the foot of the figure, below the axis title (which it would cover at the
    # usual place when it wraps onto several rows in a narrow page)
    fig.update_layout(legend=dict(orientation="h", yref="container", y=0.0, yanchor="bottom",
                                  xanchor="left", x=0.0, font=dict(family=FONT["family"], size=12)),
                      margin=dict(b=150))
    return fig


def mv_reference_effects(result: MVResult) -> dict | None:
    """The simulated direct effects of a demo-mv analysis (exposure name -> theta), else None."""
    from ..data import demo

    srcs = (result.data.meta.get("sources") or {}).get("exposures") or []
    if not srcs or not all(str(s.get("source", "")).startswith("demo-mv:") for s in srcs):
        return None
    by_id = {info["id"]: key for key, info in demo.TRAITS.items()}
    out = {}
    for name, e in zip(result.data.exposure_names, result.data.exposures):
        key = by_id.get(e.replace("demo-mv-", "demo-"))
        if key in demo.DESIGN:
            out[name] = float(demo.DESIGN[key]["theta"])
    return out or None


def strength_note(result: MVResult) -> str:
    """One sentence on the conditional F statistics against the rule of thumb (F > 10)."""
    s = result.strength
    parts = [f"{e} {f:.1f}" for e, f in zip(s["exposure"], s["conditional_f"])]
    weak = [e for e, f in zip(s["exposure"], s["conditional_f"]) if not f > F_THRESHOLD]
    if not weak:
        return ("Every conditional F statistic is above 10 (" + ", ".join(parts) + "): by the rule "
                "of thumb no exposure is weakly instrumented *given the others*.")
    return ("Conditional F statistics: " + ", ".join(parts) + ". **Below 10: " + ", ".join(weak)
            + "**: the SNPs hardly predict " + ("this exposure" if len(weak) == 1 else "these exposures")
            + " once the others are accounted for, so " + ("its" if len(weak) == 1 else "their")
            + " multivariable estimates are subject to weak-instrument bias.")


def shift_note(result: MVResult) -> str:
    """One sentence per exposure: how its estimate moves from alone to together."""
    uni = result.univariable.set_index("id_exposure")
    mv = result.mvmr[result.mvmr["method_key"] == "mv_multiple"].set_index("id_exposure")
    out = []
    for e, name in zip(result.data.exposures, result.data.exposure_names):
        if e not in mv.index:
            continue
        u, v = uni.loc[e], mv.loc[e]
        out.append(f"{name}: β {u['b']:.3f} (P {u['pval']:.2g}) alone, {v['b']:.3f} "
                   f"(P {v['pval']:.2g}) together.")
    return " ".join(out)


_LIPIDS_NOTE = (
    "**Real data**, shipped with mrbook: genetic associations of 28 variants with LDL cholesterol, HDL "
    "cholesterol, triglycerides and coronary heart disease (log odds) from Waterworth et al. (2010, "
    "*Arterioscler Thromb Vasc Biol* 30:2264, doi:10.1161/ATVBAHA.109.201020), as distributed with the "
    "R package MendelianRandomization 0.10.0; provenance in `mrbook/data/PROVENANCE.md`.")
_DEMO_MV_NOTE = (
    "**Simulated data**: the demo study's *multivariable extension*, in which the three thyroid traits "
    "share loci (every Hashimoto locus also raises hypothyroidism risk, and about a third of the other "
    "loci act on another thyroid trait too). Its direct effects on osteoporosis are set to the paper's "
    "univariable ln ORs, so the multivariable estimates agree with them **by construction**; none of "
    "this is evidence "
    "about thyroid disease. The chapters before this one use the demo's own files, in which the "
    "traits share no locus.")


def show_mv_data_note(which: str, run: Mapping[str, Any] | None = None) -> None:
    """The data note of a section: ``"lipids"`` (real) or ``"thyroid"`` (the run's sources)."""
    if which == "lipids":
        show_note(_LIPIDS_NOTE, title="Data: real, shipped with mrbook", kind="note")
        return
    exposures, outcome = mv_sources(run or {})
    srcs = list(exposures.values()) + [outcome]
    if any(s.startswith("demo-mv:") for s in srcs):
        show_note(_DEMO_MV_NOTE + " Sources: " + ", ".join(f"`{s}`" for s in srcs) + ".",
                  title="Data: simulated demo study (multivariable extension)", kind="warning")
    else:
        show_note("Real summary statistics: " + ", ".join(f"`{s}`" for s in srcs) + ".",
                  title="Data source", kind="note")


def show_mv_data_sources(run: Mapping[str, Any]) -> None:
    """The note at the top of the chapter: which data each of its two parts shows."""
    exposures, outcome = mv_sources(run)
    demo = any(s.startswith("demo-mv:") for s in [*exposures.values(), outcome])
    second = ("the **simulated** demo study's multivariable extension (" + ", ".join(
        f"`{s}`" for s in [*exposures.values(), outcome]) + "). " + DEMO_WARNING) if demo else (
        "this run's real summary statistics (" + ", ".join(
            f"`{s}`" for s in [*exposures.values(), outcome]) + ").")
    text = ("This page shows two data sets. **Part 1** uses **real data** shipped with mrbook: "
            "the lipid fractions and coronary heart disease of Waterworth et al. (2010). **Part 2** "
            "uses " + second)
    show_note(text, title="Data: real (part 1) and " + ("simulated" if demo else "real") + " (part 2)",
              kind="warning" if demo else "note")
