"""The Phenome-wide MR page's tables and figures, on small hand-made batch tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mrbook.report import phenome as ph
from mrbook.report import plots

IVW = "Inverse variance weighted"


@pytest.fixture
def tables():
    rows = []
    pv = {("x1", "y1"): 1e-6, ("x2", "y1"): 0.2, ("x1", "y2"): 0.004, ("x2", "y2"): 0.03}
    for (e, o), p in pv.items():
        for method, scale in ((IVW, 1.0), ("MR Egger", 3.0)):
            b = 0.1 if p < 0.01 else -0.02
            rows.append(dict(id_exposure=e, id_outcome=o, exposure=f"Exp {e}",
                             outcome=f"Dis {o}", method=method, nsnp=3, b=b, se=0.02 * scale,
                             pval=min(1.0, p * scale), or_=np.exp(b), or_lci95=np.exp(b - 0.04),
                             or_uci95=np.exp(b + 0.04), status="ok"))
    res = pd.DataFrame(rows).rename(columns={"or_": "or"})
    from mrbook.batch import bh_fdr

    res["pval_fdr"] = bh_fdr(res)
    het = pd.DataFrame([dict(id_exposure=e, id_outcome=o, method=IVW, q=1.0, q_df=2, q_pval=0.5)
                        for e, o in pv])
    ple = pd.DataFrame([dict(id_exposure=e, id_outcome=o, nsnp=3, egger_intercept=0.01, se=0.01,
                             pval=0.3) for e, o in pv])
    harm = pd.DataFrame([{"SNP": f"rs{i}", "id.exposure": e, "id.outcome": o,
                          "exposure": f"Exp {e}", "outcome": f"Dis {o}",
                          "beta.exposure": 0.1 * (i + 1), "se.exposure": 0.01,
                          "beta.outcome": 0.01 * (i + 1), "se.outcome": 0.005, "mr_keep": True}
                         for e, o in pv for i in range(3)])
    truth = pd.DataFrame([dict(id_exposure=e, id_outcome=o, causal=(p < 0.01 or (e, o) == ("x2", "y1")),
                               theta=0.1 if p < 0.01 else 0.0) for (e, o), p in pv.items()])
    return {"results": res, "heterogeneity": het, "pleiotropy": ple, "harmonised": harm,
            "truth": truth}


def test_significant_pairs_by_fdr(tables):
    sig = ph.significant_pairs(tables["results"], tables["heterogeneity"], tables["pleiotropy"])
    ivw = tables["results"][tables["results"]["method"] == IVW]
    want = ivw[ivw["pval_fdr"] < 0.05].sort_values("pval")
    assert sig["exposure"].tolist() == want["exposure"].tolist() and len(sig) == 3
    assert sig["pval"].is_monotonic_increasing
    assert (sig["ivw_q_pval"] == 0.5).all() and (sig["egger_intercept_pval"] == 0.3).all()


def test_truth_table_counts(tables):
    t = ph.truth_table(tables["results"], tables["truth"])
    s = ph.truth_summary(t)
    # x1->y1, x1->y2 causal and called; x2->y2 not causal, called at FDR 0.04; x2->y1 causal, missed
    assert (s["true_positives"], s["false_positives"], s["false_negatives"],
            s["true_negatives"]) == (2, 1, 1, 0)
    assert s["false_discovery_proportion"] == pytest.approx(1 / 3)


def test_heatmap_cells_are_the_estimates(tables):
    fig = ph.heatmap_plot(tables["results"])
    heat, dots = fig.data
    z = np.array(heat.z, dtype=float)
    ivw = tables["results"][tables["results"]["method"] == IVW].set_index(["exposure", "outcome"])
    for i, e in enumerate(heat.y):
        for j, o in enumerate(heat.x):
            assert z[i, j] == ivw.loc[(e, o), "b"]
    assert len(dots.x) == int((ivw["pval_fdr"] < 0.05).sum())


def test_volcano_marks_significant_and_true_pairs(tables):
    fig = ph.volcano_plot(tables["results"], truth=tables["truth"])
    ys = np.concatenate([np.asarray(t.y, dtype=float) for t in fig.data])
    ivw = tables["results"][tables["results"]["method"] == IVW]
    assert sorted(ys) == pytest.approx(sorted(-np.log10(ivw["pval"])))
    symbols = np.concatenate([np.atleast_1d(t.marker.symbol) for t in fig.data])
    assert (symbols == "diamond").sum() == int(tables["truth"]["causal"].sum())


def test_pair_selector_shows_one_pair_at_a_time(tables):
    figs = ph.pair_figures(tables, [("x1", "y1"), ("x1", "y2")], "scatter")
    assert [label for label, _ in figs] == ["Exp x1 → Dis y1", "Exp x1 → Dis y2"]
    sel = ph.pair_selector(figs, "Scatter plots")
    n = [len(f.data) for _, f in figs]
    assert len(sel.data) == sum(n)
    buttons = sel.layout.updatemenus[0].buttons
    assert len(buttons) == 2
    for k, b in enumerate(buttons):
        vis = b.args[0]["visible"]
        assert sum(vis) == n[k]
    assert [bool(t.visible) for t in sel.data] == buttons[0].args[0]["visible"]
    forest = ph.pair_selector(ph.pair_figures(tables, [("x1", "y1")], "forest"), "Forest")
    assert not plots.is_empty(forest)


def test_top_pairs(tables):
    assert ph.top_pairs(tables["results"]) == [("x1", "y1"), ("x1", "y2"), ("x2", "y2")]
    none = tables["results"].assign(pval_fdr=0.9)
    assert ph.top_pairs(none, limit=2) == [("x1", "y1"), ("x1", "y2")]
