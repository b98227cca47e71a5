"""robustbase's lmrob() reproduced (mrbook.rmath.lmrob), R's optimize() and R's rexp().

The MM-fits are checked against R through MendelianRandomization's robust IVW and
MR-Egger (tests/estimators/test_extended.py); these tests pin the pieces.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from mrbook.rmath import lmrob as L
from mrbook.rmath.generator import RRNG
from mrbook.rmath.optimize import brent_fmin, r_optimize


def test_rexp_is_rs():
    # set.seed(1); rexp(3) in R prints 0.7551818 1.1816428 0.1457067; and by hand: the first
    # uniform u = 0.2655087 doubles to 0.531 (add ln 2), then to 1.062 > 1: ln 2 + (4u - 1)
    g = RRNG(1)
    u = RRNG(1).unif_rand(1)[0]
    assert g.rexp(3) == pytest.approx([0.7551818, 1.1816428, 0.1457067], abs=5e-8)
    assert RRNG(1).exp_rand() == np.log(2) + (4 * u - 1)
    assert RRNG(7).rexp(4, rate=2.0) == pytest.approx(RRNG(7).rexp(4) / 2, rel=1e-15)


def test_permutation_prefix_is_sample_noreplace():
    """robustbase's sample_noreplace (MASS lqs.c): j = (int)(nn * u); x[i] = II[j]; II[j] = II[--nn]."""
    U = RRNG(3).unif_rand(40 * 9).reshape(40, 9)
    full = np.array([L._full_perm(u) for u in U])
    assert sorted(full[0]) == list(range(9))
    for q in (1, 2, 4):
        assert (L._perm_prefix(U, q) == full[:, :q]).all()


@pytest.mark.parametrize("p", [1, 2, 3])
def test_vectorised_subsamples_equal_robustbases_subsample(p):
    """The candidate of every resample, vectorised, equals subsample() run row by row (LU with
    partial pivoting on the equilibrated design), including resamples that meet a singular
    pair and walk on through their permutation."""
    g = np.random.default_rng(p)
    n = 15
    X = np.column_stack([np.ones(n), np.round(g.uniform(0.01, 0.03, n), 3), g.normal(size=n)])[:, :p]
    X[3] = X[4]                                  # duplicated rows: singular pairs do occur
    y = g.normal(size=n)
    Xe, R, C, rowequ, colequ = L._equilibrate(X)
    U = RRNG(9).unif_rand(200 * n).reshape(200, n)
    got = L._candidates(Xe, y, U, R, C, rowequ, colequ, 1e-7)
    want = np.array([L._subsample_one(Xe, y, L._full_perm(u), R, C, rowequ, colequ, 1e-7) for u in U])
    assert np.array_equal(got, want)
    # and every candidate fits its p rows exactly
    assert np.allclose(np.sort(np.abs(y[:, None] - X @ got.T), axis=0)[:p], 0, atol=1e-10)


def test_lmrob_basics():
    g = np.random.default_rng(5)
    n = 60
    x = g.normal(size=n)
    y = 1.0 + 2.0 * x + g.normal(scale=0.5, size=n)
    y[:6] += 15.0                                 # 10% gross outliers
    X = np.column_stack([np.ones(n), x])
    fit = L.lmrob(X, y, rng=RRNG(1))
    assert fit.converged and not fit.notes
    assert fit.coef == pytest.approx([1.0, 2.0], abs=0.3)
    ols = np.linalg.lstsq(X, y, rcond=None)[0]
    assert abs(ols[0] - 1.0) > 1.0                # least squares is pulled away by the outliers
    assert np.all(fit.se > 0) and fit.cov.shape == (2, 2) and 0.3 < fit.scale < 0.8
    # equivariance: y -> a y + X b shifts the coefficients and scales the SE (same subsamples)
    b = np.array([0.5, -1.0])
    moved = L.lmrob(X, 3.0 * y + X @ b, rng=RRNG(1))
    assert moved.coef == pytest.approx(3.0 * fit.coef + b, rel=1e-7)
    assert moved.se == pytest.approx(3.0 * fit.se, rel=1e-6)
    # prior weights are sqrt(w) on the rows: w = 4 everywhere changes nothing
    assert L.lmrob(X, y, np.full(n, 4.0), rng=RRNG(1)).coef == pytest.approx(fit.coef, rel=1e-12)


def test_exact_fit_gives_scale_zero():
    """More than half of the points on a line: robustbase's S-step returns that line with scale 0."""
    x = np.arange(10.0)
    y = 2.0 * x
    y[:3] += [5.0, -4.0, 7.0]
    fit = L.lmrob(np.column_stack([np.ones(10), x]), y, rng=RRNG(2))
    assert fit.scale == 0.0 and fit.coef == pytest.approx([0.0, 2.0], abs=1e-12)
    assert np.all(fit.se == 0)


def test_brent_fmin_follows_rs_steps():
    """R's optimize: where the minimum is sharp it agrees with scipy's bounded Brent to rounding;
    its stopping point is the one R's code reaches (|x - m| <= 2 tol1 - (b - a)/2)."""
    f = lambda x: (x - 0.7) ** 2 + 0.1 * np.cos(3 * x)   # noqa: E731
    tol = np.finfo(float).eps ** 0.5
    x = brent_fmin(f, -2.0, 3.0, tol)
    ref = optimize.minimize_scalar(f, bounds=(-2.0, 3.0), method="bounded",
                                   options={"xatol": tol}).x
    assert x == pytest.approx(ref, abs=1e-7)
    assert r_optimize(lambda v: -f(v), -2.0, 3.0, maximum=True, tol=tol) == x
    # the default tolerance is eps^0.25, as R's optimize()
    assert abs(r_optimize(f, -2.0, 3.0) - x) < 1e-3
