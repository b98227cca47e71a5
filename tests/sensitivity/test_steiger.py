"""Steiger directionality and Steiger filtering against TwoSampleMR 0.7.9.

Reference numbers: ../shared/reference/*/twosamplemr.json, keys ``directionality_test``,
``mr_steiger_full`` (``mr_steiger()`` per combination, without the plot) and
``steiger_filtering`` (TwoSampleMR R/steiger.R, R/steiger_filtering.R, R/add_rsq.r and
psych::r.test, commit c14776b). All deterministic: relative 1e-10.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from conftest import case_params, load_reference, reference_cases
from mrbook.sensitivity.steiger import (
    _qf_df1_upper,
    _r_nelder_mead,
    contingency,
    directionality_test,
    get_r_from_bsen,
    get_r_from_lor,
    get_r_from_pn,
    mr_steiger,
    mr_steiger_full,
    r_test_independent,
    steiger_filtering,
    steiger_sensitivity,
)

REL = 1e-10
CASES = reference_cases()


def _case_data(case, ref) -> pd.DataFrame:
    """All harmonised rows (Steiger uses every row of a pair, not only mr_keep)."""
    inp = ref["meta"]["input"]
    if "harmonised_csv" in inp:
        return pd.read_csv(case / inp["harmonised_csv"])
    return pd.DataFrame(ref["harmonised_data"])


def _close(a, b, rel=REL):
    if b is None:
        return a is None or (isinstance(a, float) and math.isnan(a))
    if isinstance(b, bool):
        return bool(a) == b
    return abs(a - b) <= rel * abs(b)


@pytest.mark.parametrize("case", case_params(CASES))
def test_directionality_test(case):
    ref = load_reference(case)
    if not ref.get("directionality_test"):
        pytest.skip("no directionality_test in the reference")
    dat = _case_data(case, ref)
    res = directionality_test(dat)
    assert len(res) == len(ref["directionality_test"])
    for want in ref["directionality_test"]:
        got = res[(res.id_exposure == want["id.exposure"]) & (res.id_outcome == want["id.outcome"])]
        assert len(got) == 1
        got = got.iloc[0]
        assert got["exposure"] == want["exposure"] and got["outcome"] == want["outcome"]
        assert _close(got["snp_r2_exposure"], want["snp_r2.exposure"])
        assert _close(got["snp_r2_outcome"], want["snp_r2.outcome"])
        assert bool(got["correct_causal_direction"]) == want["correct_causal_direction"]
        assert _close(got["steiger_pval"], want["steiger_pval"])


@pytest.mark.parametrize("case", case_params(CASES))
def test_mr_steiger_full(case):
    ref = load_reference(case)
    if not ref.get("mr_steiger_full"):
        pytest.skip("no mr_steiger_full in the reference")
    res = mr_steiger_full(_case_data(case, ref))
    for key, want in ref["mr_steiger_full"].items():
        ide, ido = key.split(" -> ")
        got = res[(res.id_exposure == ide) & (res.id_outcome == ido)].iloc[0]
        for name, value in want.items():
            assert _close(got[name], value), name


@pytest.mark.parametrize("case", case_params(CASES))
def test_steiger_filtering(case):
    ref = load_reference(case)
    if not ref.get("steiger_filtering"):
        pytest.skip("no steiger_filtering in the reference")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Assuming outcome prevalence of 0.1" (checked below)
        res = steiger_filtering(_case_data(case, ref))
    want = pd.DataFrame(ref["steiger_filtering"])
    assert len(res) == len(want)
    m = res.merge(want, on=["SNP", "id.exposure", "id.outcome"], suffixes=("", "_ref"))
    assert len(m) == len(want)
    for ours, theirs in [("rsq_exposure", "rsq.exposure"), ("rsq_outcome", "rsq.outcome"),
                         ("effective_n_exposure", "effective_n.exposure"),
                         ("effective_n_outcome", "effective_n.outcome"),
                         ("steiger_pval", "steiger_pval_ref")]:
        a = m[ours].to_numpy(float)
        b = m[theirs].to_numpy(float)
        both_nan = np.isnan(a) & np.isnan(b)
        assert np.all(both_nan | (np.abs(a - b) <= REL * np.abs(b))), ours
    assert (m["steiger_dir"].astype(bool) == m["steiger_dir_ref"].astype(bool)).all()


def test_log_odds_without_prevalence_warns():
    dat = pd.DataFrame({
        "SNP": ["rs1", "rs2"], "beta.exposure": [0.1, 0.2], "se.exposure": [0.01, 0.02],
        "pval.exposure": [1e-20, 1e-20], "samplesize.exposure": [1e5, 1e5],
        "beta.outcome": [0.05, -0.02], "se.outcome": [0.01, 0.01], "pval.outcome": [1e-6, 0.05],
        "samplesize.outcome": [5e4, 5e4], "units.outcome": ["log odds"] * 2,
        "eaf.outcome": [0.3, 0.6], "ncase.outcome": [1000, 1000], "ncontrol.outcome": [9000, 9000],
    })
    with pytest.warns(UserWarning, match="Assuming outcome prevalence of 0.1"):
        res = steiger_filtering(dat)
    assert np.allclose(res["effective_n_outcome"], 2 / (1 / 1000 + 1 / 9000))
    r = get_r_from_lor([0.05, -0.02], [0.3, 0.6], 1000, 9000, 0.1)
    np.testing.assert_allclose(res["rsq_outcome"], r ** 2, rtol=1e-15)
    # quantitative exposure without units: F/(n-2+F)
    np.testing.assert_allclose(res["rsq_exposure"], get_r_from_bsen([0.1, 0.2], [0.01, 0.02], 1e5) ** 2)


def test_units_sd_with_eaf():
    dat = pd.DataFrame({
        "SNP": ["rs1"], "beta.exposure": [0.05], "se.exposure": [0.005], "pval.exposure": [1e-22],
        "samplesize.exposure": [20000], "units.exposure": ["SD (kg/m^2)"], "eaf.exposure": [0.2],
        "beta.outcome": [0.01], "se.outcome": [0.005], "pval.outcome": [0.04],
        "samplesize.outcome": [30000],
    })
    res = steiger_filtering(dat)
    assert res["rsq_exposure"].iloc[0] == pytest.approx(2 * 0.05 ** 2 * 0.2 * 0.8, rel=1e-15)
    assert res["effective_n_exposure"].iloc[0] == 20000


def test_directionality_needs_inputs():
    dat = pd.DataFrame({"SNP": ["rs1"], "beta.exposure": [0.1], "se.exposure": [0.01]})
    res = directionality_test(dat)
    assert res.empty and "steiger_pval" in res.columns


def test_directionality_uses_given_r_and_all_rows():
    g = np.random.default_rng(1)
    k = 10
    dat = pd.DataFrame({
        "SNP": [f"rs{i}" for i in range(k)], "id.exposure": "X", "id.outcome": "Y",
        "r.exposure": g.uniform(-0.05, 0.05, k), "r.outcome": g.uniform(-0.01, 0.01, k),
        "samplesize.exposure": 1e4, "samplesize.outcome": 2e4, "mr_keep": [True] * 5 + [False] * 5,
    })
    res = directionality_test(dat).iloc[0]
    assert res["snp_r2_exposure"] == pytest.approx(np.sum(dat["r.exposure"] ** 2), rel=1e-14)
    rx, ry = math.sqrt(np.sum(dat["r.exposure"] ** 2)), math.sqrt(np.sum(dat["r.outcome"] ** 2))
    z = abs(math.atanh(rx) - math.atanh(ry)) / math.sqrt(1 / (1e4 - 3) + 1 / (2e4 - 3))
    assert res["steiger_pval"] == pytest.approx(2 * stats.norm.sf(z), rel=1e-12)
    assert bool(res["correct_causal_direction"])


def test_get_r_from_pn_rules():
    # R: qf(p, 1, n-1, lower=FALSE); for n-1 > 4e5 R switches to qchisq(p, 1, lower=FALSE)
    assert _qf_df1_upper(np.array([1e-8]), np.array([5e5]))[0] == stats.chi2.isf(1e-8, 1)
    f = _qf_df1_upper(np.array([1e-8, 0.3]), np.array([1000.0, 50.0]))
    np.testing.assert_allclose(f, stats.t.isf(np.array([1e-8, 0.3]) / 2, [1000, 50]) ** 2, rtol=1e-12)
    with pytest.warns(UserWarning, match="P-value of 0"):
        r = get_r_from_pn([0.0, 1.0, 1e-10], 1000)
    assert math.isnan(r[0]) and r[1] == 0.0 and 0 < r[2] < 1


def test_nelder_mead_port_matches_r():
    # R: optim(c(-1.2, 1), function(x) 100 * (x[2] - x[1]^2)^2 + (1 - x[1])^2)
    # $par 1.000260 1.000506, $value 8.825241e-08 (example of ?optim)
    par, value, fail = _r_nelder_mead(lambda x: 100 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2,
                                      [-1.2, 1.0])
    assert fail == 0
    np.testing.assert_allclose(par, [1.000260, 1.000506], atol=5e-7)
    assert value == pytest.approx(8.825241e-08, rel=1e-6)


def test_r_test_and_sensitivity():
    z, p = r_test_independent(1000, 2000, 0.3, 0.1)
    zz = abs(0.5 * math.log(1.3 / 0.7) - 0.5 * math.log(1.1 / 0.9)) / math.sqrt(1 / 997 + 1 / 1997)
    assert z == pytest.approx(zz, rel=1e-14) and p == pytest.approx(2 * stats.norm.sf(zz), rel=1e-12)
    s = steiger_sensitivity(0.3, 0.1)
    a, b = 0.3, 0.1
    assert s["vz"] == pytest.approx(a * math.log(a) - b * math.log(b) + a * b * (math.log(b) - math.log(a)))
    assert s["sensitivity_ratio"] == pytest.approx(s["vz1"] / s["vz0"])
    assert steiger_sensitivity(0.1, 0.3) == s


def test_mr_steiger_adjustment():
    res = mr_steiger([1e-10, 1e-12], [0.1, 0.2], 1e4, 1e4, r_xxo=0.5)
    assert res["r2_exp_adj"] == pytest.approx(res["r2_exp"] / 0.25)
    assert res["r2_out_adj"] == pytest.approx(res["r2_out"])


def test_contingency_margins():
    co = contingency(0.3, 0.2, 1.5)
    assert co.sum() == pytest.approx(1.0)
    assert co[0].sum() == pytest.approx(0.3) and co[:, 0].sum() == pytest.approx(0.2)
    z = co[0, 0]
    assert (z * co[1, 1]) / (co[0, 1] * co[1, 0]) == pytest.approx(1.5)
    co7 = contingency(0.3, 0.2, 1.5, zap_digits=7)  # a fresh R session's zapsmall
    assert np.all(np.abs(co7 - co) < 1e-7)


def test_special_functions_equal_scipy_stats():
    """The p-value and quantile helpers call scipy.special directly; the values are
    scipy.stats' to the last bit, including the edges (below the support, 0, 1, NaN)."""
    from mrbook.sensitivity.steiger import get_p_from_r2n

    r2 = np.array([-0.5, 0.0, 1e-300, 0.01, 0.3, 0.999, 1.0, 1.5, np.nan])
    for n in (1.0, 2.0, 3.0, 100.0, 5e5, np.nan):
        with np.errstate(all="ignore"):
            want = stats.f.sf(r2 * (n - 2) / (1 - r2), 1, n - 1)
        assert np.array_equal(get_p_from_r2n(r2, n), want, equal_nan=True), n
    assert isinstance(get_p_from_r2n(0.01, 1000.0), np.floating)
    p = np.array([0.0, 1e-300, 1e-20, 0.3, 1.0])
    assert np.array_equal(_qf_df1_upper(p, np.full(5, 5e5)), stats.chi2.isf(p, 1))
    z, pz = r_test_independent(np.array([50.0, 1e6]), np.array([60.0, 1e6]),
                               np.array([0.1, 0.3]), np.array([0.2, 0.1]))
    assert np.array_equal(pz, 2 * stats.norm.sf(z))
