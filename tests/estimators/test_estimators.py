"""Estimator behaviour: recovery of a known causal effect, pleiotropy detection,
and invariances that any correct MR estimator has (hypothesis property tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mrbook.analysis import pleiotropy, run_mr
from mrbook.estimators import METHODS, Params, resolve_methods
from mrbook.errors import ParameterError
from mrbook.rmath.rng import make_rng

FIVE = ["mr_ivw", "mr_egger_regression", "mr_weighted_median", "mr_simple_mode", "mr_weighted_mode"]
#: robust MR-Egger's estimate depends on the random subsamples (pairs of SNPs) that start lmrob's
#: S-step, so it is equivariant only to lmrob's convergence tolerances: its invariances are tested
#: with those tolerances in test_extended.py
START_DEPENDENT = {"mr_egger_robust"}
MULTI = [k for k, m in METHODS.items() if m.min_snps >= 2 and k not in START_DEPENDENT]
#: what the methods beyond TwoSampleMR need here: cML's sample size, and fewer MBE
#: replicates (its point estimate, the value these tests compare, does not use them)
EXTRA = {"mr_cml_ma_bic": {"n": 10000}, "mr_mbe": {"iterations": 50}}
#: estimates on a grid of fixed absolute step whose start depends on the allele coding
#: (R's CIMin = min((by - 2 sy)/bx)): not invariant to flips or scaling as R computes
#: them; tests/estimators/test_conmix_lasso_cml_mbe.py checks them with the grid given
GRID = {"mr_conmix"}
#: absolute tolerance under scaling where an iteration stops at an absolute tolerance:
#: cML's fits stop once |theta_old - theta| <= 1e-7, so the iterations (and the point
#: where they stop) differ between scales; the fixed point is reached to about 1e-6
SCALE_ATOL = {"mr_cml_ma_bic": 2e-6}


def simulate(k=80, theta=0.3, alpha=0.0, seed=1, n_pleio=0, pleio=0.0):
    """Summary statistics with causal effect ``theta``, optional directional pleiotropy.

    ``alpha`` adds the same direct effect to every SNP (InSIDE holds: Egger's
    intercept should find it); ``n_pleio`` SNPs get an extra direct effect ``pleio``.
    """
    g = np.random.default_rng(seed)
    true_bx = g.uniform(0.03, 0.12, k) * g.choice([-1, 1], k)
    sx = np.full(k, 0.006)
    sy = np.full(k, 0.012)
    direct = np.full(k, alpha) * np.sign(true_bx)
    direct[:n_pleio] += pleio
    bx = true_bx + g.normal(0, sx)
    by = theta * true_bx + direct + g.normal(0, sy)
    return pd.DataFrame({"SNP": [f"rs{i}" for i in range(k)], "beta.exposure": bx, "se.exposure": sx,
                         "beta.outcome": by, "se.outcome": sy, "mr_keep": True})


def test_five_methods_recover_a_known_causal_effect():
    dat = simulate(theta=0.3)
    res = run_mr(dat, methods=[m for m in FIVE if m in METHODS], seed=7, params=Params(nboot=500))
    assert (res["status"] == "ok").all()
    for _, r in res.iterrows():
        # each estimate within 3 of its own standard errors of the truth, and close in absolute terms
        assert abs(r["b"] - 0.3) < 3 * r["se"], (r["method"], r["b"], r["se"])
        assert abs(r["b"] - 0.3) < 0.1, r["method"]
        assert r["pval"] < 1e-3


def test_egger_intercept_detects_planted_directional_pleiotropy():
    clean = pleiotropy(simulate(alpha=0.0, seed=3)).iloc[0]
    pleio = pleiotropy(simulate(k=150, alpha=0.02, seed=3)).iloc[0]
    assert clean["pval"] > 0.05
    assert pleio["pval"] < 1e-4 and abs(pleio["egger_intercept"] - 0.02) < 4 * pleio["se"]
    # and Egger's slope still recovers the effect while IVW is biased
    res = run_mr(simulate(k=150, alpha=0.02, seed=3), methods=["mr_ivw", "mr_egger_regression"])
    egger = res.set_index("method_key").loc["mr_egger_regression"]
    ivw = res.set_index("method_key").loc["mr_ivw"]
    assert abs(egger["b"] - 0.3) < 3 * egger["se"]
    assert abs(ivw["b"] - 0.3) > abs(egger["b"] - 0.3)


MODES = ["mr_simple_mode", "mr_weighted_mode", "mr_weighted_mode_nome", "mr_simple_mode_nome",
         "mr_penalised_mode"]


def test_numpy_stream_modes_share_one_mr_mode_run():
    """With numpy's generator run_mr takes every mode row from ONE mr_mode() run
    (shared draws, as TwoSampleMR's mr_mode() computes them): the rows equal
    mr_mode_all's on a stream at the same position, whatever other modes are asked for."""
    from mrbook.estimators.mode import mr_mode_all

    dat = simulate(k=30, seed=5)
    bx, by, sx, sy = (dat[c].to_numpy() for c in ("beta.exposure", "beta.outcome", "se.exposure",
                                                     "se.outcome"))
    params = Params(nboot=200)
    stream = make_rng(21)
    METHODS["mr_weighted_median"].func(bx, by, sx, sy, params, stream)   # runs first in run_mr
    ref = {r["method"]: r for r in mr_mode_all(bx, by, sx, sy, params, stream)}
    res = run_mr(dat, ["mr_weighted_median"] + MODES, params, seed=21).set_index("method")
    for name, r in ref.items():
        assert (res.loc[name, "b"], res.loc[name, "se"], res.loc[name, "pval"]) == \
            (r["b"], r["se"], r["pval"]), name
    alone = run_mr(dat, ["mr_weighted_median", "mr_weighted_mode"], params, seed=21)
    assert alone.set_index("method").loc["Weighted mode", "se"] == res.loc["Weighted mode", "se"]
    # the two modes' standard errors come from the same replicates, yet differ
    assert res.loc["Simple mode", "se"] != res.loc["Weighted mode", "se"]


def test_r_stream_modes_draw_one_by_one_as_mr():
    """With R's generator every mode method reruns mr_mode() (new draws), as mr() does."""
    dat = simulate(k=12, seed=6)
    bx, by, sx, sy = (dat[c].to_numpy() for c in ("beta.exposure", "beta.outcome", "se.exposure",
                                                     "se.outcome"))
    params = Params(nboot=40)
    stream = make_rng(8, "r")
    want = [METHODS[k].func(bx, by, sx, sy, params, stream) for k in MODES]
    res = run_mr(dat, MODES, params, seed=8, rng="r")
    assert res["se"].tolist() == [w["se"] for w in want]


def test_unknown_method_lists_known_ones():
    with pytest.raises(ParameterError, match="known methods: .*mr_ivw"):
        resolve_methods(["mr_ivw", "nonsense"])
    assert [m.key for m in resolve_methods(["Inverse variance weighted"])] == ["mr_ivw"]


# ---------------------------------------------------------------- properties
arrays = st.integers(min_value=6, max_value=25).flatmap(
    lambda k: st.tuples(st.just(k), st.integers(0, 2**31 - 1)))


def data_from(k, seed):
    d = simulate(k=k, seed=seed, alpha=0.002)
    return tuple(d[c].to_numpy() for c in ("beta.exposure", "beta.outcome", "se.exposure", "se.outcome"))


def estimate(key, bx, by, sx, sy, seed=11):
    return METHODS[key].func(bx, by, sx, sy, Params(nboot=50), make_rng(seed), **EXTRA.get(key, {}))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrays, st.data())
def test_swapping_effect_allele_changes_no_estimate(ks, data):
    k, seed = ks
    bx, by, sx, sy = data_from(k, seed)
    flip = np.array(data.draw(st.lists(st.booleans(), min_size=k, max_size=k)))
    s = np.where(flip, -1.0, 1.0)
    for key in MULTI:
        if key in GRID:
            continue
        a = estimate(key, bx, by, sx, sy)
        b = estimate(key, bx * s, by * s, sx, sy)
        assert np.isclose(a["b"], b["b"], rtol=1e-9, atol=1e-12), key
        if not METHODS[key].stochastic:
            assert np.isclose(a["se"], b["se"], rtol=1e-9), key


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrays, st.floats(min_value=0.05, max_value=20))
def test_scaling_exposure_scales_estimate_inversely(ks, c):
    k, seed = ks
    bx, by, sx, sy = data_from(k, seed)
    for key in MULTI:
        if key == "mr_sign" or key in GRID:
            continue
        a = estimate(key, bx, by, sx, sy)
        b = estimate(key, bx * c, by, sx * c, sy)
        atol = SCALE_ATOL.get(key, 1e-14)
        assert np.isclose(b["b"], a["b"] / c, rtol=1e-8, atol=atol), (key, a["b"], b["b"], c)
        if not METHODS[key].stochastic:
            assert np.isclose(b["se"], a["se"] / c, rtol=1e-8, atol=SCALE_ATOL.get(key, 1e-8)), key


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrays, st.randoms(use_true_random=False))
def test_row_order_does_not_matter(ks, rnd):
    k, seed = ks
    bx, by, sx, sy = data_from(k, seed)
    perm = list(range(k))
    rnd.shuffle(perm)
    for key in MULTI:
        a = estimate(key, bx, by, sx, sy)
        b = estimate(key, bx[perm], by[perm], sx[perm], sy[perm])
        assert np.isclose(a["b"], b["b"], rtol=1e-9, atol=1e-14), key
        if not METHODS[key].stochastic:
            # (equal_nan: the contamination mixture has no standard error)
            assert np.isclose(a["se"], b["se"], rtol=1e-9, equal_nan=True), key


def test_leave_one_out_running_sums_equal_direct_fits():
    """Above _LOO_DIRECT_MAX SNPs leave-one-out uses running sums (O(k)); its fits equal the
    fits on each k - 1 SNPs to rounding (b and se to 1e-13 relative, p to 1e-10: p of
    |z| ~ 30 amplifies a relative error in z by z^2), outliers included."""
    from mrbook import analysis

    for k, outlier in ((7, False), (300, True), (1200, False)):
        g = np.random.default_rng(k)
        bx = g.uniform(0.02, 0.2, k) * g.choice([-1, 1], k)
        sy = g.uniform(0.002, 0.03, k)
        by = 0.3 * bx + g.normal(0, sy) * 2.0
        if outlier:
            by[3] += 1.0
        direct = analysis._ivw_leave_one_out_direct(bx, by, sy)
        sums = analysis._ivw_leave_one_out_sums(bx, by, sy)
        for d, s, rel in zip(direct, sums, (1e-13, 1e-13, 1e-10)):
            assert np.allclose(s, d, rtol=rel, atol=0), (k, np.max(np.abs(s / d - 1)))


def test_rnorm_each_is_rnorm_of_repeated_vectors():
    """rnorm_each draws rnorm(k * each, rep(mean, each = each), rep(sd, each = each)):
    the same numbers and the same stream position, for both generators."""
    from mrbook.rmath.rng import rnorm_each

    mean, sd = np.array([0.1, -2.0, 5.0]), np.array([1.0, 0.5, 3.0])
    for kind in ("numpy", "r"):
        a, b = make_rng(11, kind), make_rng(11, kind)
        got = rnorm_each(a, mean, sd, 40)
        want = b.rnorm(120, np.repeat(mean, 40), np.repeat(sd, 40)).reshape(3, 40)
        assert np.array_equal(got, want)
        assert np.array_equal(a.rnorm(5), b.rnorm(5))
    with pytest.raises(ValueError):
        rnorm_each(make_rng(1), mean, -sd, 4)
