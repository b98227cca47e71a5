"""The "Multivariable MR" chapter's report functions: tables, the forest plot, notes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mrbook import report
from mrbook.multivariable import mv_from_frame, run_mvmr
from mrbook.params import defaults
from mrbook.report.plots import Z95


@pytest.fixture(scope="module")
def lipids():
    return report.mv_lipids_analysis(iterations=100)


def test_lipids_are_the_real_shipped_data(lipids):
    assert lipids.data.meta["simulated"] is False and "Waterworth" in lipids.data.meta["citation"]
    assert lipids.data.exposure_names == ["LDL cholesterol", "HDL cholesterol", "Triglycerides"]
    assert lipids.data.n == 28


def test_comparison_table_puts_univariable_next_to_multivariable(lipids):
    t = report.mv_comparison_table(lipids)
    assert list(t["exposure"]) == lipids.data.exposure_names
    uni = lipids.univariable.set_index("exposure")
    mv = lipids.mvmr[lipids.mvmr["method_key"] == "mv_multiple"].set_index("exposure")
    for r in t.itertuples(index=False):
        assert r.uni_b == uni.loc[r.exposure, "b"] and r.mv_b == mv.loc[r.exposure, "b"]
    # the MendelianRandomization vignette's univariable IVW of LDL-C on these data: 2.834 (0.530)
    assert round(t["uni_b"].iloc[0], 3) == 2.834 and round(t["uni_se"].iloc[0], 3) == 0.530
    assert pd.api.types.is_float_dtype(t["conditional_f"])


def test_forest_table_and_plot(lipids):
    t = report.mv_forest_table(lipids)
    assert list(dict.fromkeys(t["analysis"])) == ["Univariable IVW", "Multivariable IVW",
                                                  "Multivariable MR-Egger",
                                                  "Multivariable weighted median"]
    fig = report.mv_forest_plot(t, reference={"HDL cholesterol": 0.0})
    names = [tr.name for tr in fig.data]
    assert names == list(dict.fromkeys(t["analysis"])) + ["Simulated direct effect"]
    uni = fig.data[0]
    rows = t[t["analysis"] == "Univariable IVW"]
    np.testing.assert_allclose(uni.x, rows["b"])
    np.testing.assert_allclose(uni.error_x.array, Z95 * rows["se"].to_numpy())
    # the first exposure is drawn on the top row, each analysis a little lower than the one before
    assert uni.y[0] > uni.y[1] > uni.y[2] and fig.data[1].y[0] < uni.y[0]
    assert fig.data[-1].y[0] == 1                     # HDL cholesterol: the middle row
    assert list(fig.layout.yaxis.ticktext) == ["Triglycerides", "HDL cholesterol", "LDL cholesterol"]


def test_strength_and_methods_tables(lipids):
    s = report.mv_strength_table(lipids)
    assert s["strong"].all() and (s["q_df"] == 24).all()
    assert "above 10" in report.strength_note(lipids)
    m = report.mv_results_table(lipids)
    assert set(m["method"]) == {"Multivariable IVW", "Multivariable IVW (random effects)",
                                "Multivariable MR-Egger", "Multivariable weighted median"}
    assert np.allclose(m["or"], np.exp(m["b"]))


def test_strength_note_names_weak_exposures():
    rng = np.random.default_rng(2)
    x1 = rng.normal(0, 0.1, 30)
    frame = pd.DataFrame({"SNP": [f"rs{i}" for i in range(30)], "beta.a": x1, "se.a": 0.01,
                          "beta.b": 0.8 * x1 + rng.normal(0, 0.002, 30), "se.b": 0.01,
                          "beta.outcome": 0.3 * x1 + rng.normal(0, 0.01, 30), "se.outcome": 0.01})
    res = run_mvmr(mv_from_frame(frame), ["mv_multiple"])
    note = report.strength_note(res)
    assert "**Below 10: a, b**" in note and "weak-instrument bias" in note


def test_demo_sources_become_the_multivariable_extension():
    run = defaults()
    exposures, outcome = report.mv_sources(run)
    assert exposures == {"Hypothyroidism": "demo-mv:hypothyroidism",
                         "Hyperthyroidism": "demo-mv:hyperthyroidism",
                         "Hashimoto thyroiditis": "demo-mv:hashimoto"}
    assert outcome == "demo-mv:osteoporosis"
    run["exposures"] = {"X": "ebi-a-GCST90018862", "Y": "some/file.vcf.gz"}
    assert report.mv_sources(run)[0] == run["exposures"]


def test_one_exposure_shows_a_note_and_no_analysis(monkeypatch):
    shown = []
    monkeypatch.setattr("mrbook.report.multivariable.show_note",
                        lambda text, title="", kind="": shown.append(title))
    run = defaults()
    run["exposures"] = {"Hypothyroidism": "demo:hypothyroidism"}
    assert report.mv_thyroid_analysis(run) is None and shown == ["Nothing to show"]


def test_thyroid_analysis_on_the_demo_marks_the_simulated_effects(demo_root, monkeypatch):
    from mrbook.data import demo

    monkeypatch.setenv("MRBOOK_CACHE", str(demo_root))
    res = report.mv_thyroid_analysis(defaults(), iterations=50)
    assert res.data.meta["simulated"] is True and res.data.n == 94
    assert report.mv_reference_effects(res) == {
        "Hypothyroidism": demo.DESIGN["hypothyroidism"]["theta"],
        "Hyperthyroidism": demo.DESIGN["hyperthyroidism"]["theta"],
        "Hashimoto thyroiditis": demo.DESIGN["hashimoto"]["theta"]}
    assert report.mv_reference_effects(report.mv_lipids_analysis(iterations=0)) is None
    assert list(report.mv_selection_table(res)["step"])[:2] == ["p_threshold", "clumping"]
