"""MR-PRESSO against MR-PRESSO 1.0 (rondolab/MR-PRESSO@3e3c92d, R/mr_presso.R).

Reference numbers: ../shared/reference/*/twosamplemr.json, ``per_combination[*]["mr_presso"]``,
produced by ``mr_presso(..., OUTLIERtest = TRUE, DISTORTIONtest = TRUE, NbDistribution = 1000)``
after ``set.seed(1234)`` on the ``mr_keep`` rows (see CONVENTIONS.md).

Deterministic parts (RSSobs, the per-SNP observed residuals, "Raw" and, when the outlier set
is the same, "Outlier-corrected" and the distortion coefficient) must agree to 1e-10 relative.
Empirical p-values with numpy's generator are Monte-Carlo quantities: a p from N = 1000 draws
has standard error sqrt(p(1-p)/N); we accept |p - p_R| <= 4.5 * sqrt(p̄(1-p̄)/N) + 2/N
(p̄ the larger of the two, on the un-corrected scale for the outlier test). With R's own
generator (``make_rng(1234, "r")``) they must agree exactly.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import pytest

from conftest import case_params, load_reference, reference_cases
from mrbook.sensitivity.presso import PressoNotRun, format_empirical_pvalue, mr_presso
from mrbook.rmath.rng import make_rng

REL = 1e-10
N_DIST = 1000


def _has_rrng() -> bool:
    try:
        make_rng(1, "r")
    except Exception:
        return False
    return True


def _case_data(case, ref) -> pd.DataFrame:
    inp = ref["meta"]["input"]
    if "harmonised_csv" in inp:
        dat = pd.read_csv(case / inp["harmonised_csv"])
    else:
        dat = pd.DataFrame(ref["harmonised_data"])
    return dat[dat["mr_keep"].astype(bool)].reset_index(drop=True)


def _combo(ref):
    (key, combo), = ref["per_combination"].items()
    return combo


def _run(dat, rng):
    return mr_presso(dat["beta.exposure"], dat["beta.outcome"], dat["se.exposure"],
                     dat["se.outcome"], snps=dat["SNP"], n_distribution=N_DIST, rng=rng)


def _mc_close(p, p_ref, n=N_DIST):
    pbar = max(p, p_ref)
    return abs(p - p_ref) <= 4.5 * math.sqrt(pbar * (1 - pbar) / n) + 2.0 / n


def _rel(a, b):
    return abs(a - b) <= REL * max(abs(b), 1e-300)


CASES = reference_cases()


@pytest.mark.parametrize("case", case_params(CASES))
def test_presso_matches_reference(case):
    ref = load_reference(case)
    combo = _combo(ref)
    presso_ref = combo["mr_presso"]
    dat = _case_data(case, ref)
    seed = int(ref["meta"].get("seed", 1234))
    if "error" in presso_ref:
        with pytest.raises(PressoNotRun) as err:
            _run(dat, make_rng(seed))
        assert str(err.value) == presso_ref["error"]
        return
    res = _run(dat, make_rng(seed))

    # deterministic: RSSobs and the Raw fit
    assert _rel(res["global_test"]["rss_obs"], presso_ref["global_test"]["RSSobs"])
    raw_ref, corr_ref = presso_ref["main_mr_results"]
    raw = res["main"].set_index("analysis").loc["Raw"]
    for ours, theirs in [("b", "Causal Estimate"), ("se", "Sd"), ("t_stat", "T-stat"),
                         ("pval", "P-value")]:
        assert _rel(raw[ours], raw_ref[theirs]), ours

    # global p within Monte-Carlo error
    assert _mc_close(res["global_test"]["pval"], presso_ref["global_test"]["Pvalue_numeric"])

    # outlier test: observed residuals exact, p within MC error on the raw scale
    ot_ref = presso_ref.get("outlier_test")
    if ot_ref is None or res["outlier_test"] is None:
        return
    k = res["nsnp"]
    ot = res["outlier_test"].merge(pd.DataFrame(ot_ref), left_on="snp", right_on="SNP")
    assert len(ot) == k
    for _, row in ot.iterrows():
        assert _rel(row["rss_obs"], row["RSSobs"]), row["snp"]
        # un-correct the Bonferroni: values at the cap 1 mean "raw p >= 1/k"
        p, p_ref = min(row["pval"] / k, 1 / k), min(row["Pvalue_numeric"] / k, 1 / k)
        assert _mc_close(p, p_ref), (row["snp"], row["pval"], row["Pvalue_numeric"])

    # outlier-corrected and distortion: deterministic when the outlier set is the same
    dist_ref = presso_ref.get("distortion_test")
    dist = res["distortion_test"]
    if dist_ref is None or dist is None:
        return
    same_set = list(dist["outliers_indices"]) == list(np.atleast_1d(dist_ref["outliers_indices"]))
    if same_set and dist["outliers_indices"]:
        corr = res["main"].set_index("analysis").loc["Outlier-corrected"]
        for ours, theirs in [("b", "Causal Estimate"), ("se", "Sd"), ("t_stat", "T-stat"),
                             ("pval", "P-value")]:
            assert _rel(corr[ours], corr_ref[theirs]), ours
        assert _rel(dist["distortion_coefficient"], dist_ref["distortion_coefficient"])
        assert _mc_close(dist["pval"], dist_ref["Pvalue_numeric"])


@pytest.mark.skipif(not _has_rrng(), reason="mrbook.rmath.generator (R's generator) not available")
@pytest.mark.parametrize("case", case_params(CASES))
def test_presso_bit_exact_with_r_generator(case):
    ref = load_reference(case)
    presso_ref = _combo(ref)["mr_presso"]
    if "error" in presso_ref:
        pytest.skip("MR-PRESSO not run in the reference (too few SNPs)")
    dat = _case_data(case, ref)
    res = _run(dat, make_rng(int(ref["meta"].get("seed", 1234)), "r"))
    assert res["global_test"]["pval"] == presso_ref["global_test"]["Pvalue_numeric"]
    ot_ref = presso_ref.get("outlier_test")
    if ot_ref is not None:
        ot = res["outlier_test"].merge(pd.DataFrame(ot_ref), left_on="snp", right_on="SNP")
        # the reference p column was printed as text ("0.632", "<0.079"), so allow 1 ulp
        assert np.allclose(ot["pval"], ot["Pvalue_numeric"], rtol=0, atol=1e-12)
    dist_ref = presso_ref.get("distortion_test")
    if dist_ref is not None and res["distortion_test"]["outliers_indices"]:
        assert res["distortion_test"]["outliers_indices"] == list(np.atleast_1d(dist_ref["outliers_indices"]))
        assert res["distortion_test"]["pval"] == dist_ref["Pvalue_numeric"]


# --------------------------------------------------------------------------------------
# a transliteration of the R code (loops, scalar draws) must give the same answer
# --------------------------------------------------------------------------------------

def _presso_loop(bx, by, sx, sy, n_dist, rng, thr=0.05):
    """MR-PRESSO written the way R/mr_presso.R is: one SNP and one draw at a time."""
    s = np.sign(bx)
    bx, by = bx * s, by * s
    w = 1 / sy ** 2
    k = len(bx)

    def loo(x, y):
        return np.array([np.sum(np.delete(x * y, i)) / np.sum(np.delete(x * x, i)) for i in range(k)])

    sw = np.sqrt(w)
    b_loo = loo(bx * sw, by * sw)
    rss_obs = np.sum((by * sw - b_loo * bx * sw) ** 2)
    sims = []
    for _ in range(n_dist):
        bxr = rng.rnorm(k, bx, sx)
        byr = np.array([rng.rnorm(1, b_loo[i] * bx[i], sy[i])[0] for i in range(k)])
        sims.append((bxr, byr))
    rss_exp = []
    for bxr, byr in sims:
        bl = loo(bxr * sw, byr * sw)
        rss_exp.append(np.sum((byr * sw - bl * bxr * sw) ** 2))
    p_global = np.sum(np.array(rss_exp) > rss_obs) / n_dist
    dif = (by - bx * b_loo) ** 2
    p_out = np.array([np.sum([(byr[i] - bxr[i] * b_loo[i]) ** 2 > dif[i] for bxr, byr in sims])
                      for i in range(k)]) / n_dist
    p_out = np.minimum(p_out * k, 1)
    ref = np.flatnonzero(p_out <= thr)
    pool = np.setdiff1d(np.arange(k), ref)
    b_all = np.sum(w * bx * by) / np.sum(w * bx * bx)
    keep = np.setdiff1d(np.arange(k), ref)
    b_no = np.sum((w * bx * by)[keep]) / np.sum((w * bx * bx)[keep])
    bias = []
    for _ in range(n_dist):
        picks = [pool[rng.sample(len(pool), len(pool))[0]] for _ in range(k - len(ref))]
        idx = np.concatenate([ref, picks])[: k - len(ref)].astype(int)
        b = np.sum((w * bx * by)[idx]) / np.sum((w * bx * bx)[idx])
        bias.append((b_all - b) / abs(b))
    bias_obs = (b_all - b_no) / abs(b_no)
    p_dist = np.sum(np.abs(bias) > abs(bias_obs)) / n_dist
    return p_global, p_out, ref, p_dist


@pytest.mark.skipif(not _has_rrng(), reason="mrbook.rmath.generator (R's generator) not available")
def test_vectorised_draw_order_equals_r_loops():
    g = np.random.default_rng(7)
    k = 12
    bx = g.uniform(0.05, 0.15, k) * g.choice([-1, 1], k)
    sx = np.full(k, 0.01)
    sy = np.full(k, 0.01)
    by = 0.4 * bx + g.normal(0, 0.01, k)
    by[3] += 0.12 * np.sign(bx[3])  # one strong outlier so that every test runs
    n_dist = 200
    p_global, p_out, ref, p_dist = _presso_loop(bx, by, sx, sy, n_dist, make_rng(99, "r"))
    res = mr_presso(bx, by, sx, sy, n_distribution=n_dist, rng=make_rng(99, "r"))
    assert res["global_test"]["pval"] == p_global
    assert p_global < 0.05
    np.testing.assert_array_equal(res["outlier_test"]["pval"].to_numpy(), p_out)
    assert res["distortion_test"]["outliers_indices"] == [int(i) + 1 for i in ref]
    assert res["distortion_test"]["pval"] == p_dist


# --------------------------------------------------------------------------------------
# behaviour
# --------------------------------------------------------------------------------------

def _simulated(seed=2024, n_valid=30, n_pleio=4):
    g = np.random.default_rng(seed)
    k = n_valid + n_pleio
    bx = g.uniform(0.03, 0.12, k) * g.choice([-1, 1], k)
    sx = g.uniform(0.004, 0.008, k)
    sy = g.uniform(0.006, 0.012, k)
    by = 0.3 * bx + g.normal(0, sy)
    planted = np.arange(n_valid, k)
    by[planted] += 0.08 * np.sign(bx[planted])  # strong directional pleiotropy
    snps = [f"rs{1000 + i}" for i in range(k)]
    return bx, by, sx, sy, snps, [snps[i] for i in planted]


def test_simulated_pleiotropy_is_detected():
    bx, by, sx, sy, snps, planted = _simulated()
    res = mr_presso(bx, by, sx, sy, snps=snps, rng=make_rng(20240601))
    assert res["global_test"]["pval"] < 0.05
    flagged = set(res["distortion_test"]["outliers"])
    assert set(planted) <= flagged
    assert len(flagged) <= len(planted) + 1
    corr = res["main"].set_index("analysis").loc["Outlier-corrected"]
    assert abs(corr["b"] - 0.3) < abs(res["main"].set_index("analysis").loc["Raw", "b"] - 0.3)


def test_no_pleiotropy_no_outlier_test():
    g = np.random.default_rng(5)
    k = 25
    bx = g.uniform(0.05, 0.1, k)
    sx = np.full(k, 0.005)
    sy = np.full(k, 0.01)
    by = 0.2 * bx + g.normal(0, 0.01, k)
    res = mr_presso(bx, by, sx, sy, rng=make_rng(3))
    assert res["global_test"]["pval"] > 0.05
    assert res["outlier_test"] is None and res["distortion_test"] is None
    assert res["main"]["b"].isna().tolist() == [False, True]
    assert any("No outlier" in w for w in res["warnings"])


def test_raw_is_weighted_regression_through_origin():
    bx, by, sx, sy, snps, _ = _simulated(seed=11)
    res = mr_presso(bx, by, sx, sy, rng=make_rng(1), outlier_test=False)
    s = np.sign(bx)
    x, y, w = bx * s, by * s, 1 / sy ** 2
    b = np.sum(w * x * y) / np.sum(w * x * x)
    sigma = math.sqrt(np.sum(w * (y - b * x) ** 2) / (len(x) - 1))
    raw = res["main"].iloc[0]
    assert raw["b"] == pytest.approx(b, rel=1e-12)
    assert raw["se"] == pytest.approx(sigma / math.sqrt(np.sum(w * x * x)), rel=1e-12)


def test_orientation_and_missing_rows():
    bx, by, sx, sy, snps, _ = _simulated(seed=3)
    base = mr_presso(bx, by, sx, sy, snps=snps, rng=make_rng(8))
    flip = np.ones_like(bx)
    flip[::3] = -1
    bx2 = np.append(bx * flip, np.nan)
    by2 = np.append(by * flip, 0.1)
    other = mr_presso(bx2, by2, np.append(sx, 0.01), np.append(sy, 0.01),
                      snps=snps + ["rsNA"], rng=make_rng(8))
    assert other["nsnp"] == len(bx)
    assert other["global_test"] == base["global_test"]
    pd.testing.assert_frame_equal(other["main"], base["main"])


@pytest.mark.parametrize("k", [1, 2, 3])
def test_too_few_snps(k):
    g = np.random.default_rng(k)
    with pytest.raises(PressoNotRun, match="Not enough intrumental variables"):
        mr_presso(g.normal(size=k), g.normal(size=k), np.ones(k), np.ones(k), rng=make_rng(1))


def test_k_not_below_n_distribution():
    g = np.random.default_rng(0)
    with pytest.raises(PressoNotRun, match="increase NbDistribution"):
        mr_presso(g.normal(size=10), g.normal(size=10), np.ones(10), np.ones(10),
                  n_distribution=10, rng=make_rng(1))


def test_format_empirical_pvalue():
    assert format_empirical_pvalue(0.0, 1000) == "<0.001"
    assert format_empirical_pvalue(0.0, 1000, k=79) == "<0.079"
    assert format_empirical_pvalue(0.557, 1000) == "0.557"


def test_speed_79_snps():
    bx, by, sx, sy, snps, _ = _simulated(seed=1, n_valid=75, n_pleio=4)
    mr_presso(bx, by, sx, sy, rng=make_rng(1))  # warm-up
    t0 = time.perf_counter()
    mr_presso(bx, by, sx, sy, rng=make_rng(2), distortion_test=False)
    assert time.perf_counter() - t0 < 0.5  # typically ~10 ms
