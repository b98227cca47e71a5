"""The weighted median of bootstrap replicates with and without the compiled kernel: bit for bit.

``weighted_median`` of a replicates x SNPs block hands the arithmetic after numpy's
sort to numba when it is installed (mrbook.rmath._median_jit). Every median, and
so every bootstrap standard error, must be the numpy path's exactly (NaN results
stay NaN).
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import pleiotropic_pair
from conftest import rrng_available as _rrng_available
from mrbook.estimators import Params
from mrbook.estimators import median as md
from mrbook.rmath import density as rd
from mrbook.rmath import jit as rj
from mrbook.rmath.rng import make_rng

jit = rd.jit_kernel("median")
needs_numba = pytest.mark.skipif(jit is None, reason="numba is not installed (or MRBOOK_JIT=0)")


def _numpy_only(monkeypatch):
    monkeypatch.setitem(rj._JIT, "median", None)
    assert rd.jit_kernel("median") is None


def _cases(n=600, seed=5):
    """Blocks of replicates with ties, NaN, inf, zero weights, all-zero and per-row weights;
    some of more than 128 SNPs (numpy sums their weights in halves)."""
    g = np.random.default_rng(seed)
    for trial in range(n):
        m, k = int(g.integers(1, 40)), int(g.integers(1, 120 if trial % 19 else 700))
        b = g.normal(size=(m, k))
        if trial % 5 == 0:
            b = np.round(b, 1)                                      # ties
        if trial % 7 == 0:
            b[g.random((m, k)) < 0.05] = np.nan
        if trial % 11 == 0:
            b[g.random((m, k)) < 0.05] = np.inf
        w = g.exponential(size=k)
        if trial % 3 == 0:
            w[g.random(k) < 0.2] = 0.0
        if trial % 13 == 0:
            w = np.zeros(k)
        if trial % 17 == 0:
            w = g.exponential(size=(m, k))
        yield b, w


@needs_numba
def test_compiled_weighted_median_equals_numpy(monkeypatch):
    compiled = [md.weighted_median(b, w) for b, w in _cases()]
    _numpy_only(monkeypatch)
    with np.errstate(all="ignore"):
        plain = [md.weighted_median(b, w) for b, w in _cases()]
    for a, c in zip(compiled, plain):
        assert np.array_equal(a, c, equal_nan=True)
        assert np.array_equal(np.isnan(a), np.isnan(c))


@needs_numba
@pytest.mark.parametrize("kind", ["numpy", pytest.param("r", marks=pytest.mark.skipif(
    not _rrng_available(), reason="R's generator is not available"))])
def test_bootstrap_medians_identical(monkeypatch, kind):
    """The three median estimators' SEs (the penalised one sorts twice) with and without numba."""
    bx, by, sx, sy = pleiotropic_pair()
    p = Params(nboot=500)
    funcs = (md.mr_weighted_median, md.mr_simple_median, md.mr_penalised_weighted_median)
    with_jit = [f(bx, by, sx, sy, p, make_rng(3, kind)) for f in funcs]
    _numpy_only(monkeypatch)
    without = [f(bx, by, sx, sy, p, make_rng(3, kind)) for f in funcs]
    assert with_jit == without


@needs_numba
def test_weight_totals_are_numpys_sums():
    """The kernel's total of the ordered weights is numpy's ``sum`` bit for bit (numpy's
    pairwise summation: blocks of 8 partial sums, halves beyond 128 values)."""
    g = np.random.default_rng(11)
    for k in [*range(0, 300), 511, 1000, 1001, 4097]:
        for a in (g.exponential(size=k), np.exp(g.normal(0, 10, k)), g.standard_cauchy(k),
                  np.full(k, -0.0)):
            got, want = jit._pairwise_sum(a, k), a.sum()
            assert np.array_equal(np.array(got).view(np.int64), np.array(want).view(np.int64))
