"""The Sensitivity chapter's "Beyond the paper": the run parameter, the table, the all-methods plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mrbook import params, report
from mrbook.analysis import run_mr
from mrbook.errors import ParameterError
from mrbook.report import plots
from mrbook.report.beyond import NO_SE, methods_forest_plot

Z = 1.959963984540054


def harmonised(k: int = 25, theta: float = 0.3, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    bx = rng.uniform(0.05, 0.2, k) * rng.choice([-1, 1], k)
    by = theta * bx + rng.normal(0, 0.02, k)
    return pd.DataFrame({
        "SNP": [f"rs{i + 1}" for i in range(k)], "beta.exposure": bx, "se.exposure": np.full(k, 0.01),
        "beta.outcome": by, "se.outcome": np.full(k, 0.02), "mr_keep": True,
        "id.exposure": "x", "id.outcome": "y", "exposure": "Exposure X", "outcome": "Outcome Y"})


def test_extended_methods_parameter_lists_issue_18s_nine():
    assert params.defaults()["extended_methods"] == params.EXTENDED_METHODS
    assert len(params.EXTENDED_METHODS) == 9
    # keys of issue 18 that are not implemented yet are accepted (and shown as unavailable) ...
    assert params.validate({"extended_methods": ["mr_conmix", "mr_raps"]}, partial=True)
    assert params.validate({"extended_methods": []}, partial=True) == {"extended_methods": []}
    # ... a typo is not
    with pytest.raises(ParameterError, match="extended_methods.*mr_rapz"):
        params.validate({"extended_methods": ["mr_rapz"]}, partial=True)
    with pytest.raises(ParameterError, match="extended_methods"):
        params.validate({"extended_methods": [3]}, partial=True)


def test_split_methods_separates_what_is_not_registered():
    have, missing = report.split_methods(["mr_raps", "mr_not_yet_there", "mr_divw", "mr_raps"])
    assert have == ["mr_raps", "mr_divw"]
    assert missing == ["mr_not_yet_there"]
    # all nine of issue 18 are registered now (ConMix, MR-Lasso, cML, MBE from the mixture branch)
    assert report.split_methods(params.EXTENDED_METHODS) == (params.EXTENDED_METHODS, [])


def test_unavailable_methods_are_named_on_the_page(monkeypatch):
    shown = []
    monkeypatch.setattr("mrbook.report.display.show_note", lambda md, **kw: shown.append((md, kw)))
    report.show_unavailable_methods({"extended_methods": ["mr_raps", "mr_not_yet_there"]})
    assert shown and "`mr_not_yet_there`" in shown[0][0] and "mr_raps" not in shown[0][0]
    shown.clear()
    report.show_unavailable_methods({"extended_methods": ["mr_raps", "mr_divw"]})
    assert not shown


def test_extended_table_intervals_and_odds_ratios():
    ext = run_mr(harmonised(), ["mr_divw", "mr_ivw_robust"])
    ext.loc[1, "se"] = 0.0                   # a degenerate robust covariance, as R's lmrob gives
    ext["ci_low"] = [np.nan, np.nan]         # a method with its own interval would fill these
    ext["ci_upp"] = [np.nan, np.nan]
    own = ext.copy()
    own.loc[0, ["ci_low", "ci_upp"]] = [0.1, 0.5]
    for frame in (ext.drop(columns=["ci_low", "ci_upp"]), own):
        t = report.extended_table(frame)
        assert list(t.columns[:4]) == ["exposure", "outcome", "method", "nsnp"]
        r0 = t.iloc[0]
        if frame is own:
            assert (r0["ci_low"], r0["ci_upp"]) == (0.1, 0.5)
        else:
            assert r0["ci_low"] == pytest.approx(r0["b"] - Z * r0["se"])
        assert r0["or_lci95"] == pytest.approx(np.exp(r0["ci_low"]))
        assert np.isnan(t.iloc[1]["se"]) and np.isnan(t.iloc[1]["pval"]) and t.iloc[1]["reason"] == NO_SE
    assert report.extended_table(ext.iloc[:0]).empty



def test_extended_notes_list_each_message_once_with_its_pairs():
    t = pd.DataFrame({"exposure": ["A", "B", "A", "B"], "outcome": ["Y"] * 4,
                      "method": ["RAPS", "RAPS", "Robust MR-Egger", "Robust IVW"],
                      "reason": ["tau2 set to 0.", "tau2 set to 0.", NO_SE, ""]})
    md = report.extended_notes(t)
    assert md.startswith("**Notes.** ")
    assert "RAPS (A → Y, B → Y): tau2 set to 0." in md and md.count("tau2") == 1
    assert f"Robust MR-Egger (A → Y): {NO_SE}." in md and "Robust IVW" not in md
    assert report.extended_notes(t.assign(reason="")) == ""
    assert report.extended_notes(t.iloc[:0]) == ""

def test_all_methods_table_puts_the_papers_first():
    d = harmonised()
    paper = run_mr(d, params.PAPER_METHODS)
    beyond = run_mr(d, ["mr_raps", "mr_divw", "mr_ivw_penalised", "mr_ivw_robust", "mr_egger_robust"])
    t = report.all_methods_table(paper, beyond)
    assert t["group"].tolist() == ["paper"] * 5 + ["beyond"] * 5
    assert t["method"].tolist()[:5] == paper["method"].tolist()
    # a method in both lists (the run's methods may name an extended one) is drawn once
    both = report.all_methods_table(run_mr(d, params.PAPER_METHODS + ["mr_divw"]), beyond)
    assert both["method"].tolist().count("Debiased IVW") == 1
    assert both.set_index("method").loc["Debiased IVW", "group"] == "paper"


def test_methods_forest_plot_draws_every_method_with_its_interval():
    d = harmonised()
    t = report.all_methods_table(run_mr(d, params.PAPER_METHODS),
                                 run_mr(d, ["mr_raps", "mr_conmix", "mr_divw", "mr_ivw_robust"]))
    t.loc[t["method"] == "Debiased IVW", ["ci_low", "ci_upp"]] = [0.01, 0.9]   # an own interval
    conmix = t.set_index("method").loc["Contamination mixture"]
    assert np.isnan(conmix["se"]) and conmix["ci_low"] < conmix["b"] < conmix["ci_upp"]
    own = {"Debiased IVW": (0.01, 0.9), "Contamination mixture": (conmix["ci_low"], conmix["ci_upp"])}
    fig = methods_forest_plot(t)
    assert [tr.name for tr in fig.data] == t["method"].tolist()
    # the first row of the table at the top
    assert list(fig.layout.yaxis.categoryarray) == t["method"].tolist()[::-1]
    for tr, (_, r) in zip(fig.data, t.iterrows()):
        assert tr.x[0] == r["b"]
        lo, hi = own.get(r["method"], (r["b"] - Z * r["se"], r["b"] + Z * r["se"]))
        assert tr.error_x.arrayminus[0] == pytest.approx(r["b"] - lo)
        assert tr.error_x.array[0] == pytest.approx(hi - r["b"])
        # the paper's methods in their colours, the others grey circles
        assert (tr.marker.symbol == "diamond") == (r["group"] == "paper")
    assert "Exposure X → Outcome Y" in fig.layout.title.text
    empty = methods_forest_plot(t.assign(b=np.nan))
    assert plots.is_empty(empty)
    with pytest.raises(ValueError, match="several"):
        methods_forest_plot(pd.concat([t.assign(id_exposure="a"), t.assign(id_exposure="z")]))
