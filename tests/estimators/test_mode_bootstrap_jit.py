"""The mode bootstrap with and without the compiled kernel: the same numbers, bit for bit.

``_mode_rows`` computes the bootstrap bandwidths and modes with numba when it is
installed (mrbook.rmath._mode_jit) and with numpy (``_boot_bandwidth``,
``DensityBatch``) otherwise. The bandwidths must be bit-identical, and since both
paths give R's FFT mode for every replicate, so must every estimate and standard
error.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import pleiotropic_pair
from conftest import rrng_available as _rrng_available
from mrbook.estimators.mode import (MODE_METHODS, _boot_bandwidth, _r_median_rows, mr_mode_all,
                                    mr_mode_joint)
from mrbook.estimators import Params
from mrbook.rmath import density as rd
from mrbook.rmath import jit as rj
from mrbook.rmath.rng import make_rng, rnorm_each

jit = rd.jit_kernel()
needs_numba = pytest.mark.skipif(jit is None, reason="numba is not installed (or MRBOOK_JIT=0)")


@needs_numba
@pytest.mark.parametrize("k", [3, 4, 7, 8, 79, 80, 1000])
def test_compiled_bandwidths_bit_identical(k):
    """sd, mad (odd and even k) and the Silverman rule as _boot_bandwidth computes them,
    on replicates drawn as the bootstrap draws them (columns of a k x nboot matrix)."""
    g = np.random.default_rng(k)
    B = rnorm_each(make_rng(k), g.normal(0, 1, k), g.uniform(0.01, 2.0, k), 500)
    for sl in (slice(0, 500), slice(100, 116)):
        xt = B[:, sl]
        x = np.ascontiguousarray(xt.T)
        for phi in (1.0, 0.5):
            assert np.array_equal(_boot_bandwidth(xt, x, phi, jit), _boot_bandwidth(xt, x, phi))


@needs_numba
def test_bandwidths_of_odd_replicates_equal_numpy():
    """Even k whose middle values need a long-double mean, NaN, inf and constant rows:
    the compiled sd with numpy's medians equals the numpy path exactly."""
    X = np.array([[0.0, 1e-20, 1.0, 5.0], [0.0, 0.25, 1.0, 5.0], [np.nan, 0.1, 0.2, 0.3],
                  [np.inf, 0.1, 0.2, 0.3], [2.0, 2.0, 2.0, 2.0]])
    XT = np.ascontiguousarray(X.T)
    with np.errstate(invalid="ignore"):
        got, want = _boot_bandwidth(XT, X, 1.0, jit), _boot_bandwidth(XT, X, 1.0)
    assert np.array_equal(got, want, equal_nan=True)


@needs_numba
@pytest.mark.parametrize("k", [3, 4, 5, 6, 45, 46, 511, 512])
def test_compiled_mads_of_tied_replicates(k):
    """Replicates with many ties, zeros and signed zeros (the merged absolute deviations
    meet equal values from both sides): the bandwidths equal numpy's exactly."""
    g = np.random.default_rng(k)
    for X in (g.integers(-3, 4, (300, k)).astype(float), np.round(g.normal(0, 1, (300, k)), 1),
              g.choice([-0.0, 0.0, 1.0], (300, k)), 1e3 * g.standard_cauchy((300, k))):
        XT = np.ascontiguousarray(X.T)
        assert np.array_equal(_boot_bandwidth(XT, X, 1.0, jit), _boot_bandwidth(XT, X, 1.0))


@pytest.mark.parametrize("k", [1, 2, 5, 46, 51, 512, 513, 514, 1001])
def test_median_rows_equal_partition(k):
    """R's median of rows, by sorting (k <= 512) or one partition, equals the two-kth
    partition's middle values (up to the sign of a zero median)."""
    g = np.random.default_rng(k)
    for X in (g.normal(0, 1, (200, k)), g.integers(-2, 3, (200, k)).astype(float)):
        half = (k + 1) // 2
        part = np.partition(X, half - 1 if k % 2 else (half - 1, half), axis=1)
        want = part[:, half - 1] if k % 2 else \
            ((part[:, half - 1].astype(np.longdouble) + part[:, half]) / 2).astype(float)
        for inplace in (False, True):
            got = _r_median_rows(X.copy(), inplace=inplace)
            assert np.array_equal(got, want) and np.array_equal(np.abs(got), np.abs(want))


@needs_numba
@pytest.mark.parametrize("kind", ["numpy", "r"])
def test_mode_rows_identical_with_and_without_numba(monkeypatch, kind):
    """All five mode rows (and the joint simple + weighted run) with numba equal the
    numpy path's, bit for bit, on BMI -> CHD-like data at nboot 300."""
    if kind == "r" and not _rrng_available():
        pytest.skip("mrbook.rmath.generator is not available")
    bx, by, sx, sy = pleiotropic_pair()
    p = Params(nboot=300)
    with_jit = mr_mode_all(bx, by, sx, sy, p, make_rng(7, kind))
    joint = mr_mode_joint(bx, by, sx, sy, p, make_rng(7, kind), ["Simple mode", "Weighted mode"])
    monkeypatch.setattr(rj, "_JIT", {"mode": None, "median": None, "rng": None})
    assert rd.jit_kernel() is None
    without = mr_mode_all(bx, by, sx, sy, p, make_rng(7, kind))
    joint0 = mr_mode_joint(bx, by, sx, sy, p, make_rng(7, kind), ["Simple mode", "Weighted mode"])
    assert [r["method"] for r in with_jit] == list(MODE_METHODS)
    assert with_jit == without
    assert joint == joint0
