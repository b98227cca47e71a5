"""Ground floor: random number sources for bootstrap standard errors (numpy's or R's generator).

Every stochastic estimator draws through one object with R's calling conventions,
so that the same code can run on numpy's PCG64 (the default) or on an exact
reproduction of R's generator (``kind="r"``: Mersenne-Twister seeded as
``set.seed`` does, Inversion normals, Rejection sampling), which makes bootstrap
standard errors equal TwoSampleMR's at the same seed.

The contract (``BootstrapRNG``):

``rnorm(n, mean, sd)``
    ``n`` normal draws with R's ``rnorm`` semantics: ``mean`` and ``sd`` are
    recycled to length ``n`` and draw ``i`` uses ``mean[i % len(mean)]``.
``runif(n)``
    ``n`` uniforms on (0, 1).
``sample(n, size)``
    ``size`` distinct 0-based indices out of ``range(n)`` without replacement,
    as R's ``sample(n, size)`` (minus one).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .jit import jit_kernel


class BootstrapRNG(Protocol):
    """The interface every random source of mrbook implements."""

    kind: str

    def rnorm(self, n: int, mean, sd) -> np.ndarray: ...

    def runif(self, n: int) -> np.ndarray: ...

    def sample(self, n: int, size: int | None = None) -> np.ndarray: ...


def _recycle(x, n: int) -> np.ndarray:
    x = np.asarray(x, dtype=float).ravel()
    if x.size == n:
        return x
    if x.size == 0:
        raise ValueError("cannot recycle an empty vector")
    return np.resize(x, n)


class NumpyRNG:
    """numpy ``Generator`` (PCG64) behind the R-style interface.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``.
    """

    kind = "numpy"

    def __init__(self, seed: int):
        self.seed = int(seed)
        self._gen = np.random.default_rng(self.seed)

    def rnorm(self, n: int, mean=0.0, sd=1.0) -> np.ndarray:
        # Generator.normal(loc, scale) computes loc + scale * standard_normal() draw by
        # draw; drawing the standard normals in one call and scaling afterwards gives
        # the same numbers (the same stream) without its slow per-element broadcasting
        one = np.ndim(mean) == 0 and np.ndim(sd) == 0
        sd = float(sd) if one else _recycle(sd, n)
        if np.any(sd < 0):
            raise ValueError("scale < 0")
        jit = jit_kernel("rng")
        if jit is not None and int(n) > 0:
            z = np.empty(int(n))
            jit.standard_normals(self._gen, z)      # the same draws, compiled (_rng_jit)
        else:
            z = self._gen.standard_normal(int(n))
        if one and sd == 1.0 and float(mean) == 0.0:
            return z                                  # 0 + 1 * z is z
        z *= sd
        z += float(mean) if one else _recycle(mean, n)
        return z

    def runif(self, n: int) -> np.ndarray:
        return self._gen.random(n)

    def sample(self, n: int, size: int | None = None) -> np.ndarray:
        size = n if size is None else size
        return self._gen.permutation(n)[:size]


def rnorm_each(rng, mean, sd, each: int) -> np.ndarray:
    """R's ``rnorm(k * each, rep(mean, each = each), rep(sd, each = each))`` as a (k, each) array.

    The bootstrap estimators draw ``each`` replicates per SNP this way (row ``j`` holds
    SNP ``j``'s draws, in drawing order). The values and the stream are those of
    ``rng.rnorm`` on the repeated vectors; for numpy's generator the repeated
    vectors are never built (the same ``z * sd + mean`` per draw, broadcast), which
    saves two arrays of ``k * each`` numbers per call, and with numba installed the
    draws are made by compiled code (:mod:`mrbook.rmath._rng_jit`: the same stream,
    three times as fast).
    """
    mean = np.asarray(mean, dtype=float).ravel()
    sd = np.asarray(sd, dtype=float).ravel()
    k, each = mean.size, int(each)
    if isinstance(rng, NumpyRNG) and sd.size == k:
        if np.any(sd < 0):
            raise ValueError("scale < 0")
        jit = jit_kernel("rng")
        if jit is not None and each > 0:
            # the same draws and arithmetic in compiled code (mrbook.rmath._rng_jit)
            z = np.empty((k, each))
            jit.normal_each(rng._gen, mean, sd, z)
            return z
        z = rng._gen.standard_normal(k * each).reshape(k, each)
        z *= sd[:, None]
        z += mean[:, None]
        return z
    return np.asarray(rng.rnorm(k * each, np.repeat(mean, each), np.repeat(sd, each))).reshape(k, each)


RNG_KINDS = ("numpy", "r")


def make_rng(seed: int, kind: str = "numpy") -> BootstrapRNG:
    """Return a seeded random source.

    Parameters
    ----------
    seed : int
        The seed (R: the argument of ``set.seed``).
    kind : {"numpy", "r"}
        ``"numpy"`` for numpy's PCG64; ``"r"`` for R's own Mersenne-Twister
        with Inversion normals, identical to R after ``set.seed(seed)``.
    """
    if kind == "numpy":
        return NumpyRNG(seed)
    if kind == "r":
        from .generator import RRNG

        return RRNG(seed)
    raise ValueError(f"unknown rng kind {kind!r}; known: {', '.join(RNG_KINDS)}")
