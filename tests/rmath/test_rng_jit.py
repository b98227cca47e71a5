"""numpy's normal draws made by compiled code (mrbook.rmath._rng_jit): the same stream.

The bootstrap estimators draw ``nboot`` replicates per SNP through ``rnorm_each``;
with numba installed the draws are made by numba's port of numpy's ziggurat on
the generator's own PCG64. Every value, and the generator's state afterwards,
must be numpy's.
"""

from __future__ import annotations

import numpy as np
import pytest

from mrbook.rmath import jit as rj
from mrbook.rmath.rng import make_rng, rnorm_each

kernel = rj.jit_kernel("rng")
needs_numba = pytest.mark.skipif(kernel is None, reason="numba is not installed (or MRBOOK_JIT=0)")


@needs_numba
@pytest.mark.parametrize("k,each", [(1, 1), (3, 7), (79, 1000), (1000, 50), (2, 300_000)])
def test_compiled_draws_are_numpys(k, each):
    g = np.random.default_rng(k * 1000 + each)
    mean, sd = g.normal(0, 1, k), g.uniform(0.0, 2.0, k)
    sd[0] = 0.0                                           # a zero SE draws its mean
    a, b = np.random.default_rng(7), np.random.default_rng(7)
    got = np.empty((k, each))
    kernel.normal_each(a, mean, sd, got)
    want = b.standard_normal(k * each).reshape(k, each)
    want *= sd[:, None]
    want += mean[:, None]
    assert np.array_equal(got, want)
    assert a.bit_generator.state == b.bit_generator.state
    assert np.array_equal(a.standard_normal(5), b.standard_normal(5))


@needs_numba
def test_rnorm_each_with_and_without_numba(monkeypatch):
    g = np.random.default_rng(3)
    mean, sd = g.normal(0, 1, 79), g.uniform(0.01, 1.0, 79)
    r1 = make_rng(11)
    with_jit = [rnorm_each(r1, mean, sd, n) for n in (1000, 1, 0, 17)]
    monkeypatch.setitem(rj._JIT, "rng", None)
    r2 = make_rng(11)
    without = [rnorm_each(r2, mean, sd, n) for n in (1000, 1, 0, 17)]
    for a, b in zip(with_jit, without):
        assert a.shape == b.shape and np.array_equal(a, b)
    assert r1._gen.bit_generator.state == r2._gen.bit_generator.state


@needs_numba
def test_rnorm_with_and_without_numba(monkeypatch):
    """NumpyRNG.rnorm (MR-PRESSO, MBE, the multivariable bootstrap): scalar and recycled
    mean and sd, the standard normal shortcut, n = 0."""
    g = np.random.default_rng(4)
    mean, sd = g.normal(0, 1, 7), g.uniform(0.01, 1.0, 7)
    calls = [(1000, 0.0, 1.0), (5, 2.0, 0.5), (70, mean, sd), (0, 0.0, 1.0), (13, mean, 2.0)]
    r1 = make_rng(21)
    with_jit = [r1.rnorm(*c) for c in calls]
    monkeypatch.setitem(rj._JIT, "rng", None)
    r2 = make_rng(21)
    without = [r2.rnorm(*c) for c in calls]
    for a, b in zip(with_jit, without):
        assert a.shape == b.shape and np.array_equal(a, b)
    assert r1._gen.bit_generator.state == r2._gen.bit_generator.state
