"""The contamination mixture, MR-Lasso, cML-MA-BIC and MBE against MendelianRandomization 0.10.0.

Reference: ../shared/reference/bmi_chd_79snp/mendelianrandomization.json (R 4.2.2,
MendelianRandomization 0.10.0 from its sources, glmnet 4.1-6; see
../shared/reference/EXTENDED.md). Tolerances, and why:

* ConMix, 1e-8 relative (b, ci_low, ci_upp, pval): the estimate and the interval
  are points of the package's grid (``CIMin + i * 0.01``), computed with R's own
  operations in R's order and R's long-double sums, so they are equal unless a
  likelihood ties to the last bit; the P value comes from the same sums.
* MR-Lasso, 1e-6 relative (b, se, pval) and the same valid SNPs: glmnet's
  coordinate descent is followed pass by pass, so the valid set is R's and the
  estimate an IVW fit on it (differences ~1e-15); 1e-6 is the issue's tolerance.
* cML-MA-BIC, 1e-6 relative: R's iterations stop at |theta_old - theta| <= 1e-7 and
  sum in long double; the iterations here are R's, so the results agree to ~1e-13.
* MBE: b to 1e-8 (a point of R's 512-point density grid, reproduced exactly);
  the bootstrap SE within 15 % with numpy's generator (the MAD of 10,000
  replicates has a relative standard error of about 1.2 %, so 15 % is more than
  ten of them: the issue's bound) and to 1e-10 with R's generator at the
  package's seed 314159265.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from conftest import REFERENCE, SKIP_SHARED, rrng_available
from mrbook.analysis import add_odds_ratios, run_mr
from mrbook.cli.main import main
from mrbook.estimators import METHODS, Params
from mrbook.estimators.cml import cml_fits, mr_cml_ma_bic
from mrbook.estimators.lasso import glmnet_mr_lasso_path, mr_lasso
from mrbook.estimators.mbe import mr_mbe
from mrbook.estimators.mixture import mr_conmix, r_seq_by
from mrbook.data.tsmr import read_harmonised
from mrbook.report.tables import mr_results_table
from mrbook.rmath.rng import make_rng

CASE = REFERENCE / "bmi_chd_79snp"
NEEDS_REF = pytest.mark.skipif(not (CASE / "mendelianrandomization.json").is_file(),
                               reason=SKIP_SHARED)
NEW = ["mr_conmix", "mr_lasso", "mr_cml_ma_bic", "mr_mbe"]


def rel(a, b):
    return abs(a - b) / abs(b)


@pytest.fixture(scope="module")
def ref():
    return json.loads((CASE / "mendelianrandomization.json").read_text())["results"]


@pytest.fixture(scope="module")
def data():
    dat = read_harmonised(CASE / "test_commondata_harmonised.csv")
    vecs = tuple(dat[c].to_numpy(float) for c in
                 ("beta.exposure", "beta.outcome", "se.exposure", "se.outcome"))
    return dat, vecs


def smallest_n(dat):
    return float(min(dat["samplesize.exposure"].min(), dat["samplesize.outcome"].min()))


# ------------------------------------------------------------------ parity with R
@NEEDS_REF
def test_conmix_equals_r(ref, data):
    dat, (bx, by, sx, sy) = data
    r = ref["conmix_default"]["value"]
    got = mr_conmix(bx, by, sx, sy)
    assert rel(got["b"], r["Estimate"]) < 1e-8
    assert rel(got["ci_low"], r["CILower"]) < 1e-8 and rel(got["ci_upp"], r["CIUpper"]) < 1e-8
    assert rel(got["pval"], r["Pvalue"]) < 1e-8
    assert rel(got["psi"], r["Psi"]) < 1e-12
    assert [i + 1 for i in np.flatnonzero(got["valid"])] == r["Valid"]
    assert dat["SNP"][got["valid"]].tolist() == r["ValidSNPs"]
    assert got["ci_intervals"] == [(got["ci_low"], got["ci_upp"])]      # one range, as R
    assert not got["ci_at_grid_edge"]
    # the grid and the interval's points, as R's CIRange
    grid = r_seq_by(r["CIMin"], r["CIMax"], r["CIStep"])
    assert grid[0] == r["CIMin"] and grid[-1] <= r["CIMax"]
    inside = grid[(grid >= got["ci_low"] - 1e-12) & (grid <= got["ci_upp"] + 1e-12)]
    assert np.allclose(inside, r["CIRange"], rtol=0, atol=1e-12)


@NEEDS_REF
def test_lasso_equals_r(ref, data):
    dat, (bx, by, sx, sy) = data
    r = ref["lasso_default"]["value"]
    got = mr_lasso(bx, by, sx, sy)
    for k, rk in (("b", "Estimate"), ("se", "StdError"), ("pval", "Pvalue")):
        assert rel(got[k], r[rk]) < 1e-6, k
    assert got["n_valid"] == r["Valid"]
    assert dat["SNP"][got["valid"]].tolist() == r["ValidSNPs"]
    # glmnet's lambda and its coordinate-descent solution at it (RegIntercept), which the
    # exact lasso would give only to ~2e-9: the algorithm, not just the problem, is R's
    assert rel(got["lambda"], r["Lambda"]) < 1e-12
    assert np.max(np.abs(got["intercepts"] - np.array(r["RegIntercept"]))) < 1e-12
    assert rel(got["reg_estimate"], r["RegEstimate"]) < 1e-10


@NEEDS_REF
def test_cml_ma_bic_equals_r(ref, data):
    dat, (bx, by, sx, sy) = data
    r = ref["cML_MA_BIC"]["value"]
    got = mr_cml_ma_bic(bx, by, sx, sy, n=smallest_n(dat))
    for k, rk in (("b", "Estimate"), ("se", "StdError"), ("pval", "Pvalue")):
        assert rel(got[k], r[rk]) < 1e-6, k


@NEEDS_REF
def test_mbe_equals_r(ref, data):
    _, (bx, by, sx, sy) = data
    r = ref["mbe_weighted"]["value"]
    got = mr_mbe(bx, by, sx, sy, Params(), make_rng(7))          # numpy's generator
    assert rel(got["b"], r["Estimate"]) < 1e-8
    assert rel(got["se"], r["StdError"]) < 0.15
    if rrng_available():
        exact = mr_mbe(bx, by, sx, sy, Params(), make_rng(7, "r"))
        assert rel(exact["b"], r["Estimate"]) < 1e-8
        assert rel(exact["se"], r["StdError"]) < 1e-10
        assert rel(exact["pval"], r["Pvalue"]) < 1e-10


@NEEDS_REF
@pytest.mark.parametrize("rng", ["numpy", "r"])
def test_mrbook_mr_json_rows_equal_the_references(ref, tmp_path, capsys, rng):
    """The issue's acceptance command: ``mrbook mr ... --methods ... --json out.json``."""
    if rng == "r" and not rrng_available():
        pytest.skip("mrbook.rmath.generator is not available")
    out = tmp_path / "out.json"
    code = main(["mr", str(CASE / "test_commondata_harmonised.csv"), "--methods",
                 ",".join(NEW), "--json", str(out), "--rng", rng])
    assert code == 0, capsys.readouterr().err
    d = json.loads(out.read_text())
    rows = {r["method"]: r for r in d["mr"]}
    assert list(rows) == ["Contamination mixture", "MR-Lasso", "cML-MA-BIC",
                          "Mode-based estimate (MBE)"]
    assert d["not_run"] == []
    con, rc = rows["Contamination mixture"], ref["conmix_default"]["value"]
    assert con["se"] is None
    for k, rk in (("b", "Estimate"), ("ci_low", "CILower"), ("ci_upp", "CIUpper"),
                  ("pval", "Pvalue")):
        assert rel(con[k], rc[rk]) < 1e-8, k
    for name, key in (("MR-Lasso", "lasso_default"), ("cML-MA-BIC", "cML_MA_BIC")):
        for k, rk in (("b", "Estimate"), ("se", "StdError"), ("pval", "Pvalue")):
            assert rel(rows[name][k], ref[key]["value"][rk]) < 1e-6, (name, k)
        assert "ci_low" not in rows[name]           # b +- z se: no interval of its own
    mbe, rm = rows["Mode-based estimate (MBE)"], ref["mbe_weighted"]["value"]
    assert rel(mbe["b"], rm["Estimate"]) < 1e-8
    assert rel(mbe["se"], rm["StdError"]) < (1e-10 if rng == "r" else 0.15)


# ------------------------------------------------------------- invalid instruments
def simulate_invalid(k=60, n_invalid=18, theta=0.2, seed=1):
    """Summary data in which 30 % of the SNPs have a direct effect on the outcome in the
    direction of their exposure effect (directional pleiotropy, 5-12 outcome SEs)."""
    g = np.random.default_rng(seed)
    true_bx = g.uniform(0.04, 0.12, k) * g.choice([-1, 1], k)
    sx = np.full(k, 0.005)
    sy = g.uniform(0.008, 0.015, k)
    direct = np.zeros(k)
    direct[:n_invalid] = g.uniform(0.05, 0.12, n_invalid) * np.sign(true_bx[:n_invalid])
    bx = true_bx + g.normal(0, sx)
    by = theta * true_bx + direct + g.normal(0, sy)
    return pd.DataFrame({"SNP": [f"rs{i}" for i in range(k)], "beta.exposure": bx,
                         "se.exposure": sx, "beta.outcome": by, "se.outcome": sy, "mr_keep": True,
                         "samplesize.exposure": 300000, "samplesize.outcome": 200000})


@pytest.mark.parametrize("seed", [1, 2, 4])
def test_robust_methods_recover_the_effect_that_ivw_misses(seed):
    res = run_mr(simulate_invalid(seed=seed), ["mr_ivw"] + NEW, seed=seed).set_index("method_key")
    assert (res["status"] == "ok").all()
    ivw = res.loc["mr_ivw"]
    assert ivw["b"] - 0.2 > 0.25 and ivw["b"] - 1.96 * ivw["se"] > 0.2   # biased, CI misses
    for key in ("mr_lasso", "mr_cml_ma_bic", "mr_mbe"):
        r = res.loc[key]
        assert abs(r["b"] - 0.2) < 0.05 and abs(r["b"] - 0.2) < 3 * r["se"], (key, r["b"], r["se"])
    con = res.loc["mr_conmix"]
    assert abs(con["b"] - 0.2) < 0.05 and con["ci_low"] < 0.2 < con["ci_upp"]


# ------------------------------------------------------------------ the row contract
def test_conmix_row_carries_its_interval_and_others_stay_as_before():
    dat = simulate_invalid(seed=3)
    res = run_mr(dat, ["mr_ivw", "mr_egger_regression", "mr_conmix", "mr_lasso"])
    assert list(res.columns[-4:]) == ["ci_low", "ci_upp", "status", "reason"]
    con = res.set_index("method_key").loc["mr_conmix"]
    direct = mr_conmix(*(dat[c].to_numpy() for c in ("beta.exposure", "beta.outcome",
                                                     "se.exposure", "se.outcome")))
    assert (con["b"], con["ci_low"], con["ci_upp"]) == (direct["b"], direct["ci_low"],
                                                       direct["ci_upp"])
    assert math.isnan(con["se"])
    others = res[res["method_key"] != "mr_conmix"]
    assert others["ci_low"].isna().all() and others["ci_upp"].isna().all()
    # add_odds_ratios: the method's own limits; b -+ z se for the others, as before
    t = add_odds_ratios(res).set_index("method_key")
    assert t.loc["mr_conmix", "lo_ci"] == con["ci_low"]
    assert t.loc["mr_conmix", "or_uci95"] == np.exp(con["ci_upp"])
    ivw = t.loc["mr_ivw"]
    z = 1.959963984540054
    assert ivw["lo_ci"] == ivw["b"] - z * ivw["se"] and ivw["or_lci95"] == np.exp(ivw["lo_ci"])
    assert math.isnan(add_odds_ratios(res, level=0.9).set_index("method_key")
                      .loc["mr_conmix", "lo_ci"])                 # no 90 % interval of its own
    table = mr_results_table(res).set_index("method")
    assert table.loc["Contamination mixture", "or_lci95"] == np.exp(con["ci_low"])


def test_cml_needs_a_sample_size_and_takes_the_smallest():
    dat = simulate_invalid(seed=5)
    bx, by, sx, sy = (dat[c].to_numpy() for c in ("beta.exposure", "beta.outcome", "se.exposure",
                                                    "se.outcome"))
    got = run_mr(dat, ["mr_ivw", "mr_cml_ma_bic"]).set_index("method_key").loc["mr_cml_ma_bic"]
    assert got["status"] == "ok"
    assert got["b"] == mr_cml_ma_bic(bx, by, sx, sy, n=200000)["b"]       # min(300000, 200000)
    assert got["b"] != mr_cml_ma_bic(bx, by, sx, sy, n=300000)["b"]
    one = dat.drop(columns="samplesize.outcome")
    assert run_mr(one, ["mr_cml_ma_bic"])["b"].iloc[0] == mr_cml_ma_bic(bx, by, sx, sy,
                                                                         n=300000)["b"]
    none = dat.drop(columns=["samplesize.exposure", "samplesize.outcome"])
    res = run_mr(none, ["mr_ivw", "mr_cml_ma_bic"]).set_index("method_key")
    assert res.loc["mr_ivw", "status"] == "ok"
    assert res.loc["mr_cml_ma_bic", "status"] == "not run"
    assert "sample size" in res.loc["mr_cml_ma_bic", "reason"]
    assert math.isnan(res.loc["mr_cml_ma_bic", "b"])
    nan = dat.assign(**{"samplesize.exposure": np.nan, "samplesize.outcome": np.nan})
    assert run_mr(nan, ["mr_cml_ma_bic"])["status"].iloc[0] == "not run"


def test_too_few_snps_are_reported_not_run():
    dat = simulate_invalid(k=2, n_invalid=0)
    res = run_mr(dat, NEW)
    assert (res["status"] == "not run").all()
    assert res["reason"].str.contains("needs at least 3 SNPs").all()


def test_mbe_draws_leave_the_shared_stream_alone():
    """MBE seeds its own generator (mr_mbe's set.seed(314159265)): the bootstrap SEs of
    the other methods do not depend on whether it runs, and its own SE not on --seed."""
    dat = simulate_invalid(k=20, seed=6)
    p = Params(nboot=100)
    a = run_mr(dat, ["mr_weighted_median", "mr_mbe"], p, seed=3).set_index("method_key")
    b = run_mr(dat, ["mr_weighted_median"], p, seed=3).set_index("method_key")
    c = run_mr(dat, ["mr_mbe"], p, seed=99).set_index("method_key")
    assert a.loc["mr_weighted_median", "se"] == b.loc["mr_weighted_median", "se"]
    assert a.loc["mr_mbe", "se"] == c.loc["mr_mbe", "se"]
    bx, by, sx, sy = (dat[k].to_numpy() for k in ("beta.exposure", "beta.outcome", "se.exposure",
                                                    "se.outcome"))
    own = mr_mbe(bx, by, sx, sy, p, make_rng(5), iterations=300, seed=None)   # the stream given
    again = mr_mbe(bx, by, sx, sy, p, make_rng(5), iterations=300, seed=None)
    assert own["se"] == again["se"] and own["b"] == a.loc["mr_mbe", "b"]


# ------------------------------------------------------------ ConMix with its grid
def conmix_grid(bx, by, sy, step=0.01):
    """A grid that does not depend on the allele coding: every SNP's ratio -+ 2 se."""
    r, s = by / bx, np.abs(sy / bx)
    return dict(ci_min=float(np.min(r - 2 * s)), ci_max=float(np.max(r + 2 * s)), ci_step=step)


def test_conmix_invariances_with_the_grid_given():
    dat = simulate_invalid(k=30, n_invalid=8, seed=8)
    bx, by, sx, sy = (dat[c].to_numpy() for c in ("beta.exposure", "beta.outcome", "se.exposure",
                                                    "se.outcome"))
    grid = conmix_grid(bx, by, sy)
    a = mr_conmix(bx, by, sx, sy, **grid)
    flip = np.where(np.arange(bx.size) % 3 == 0, -1.0, 1.0)
    b = mr_conmix(bx * flip, by * flip, sx, sy, **grid)
    assert (a["b"], a["ci_low"], a["ci_upp"], a["pval"]) == (b["b"], b["ci_low"], b["ci_upp"],
                                                             b["pval"])
    perm = np.random.default_rng(1).permutation(bx.size)
    c = mr_conmix(bx[perm], by[perm], sx[perm], sy[perm], **grid)
    assert c["b"] == a["b"] and np.array_equal(c["valid"], a["valid"][perm])
    assert math.isclose(c["pval"], a["pval"], rel_tol=1e-12)
    k = 4.0                                   # exposure in other units: the grid scales too
    scaled = {key: v / k for key, v in grid.items()}
    d = mr_conmix(bx * k, by, sx * k, sy, **scaled)
    assert math.isclose(d["b"], a["b"] / k, rel_tol=1e-9)
    assert math.isclose(d["ci_upp"], a["ci_upp"] / k, rel_tol=1e-9)
    assert math.isclose(d["pval"], a["pval"], rel_tol=1e-9)
    # R's default grid starts at min((by - 2 sy)/bx), which moves with the coding
    assert mr_conmix(bx, by, sx, sy)["b"] - a["b"] < 0.01


def test_conmix_interval_can_be_a_union():
    """Two clusters of ratio estimates: the likelihood has two modes, and the interval
    two pieces (R's CILower/CIUpper vectors); the row carries their hull."""
    g = np.random.default_rng(0)
    k = 24
    bx = g.uniform(0.05, 0.1, k)
    ratio = np.where(np.arange(k) < 13, 0.5, 0.8) + g.normal(0, 0.005, k)
    sy = np.full(k, 0.006)
    res = mr_conmix(bx, ratio * bx, np.full(k, 0.004), sy)
    pieces = res["ci_intervals"]
    assert len(pieces) == 2
    assert pieces[0][1] < pieces[1][0]
    assert (res["ci_low"], res["ci_upp"]) == (pieces[0][0], pieces[-1][1])
    assert any(lo <= res["b"] <= up for lo, up in pieces)


def test_r_seq_by_is_r_seq():
    assert r_seq_by(0.0, 1.0, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert r_seq_by(-1.0, 1.0, 0.3).tolist() == [-1.0 + i * 0.3 for i in range(7)]
    assert r_seq_by(2.0, 2.0, 0.1).tolist() == [2.0]


# ------------------------------------------------------- MR-Lasso: glmnet's algorithm
def glmnet_reference_path(x, y, nlambda=100, lmr=1e-4, thr=1e-7):
    """glmnet's covariance-mode lasso path written plainly (its own bookkeeping: the
    gradient of every coordinate updated after each move), as an independent check."""
    n, p = x.shape
    v = np.sqrt(np.full(n, 1.0 / n))
    yv = v * y
    ys = math.sqrt(yv @ yv)
    yt = yv / ys
    X = v[:, None] * x
    xv = (X * X).sum(0)
    xbq = (v @ X) ** 2
    vc = xv - xbq
    xs = np.sqrt(vc)
    X = X / xs
    xv = 1.0 + xbq / vc
    g = X.T @ yt
    alf = lmr ** (1.0 / (nlambda - 1))
    a = np.zeros(p)
    new_coord = np.ones(p, dtype=bool)
    ia, C = [], {}
    rsq, iz, alm = 0.0, 0, 0.0
    lams, betas = [], []

    def move(k, lam):
        nonlocal rsq
        ak = a[k]
        u = g[k] + ak * xv[k]
        d = abs(u) - lam
        a[k] = math.copysign(d, u) / xv[k] if d > 0 else 0.0
        return a[k] - ak

    for m in range(nlambda):
        alm = 9.9e35 if m == 0 else (np.max(np.abs(g)) * alf if m == 1 else alm * alf)
        rsq0, jz = rsq, 1
        while True:
            if not (iz and jz):
                dlx = 0.0
                for k in range(p):
                    d = move(k, alm)
                    if d == 0:
                        continue
                    if new_coord[k]:
                        new_coord[k] = False
                        ia.append(k)
                        C[k] = X.T @ X[:, k]
                    rsq += d * (2.0 * (g[k]) - d * xv[k])
                    dlx = max(xv[k] * d * d, dlx)
                    g -= C[k] * d
                if dlx < thr:
                    break
            iz = 1
            before = a[ia].copy()
            while True:
                dlx = 0.0
                for k in ia:
                    d = move(k, alm)
                    if d == 0:
                        continue
                    rsq += d * (2.0 * g[k] - d * xv[k])
                    dlx = max(xv[k] * d * d, dlx)
                    g[ia] -= C[k][ia] * d
                if dlx < thr:
                    break
            moved = a[ia] - before
            g[new_coord] -= (moved @ np.array([C[k] for k in ia]))[new_coord]
            jz = 0
        lams.append(alm)
        betas.append(a.copy())
        if m + 1 >= 5 and ((rsq - rsq0) / rsq < 1e-5 or rsq > 0.999):
            break
    lams = ys * np.array(lams)
    lams[0] = math.exp(2 * math.log(lams[1]) - math.log(lams[2]))
    return lams, np.array(betas) * (ys / xs)


def mr_lasso_design(bx, by, sy):
    Bx, By = np.abs(bx), by * np.sign(bx)
    s = np.power(np.power(sy, -2.0), 0.5)
    b = s * Bx
    btb = b @ b
    x = np.diag(s) - np.outer(b, b * s) / btb
    y = s * By - b * (b @ (s * By)) / btb
    return x, y, s, b / math.sqrt(btb)


@pytest.mark.parametrize("seed", range(12))
def test_lasso_path_is_glmnets(seed):
    """The O(1)-per-update path equals glmnet's own bookkeeping: the same lambdas, the
    same path length and the same zeros at every lambda (coefficients to ~1e-15)."""
    g = np.random.default_rng(seed)
    k = int(g.integers(8, 45))
    true_bx = g.uniform(0.03, 0.12, k) * g.choice([-1, 1], k)
    sy = g.uniform(0.008, 0.02, k)
    direct = np.zeros(k)
    m = int(g.integers(0, k // 2))
    direct[:m] = g.normal(0.02, 0.03, m)
    bx = true_bx + g.normal(0, 0.006, k)
    by = 0.3 * true_bx + direct + g.normal(0, sy)
    x, y, s, q = mr_lasso_design(bx, by, sy)
    lam_ref, beta_ref = glmnet_reference_path(x, y)
    lam, beta, _ = glmnet_mr_lasso_path(x, y, s, q)
    assert lam.size == lam_ref.size
    assert np.allclose(lam, lam_ref, rtol=1e-13, atol=0)
    assert np.array_equal(beta == 0, beta_ref == 0)
    assert np.max(np.abs(beta - beta_ref)) < 1e-12


def test_lasso_with_a_given_lambda():
    dat = simulate_invalid(k=30, n_invalid=8, seed=9)
    bx, by, sx, sy = (dat[c].to_numpy() for c in ("beta.exposure", "beta.outcome", "se.exposure",
                                                    "se.outcome"))
    chosen = mr_lasso(bx, by, sx, sy)
    fixed = mr_lasso(bx, by, sx, sy, lambda_=chosen["lambda"])
    # glmnet at one lambda starts from zero, not from the path: the same zeros here
    assert np.array_equal(fixed["valid"], chosen["valid"])
    assert math.isclose(fixed["b"], chosen["b"], rel_tol=1e-12)
    huge = mr_lasso(bx, by, sx, sy, lambda_=1e6)                   # every SNP valid: IVW
    ivw = METHODS["mr_ivw"].func(np.abs(bx), by * np.sign(bx), sx, sy)
    assert huge["n_valid"] == bx.size and math.isclose(huge["b"], ivw["b"], rel_tol=1e-12)


# --------------------------------------------------------- cML: R's iterations, vectorised
def cml_estimate_r(b_exp, b_out, se_exp, se_out, K, maxit=100):
    """R's cML_estimate and cML_SdTheta for one K, line by line (the reference)."""
    p = b_exp.size
    theta, theta_old, mu, ite = 0.0, -1.0, np.zeros(p), 0
    v_bg = np.zeros(p)
    while abs(theta_old - theta) > 1e-7 and ite < maxit:
        theta_old = theta
        ite += 1
        v_bg = np.zeros(p)
        if K > 0:
            imp = (b_out - theta * mu) ** 2 / se_out ** 2
            idx = np.sort(np.argsort(-imp, kind="stable")[:K])
            v_bg[idx] = (b_out - theta * mu)[idx]
        mu = (b_exp / se_exp ** 2 + theta * (b_out - v_bg) / se_out ** 2) / \
            (1 / se_exp ** 2 + theta ** 2 / se_out ** 2)
        theta = np.sum((b_out - v_bg) * mu / se_out ** 2) / np.sum(mu ** 2 / se_out ** 2)
    if K > 0:
        nz = v_bg != 0
        mu[nz] = b_exp[nz]
        v_bg[nz] = (b_out - theta * mu)[nz]
    neg_l = np.sum((b_exp - mu) ** 2 / (2 * se_exp ** 2)) + \
        np.sum((b_out - theta * mu - v_bg) ** 2 / (2 * se_out ** 2))
    z = v_bg == 0
    inner = (2 * mu * theta - b_out) ** 2 / se_out ** 4 / (1 / se_exp ** 2 + theta ** 2 / se_out ** 2)
    var = 1 / (np.sum((mu ** 2 / se_out ** 2)[z]) - np.sum(inner[z]))
    return theta, (math.sqrt(var) if var > 0 else math.nan), neg_l


@pytest.mark.parametrize("seed", [0, 1])
def test_cml_fits_follow_r_for_every_k(seed):
    dat = simulate_invalid(k=25, n_invalid=6, seed=seed)
    bx, by, sx, sy = (dat[c].to_numpy() for c in ("beta.exposure", "beta.outcome", "se.exposure",
                                                    "se.outcome"))
    theta, se, neg_l, _ = cml_fits(bx, by, sx, sy)
    for K in range(bx.size - 1):
        t, s, nl = cml_estimate_r(bx, by, sx, sy, K)
        assert math.isclose(theta[K], t, rel_tol=1e-9, abs_tol=1e-12), K
        assert math.isclose(neg_l[K], nl, rel_tol=1e-9), K
        assert (math.isnan(se[K]) and math.isnan(s)) or math.isclose(se[K], s, rel_tol=1e-8), K


@pytest.mark.parametrize("seed", [0, 3, 7])
def test_cml_models_left_out_do_not_change_the_result(seed):
    """Models whose BIC weight is provably below e^-100 are not fitted: the same result."""
    dat = simulate_invalid(k=40, n_invalid=10, seed=seed)
    bx, by, sx, sy = (dat[c].to_numpy() for c in ("beta.exposure", "beta.outcome", "se.exposure",
                                                    "se.outcome"))
    for n in (500.0, 20000.0, 1e6):
        fast = mr_cml_ma_bic(bx, by, sx, sy, n=n)
        full = mr_cml_ma_bic(bx, by, sx, sy, n=n, all_models=True)
        assert full["models"] == bx.size - 1
        assert math.isclose(fast["b"], full["b"], rel_tol=1e-14)
        assert math.isclose(fast["se"], full["se"], rel_tol=1e-14)


def test_methods_are_registered_for_the_cli_and_the_book():
    from mrbook.estimators import resolve_methods
    from mrbook.params import validate

    assert validate({"methods": NEW}, partial=True)["methods"] == NEW     # the book's parameter
    specs = resolve_methods(NEW)
    assert [s.name for s in specs] == ["Contamination mixture", "MR-Lasso", "cML-MA-BIC",
                                       "Mode-based estimate (MBE)"]
    assert not any(s.default for s in specs)
    assert [s.key for s in specs if s.interval] == ["mr_conmix"]
    assert [s.key for s in specs if s.needs_samplesize] == ["mr_cml_ma_bic"]
