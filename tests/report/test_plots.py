"""The plot functions on small tables: what they draw, and how they degrade with too few SNPs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from mrbook.report import plots
from mrbook.analysis import leaveoneout, pleiotropy, run_mr, singlesnp


def harmonised(k: int, theta: float = 0.3, seed: int = 7) -> pd.DataFrame:
    """k simulated SNPs with a known causal effect ``theta`` (some negative exposure betas)."""
    rng = np.random.default_rng(seed)
    bx = rng.uniform(0.05, 0.2, k) * rng.choice([-1, 1], k)
    sx = np.full(k, 0.01)
    sy = np.full(k, 0.02)
    by = theta * bx + rng.normal(0, 0.02, k)
    return pd.DataFrame({
        "SNP": [f"rs{i + 1}" for i in range(k)], "beta.exposure": bx, "se.exposure": sx,
        "beta.outcome": by, "se.outcome": sy, "mr_keep": True,
        "id.exposure": "x", "id.outcome": "y", "exposure": "Exposure X", "outcome": "Outcome Y",
    })


@pytest.fixture(scope="module")
def tables():
    d = harmonised(8)
    return d, run_mr(d), singlesnp(d), leaveoneout(d), pleiotropy(d)


def _names(fig: go.Figure) -> list[str]:
    return [t.name for t in fig.data]


def test_scatter_plot_orients_snps_and_draws_method_lines(tables):
    d, mr, _, _, pl = tables
    fig = plots.scatter_plot(mr, d, pleiotropy=pl)
    assert not plots.is_empty(fig)
    snps = fig.data[0]
    assert snps.name == "SNPs"
    # TwoSampleMR's orientation: exposure effects made positive, outcome sign follows
    np.testing.assert_allclose(snps.x, np.abs(d["beta.exposure"]))
    np.testing.assert_allclose(snps.y, np.sign(d["beta.exposure"]) * d["beta.outcome"])
    np.testing.assert_allclose(snps.error_x.array, 1.959963984540054 * d["se.exposure"])
    ran = mr[mr["status"] == "ok"]
    assert set(_names(fig)[1:]) == set(ran["method"])
    for trace in fig.data[1:]:
        b = float(ran.loc[ran["method"] == trace.name, "b"].iloc[0])
        intercept = float(pl["egger_intercept"].iloc[0]) if trace.name == "MR Egger" else 0.0
        assert trace.y[0] == pytest.approx(intercept)
        assert (trace.y[1] - trace.y[0]) / (trace.x[1] - trace.x[0]) == pytest.approx(b)
    # hover names the SNP
    assert "customdata[0]" in snps.hovertemplate and snps.customdata[0][0] == "rs1"
    assert "Exposure X" in fig.layout.xaxis.title.text


def test_scatter_plot_takes_the_egger_intercept_directly(tables):
    d, mr, _, _, _ = tables
    fig = plots.scatter_plot(mr, d, egger_intercept=0.5)
    egger = next(t for t in fig.data if t.name == "MR Egger")
    assert egger.y[0] == pytest.approx(0.5)
    # without any intercept the Egger line is left out rather than drawn wrongly
    assert "MR Egger" not in _names(plots.scatter_plot(mr, d))


def test_forest_plot_sorts_snps_and_puts_summaries_at_the_bottom(tables):
    _, _, ss, _, _ = tables
    fig = plots.forest_plot(ss)
    snp_trace = fig.data[0]
    assert list(snp_trace.x) == sorted(snp_trace.x)
    order = list(fig.layout.yaxis.categoryarray)
    # plotly's first category is the bottom row: the summaries come first
    assert order[:2] == ["All - MR Egger", "All - Inverse variance weighted"]
    assert set(order[2:]) == set(ss["snp"][~ss["snp"].str.startswith("All")])
    summary = [t for t in fig.data[1:]]
    assert {t.name for t in summary} == {"All - Inverse variance weighted", "All - MR Egger"}
    assert all(t.marker.symbol == "diamond" for t in summary)
    assert summary[0].marker.color != snp_trace.marker.color


def test_leaveoneout_plot_has_one_row_per_snp_and_all(tables):
    _, _, _, loo, _ = tables
    fig = plots.leaveoneout_plot(loo)
    assert len(fig.data[0].x) == 8
    assert fig.layout.yaxis.categoryarray[0] == "All SNPs"
    assert fig.data[1].x[0] == pytest.approx(loo["b"].iloc[-1])


def test_funnel_plot_precision_and_method_lines(tables):
    _, _, ss, _, _ = tables
    fig = plots.funnel_plot(ss)
    single = ss[~ss["snp"].str.startswith("All")]
    np.testing.assert_allclose(fig.data[0].y, 1 / single["se"])
    np.testing.assert_allclose(fig.data[0].x, single["b"])
    assert set(_names(fig)[1:]) == {"Inverse variance weighted", "MR Egger"}
    ivw = next(t for t in fig.data if t.name == "Inverse variance weighted")
    want = ss.loc[ss["snp"] == "All - Inverse variance weighted", "b"].iloc[0]
    assert ivw.x[0] == ivw.x[1] == pytest.approx(want)


@pytest.mark.parametrize("k", [1, 2])
def test_plots_degrade_to_labelled_empty_figures(k):
    d = harmonised(k)
    mr, ss, loo, pl = run_mr(d), singlesnp(d), leaveoneout(d), pleiotropy(d)
    figs = {"scatter": plots.scatter_plot(mr, d, pleiotropy=pl), "forest": plots.forest_plot(ss),
            "leaveoneout": plots.leaveoneout_plot(loo), "funnel": plots.funnel_plot(ss)}
    for kind, fig in figs.items():
        should_be_empty = k < plots.MIN_SNPS[kind]
        assert plots.is_empty(fig) == should_be_empty, (kind, k)
        if should_be_empty:
            assert len(fig.data) == 0
            text = fig.layout.annotations[0].text
            assert "Too few SNPs" in text and f"{plots.MIN_SNPS[kind]} needed" in text
            if kind != "leaveoneout":  # its table has no per-SNP rows to count
                assert f"{k} available" in text
            assert "Exposure X → Outcome Y" in fig.layout.title.text


def test_leaveoneout_needs_three_snps():
    assert plots.MIN_SNPS["leaveoneout"] == 3
    d = harmonised(3)
    assert not plots.is_empty(plots.leaveoneout_plot(leaveoneout(d)))


def test_plots_refuse_several_pairs(tables):
    _, _, ss, _, _ = tables
    two = pd.concat([ss, ss.assign(id_exposure="other")])
    with pytest.raises(ValueError, match="several exposure-outcome pairs"):
        plots.forest_plot(two)


def test_style_is_shared_and_colour_blind_safe(tables):
    d, mr, ss, loo, pl = tables
    for fig in (plots.scatter_plot(mr, d, pleiotropy=pl), plots.forest_plot(ss),
                plots.leaveoneout_plot(loo), plots.funnel_plot(ss)):
        assert fig.layout.font.family.startswith("Arial")
        assert fig.layout.template.layout.paper_bgcolor in ("white", "#FFFFFF", "#ffffff", None)
    assert plots.method_colour("Inverse variance weighted") in plots.OKABE_ITO
    assert plots.method_colour("MR Egger") in plots.OKABE_ITO
    assert plots.method_colour("Weighted median") != plots.method_colour("MR Egger")


def test_figures_serialise_for_the_book(tables):
    """The display bundle has plotly's mimetype for JupyterLab and HTML without plotly.js."""
    from mrbook.report import figure_bundle

    d, mr, _, _, pl = tables
    bundle = figure_bundle(plots.scatter_plot(mr, d, pleiotropy=pl), "scatter x/y")
    assert set(bundle) == {"application/vnd.plotly.v1+json", "text/html", "text/plain"}
    html = bundle["text/html"]
    assert 'id="mrbook-fig-scatter-x-y"' in html
    assert "Plotly.newPlot" in html and "cdn.plot.ly" not in html and "<script src" not in html
    assert "Download SVG" not in html  # the buttons are made by the script, not static text
    assert "downloadImage" in html
    assert bundle["application/vnd.plotly.v1+json"]["config"]["displaylogo"] is False
