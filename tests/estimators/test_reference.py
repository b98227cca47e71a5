"""Parity of the engine with TwoSampleMR 0.7.9 on every case of ../shared/reference.

The reference numbers were produced by the R run described in
../shared/reference/CONVENTIONS.md (TwoSampleMR commit c14776b, R 4.2.2, seed
1234 set before ``mr()`` and before each ``per_method`` call). Every folder with a
``twosamplemr.json`` is picked up, so a new case needs no new test code.

Tolerances: deterministic outputs to a relative 1e-10 (R accumulates sums in
long double and fits ``lm`` by Householder QR; the closed forms here differ by
~1e-15). Bootstrap standard errors with numpy's generator are compared with R's,
and both are random: the medians' SE is the standard deviation of B = 1000
replicates, whose relative standard error is 1/sqrt(2(B-1)) = 2.2 %, so the
ratio of two independent ones has a relative SD of about 3.2 %; the modes' SE is
the MAD of the replicates, whose relative standard error is sqrt(1.36/B) = 3.7 %
(asymptotic variance of the MAD under normality), 5.2 % for the ratio. We allow
four of those: 13 % (medians) and 21 % (modes). With ``rng="r"`` (R's own
generator) they must agree to 1e-10 as well.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from conftest import case_params, load_reference, reference_cases, rrng_available
from mrbook.analysis import heterogeneity, leaveoneout, pleiotropy, run_mr, singlesnp
from mrbook.estimators import METHODS, Params
from mrbook.data.tsmr import coerce_tsmr, finalise_harmonised, read_harmonised
from mrbook.rmath.rng import make_rng

CASES = reference_cases()
REL = 1e-10
MC_REL_SD = 0.13   # medians: SD of the bootstrap replicates
MC_REL_MAD = 0.21  # modes: MAD of the bootstrap replicates
STOCHASTIC_METHODS = {m.name for m in METHODS.values() if m.stochastic}


def mc_rel(method: str) -> float:
    """Monte-Carlo tolerance for a bootstrap SE (see the module docstring)."""
    return MC_REL_MAD if "mode" in method.lower() else MC_REL_SD


def close(a, b, rel=REL):
    if a is None or b is None:
        return (a is None or (isinstance(a, float) and math.isnan(a))) and \
               (b is None or (isinstance(b, float) and math.isnan(b)))
    if isinstance(a, float) and math.isnan(a):
        return b is None or math.isnan(b)
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=1e-300)


def analysed_data(case) -> pd.DataFrame:
    """The data as TwoSampleMR analysed it (the JSON's harmonised_data, typed)."""
    ref = load_reference(case)
    raw = pd.DataFrame(ref["harmonised_data"])
    raw.index = pd.RangeIndex(2, 2 + len(raw))
    df = coerce_tsmr(raw.astype(object).where(raw.notna(), "NA"))
    return finalise_harmonised(df)


@pytest.fixture(params=case_params(CASES))
def case(request):
    return request.param


def test_harmonised_input_read_as_r_read_it(case):
    ref = load_reference(case)
    csv = ref["meta"]["input"].get("harmonised_csv")
    if not csv:
        pytest.skip("raw exposure+outcome case: harmonisation is tested in test_harmonise.py")
    dat = read_harmonised(case / csv).set_index("SNP")
    for row in ref["harmonised_data"]:
        got = dat.loc[row["SNP"]]
        for col in ("beta.exposure", "se.exposure", "beta.outcome", "se.outcome"):
            assert close(got[col], row[col]), (row["SNP"], col)
        assert bool(got["mr_keep"]) == row["mr_keep"]


def test_mr_table(case):
    ref = load_reference(case)
    dat = analysed_data(case)
    methods = ref["meta"]["mr_method_order"]
    got = run_mr(dat, methods=methods, seed=1234)
    ok = got[got["status"] == "ok"]
    assert sorted(ok["method"]) == sorted(r["method"] for r in ref["mr"])
    for r in ref["mr"]:
        g = ok[(ok["method"] == r["method"]) & (ok["id_exposure"] == r["id.exposure"])].iloc[0]
        assert g["nsnp"] == r["nsnp"]
        assert close(g["b"], r["b"]), r["method"]
        if r["method"] in STOCHASTIC_METHODS:
            assert close(g["se"], r["se"], mc_rel(r["method"])), (r["method"], g["se"], r["se"])
        else:
            assert close(g["se"], r["se"]) and close(g["pval"], r["pval"]), r["method"]
    # methods that cannot run are reported with a reason, not silently dropped
    for _, g in got[got["status"] != "ok"].iterrows():
        assert "needs at least" in g["reason"]


def kept_vectors(case):
    """bx, by, sx, sy of the rows TwoSampleMR analysed (mr_keep)."""
    dat = analysed_data(case)
    keep = dat[dat["mr_keep"]]
    return tuple(keep[c].to_numpy(float) for c in
                 ("beta.exposure", "beta.outcome", "se.exposure", "se.outcome"))


def test_per_method_deterministic(case):
    ref = load_reference(case)
    bx, by, sx, sy = kept_vectors(case)
    compared = 0
    for combo in ref["per_combination"].values():
        for key, r in combo["per_method"].items():
            if key not in METHODS or "error" in r:
                continue
            res = METHODS[key].func(bx, by, sx, sy, Params(), make_rng(1234))
            stochastic = METHODS[key].stochastic
            for field in ("b", "se", "pval", "Q", "Q_df", "Q_pval", "b_i", "se_i", "pval_i"):
                if field not in r or (stochastic and field != "b"):
                    continue
                assert close(res.get(field), r[field]), (key, field, res.get(field), r[field])
                compared += 1
    assert compared > 0 or len(bx) < 2


def bootstrap_references(case, key):
    """The reference's per_method results of ``key`` that have a bootstrap SE."""
    for combo in load_reference(case)["per_combination"].values():
        r = combo["per_method"].get(key)
        if r is not None and r.get("se") is not None:
            yield r


@pytest.mark.parametrize("key", [k for k, m in METHODS.items() if m.stochastic])
def test_per_method_bootstrap_within_monte_carlo_error(case, key):
    bx, by, sx, sy = kept_vectors(case)
    for r in bootstrap_references(case, key):
        res = METHODS[key].func(bx, by, sx, sy, Params(), make_rng(20240101))
        assert close(res["se"], r["se"], mc_rel(key)), (key, res["se"], r["se"])


@pytest.mark.skipif(not rrng_available(), reason="mrbook.rmath.generator is not available")
@pytest.mark.parametrize("key", [k for k, m in METHODS.items() if m.stochastic])
def test_per_method_bootstrap_bit_exact_with_r_generator(case, key):
    bx, by, sx, sy = kept_vectors(case)
    for r in bootstrap_references(case, key):
        res = METHODS[key].func(bx, by, sx, sy, Params(), make_rng(1234, "r"))
        assert close(res["se"], r["se"]), (key, res["se"], r["se"])
        assert close(res["pval"], r["pval"]), (key, res["pval"], r["pval"])


@pytest.mark.skipif(not rrng_available(), reason="mrbook.rmath.generator is not available")
def test_mr_table_bit_exact_with_r_generator(case):
    ref = load_reference(case)
    got = run_mr(analysed_data(case), methods=ref["meta"]["mr_method_order"], seed=1234, rng="r")
    ok = got[got["status"] == "ok"]
    for r in ref["mr"]:
        g = ok[ok["method"] == r["method"]].iloc[0]
        assert close(g["se"], r["se"]) and close(g["pval"], r["pval"]), (r["method"], g["se"], r["se"])


def test_heterogeneity(case):
    ref = load_reference(case)
    got = heterogeneity(analysed_data(case))
    assert len(got) == len(ref["mr_heterogeneity"])
    for r, (_, g) in zip(ref["mr_heterogeneity"], got.iterrows()):
        assert g["method"] == r["method"]
        assert close(g["q"], r["Q"]) and g["q_df"] == r["Q_df"] and close(g["q_pval"], r["Q_pval"])


def test_pleiotropy(case):
    ref = load_reference(case)
    got = pleiotropy(analysed_data(case))
    assert len(got) == len(ref["mr_pleiotropy_test"])
    for r, (_, g) in zip(ref["mr_pleiotropy_test"], got.iterrows()):
        for a, b in (("egger_intercept", "egger_intercept"), ("se", "se"), ("pval", "pval")):
            assert close(g[a], r[b]), (a, g[a], r[b])


@pytest.mark.parametrize("which", ["mr_leaveoneout", "mr_singlesnp"])
def test_leaveoneout_and_singlesnp(case, which):
    ref = load_reference(case)
    fn = leaveoneout if which == "mr_leaveoneout" else singlesnp
    got = fn(analysed_data(case))
    assert list(got["snp"]) == [r["SNP"] for r in ref[which]]  # same rows, same order
    for r, (_, g) in zip(ref[which], got.iterrows()):
        assert close(g["b"], r["b"]) and close(g["se"], r["se"]) and close(g["pval"], r["p"]), r["SNP"]
        assert close(g["samplesize"], r["samplesize"])
