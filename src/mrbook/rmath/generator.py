"""Ground floor: R's default random number generator (Mersenne-Twister, Inversion), bit for bit.

After ``RRNG(seed)`` the draws equal those R (>= 3.6.0, default
``RNGkind("Mersenne-Twister", "Inversion", "Rejection")``) gives after
``set.seed(seed)``:

* the seed scrambling of ``set.seed`` and the Mersenne-Twister stream
  (R's ``src/main/RNG.c``: ``RNG_Init``, ``FixupSeeds``, ``MT_genrand``,
  ``fixup``, ``unif_rand``);
* normals by inversion, two uniforms per normal (``src/nmath/snorm.c``,
  ``norm_rand`` with ``N01_kind == INVERSION``) through Wichura's AS 241
  quantile function (``src/nmath/qnorm.c``, ``qnorm5``);
* ``rnorm``/``runif`` with R's argument recycling and special cases
  (``src/nmath/rnorm.c``, ``src/nmath/runif.c``, ``random2`` in
  ``src/library/stats/src/random.c``);
* ``sample`` with ``sample.kind = "Rejection"`` (``R_unif_index`` and ``rbits``
  in ``src/main/RNG.c``; ``do_sample`` in ``src/main/random.c``).

The 32-bit Mersenne-Twister words come from numpy's ``MT19937`` bit generator,
loaded with the state R builds, so long streams cost no Python-level loop; the
arithmetic on them is vectorised numpy in the same floating-point operation
order as R's C code (numpy's ufuncs round every operation, as C does without
FMA contraction), which makes the results bit-identical.
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np

__all__ = ["RRNG", "qnorm", "r_set_seed_state"]

_MT_N = 624
# RNG.c: MT_genrand returns genrand_int32 * 2^-32 (written 2.3283064365386963e-10).
_TWO_M32 = 2.3283064365386963e-10
# RNG.c: i2_32m1 = 1/(2^32 - 1), used by fixup() for an exact 0.
_I2_32M1 = 2.328306437080797e-10
# snorm.c, INVERSION: BIG = 2^27.
_BIG = 134217728.0
# RNG.c: .Random.seed[1] for Mersenne-Twister + Inversion + Rejection.
_RNG_KIND_CODE = 3 + 100 * 4 + 10000 * 1  # MERSENNE_TWISTER=3, INVERSION=4, REJECTION=1


def r_set_seed_state(seed: int) -> np.ndarray:
    """The 625 ``i_seed`` words R's ``set.seed(seed)`` builds for Mersenne-Twister.

    Reproduces ``RNG_Init`` and ``FixupSeeds`` of R's ``src/main/RNG.c``: the seed
    (an R integer, taken as unsigned 32 bits) is scrambled 50 times by
    ``seed = 69069 * seed + 1`` (mod 2^32), then each of the 625 words gets the next
    value of the same recursion, and word 0 (``mti``) is set to 624.

    Parameters
    ----------
    seed : int
        The argument of ``set.seed``; must be a valid R integer
        (``-2147483647 <= seed <= 2147483647``).

    Returns
    -------
    numpy.ndarray of uint32, length 625
        ``[mti, mt[0], ..., mt[623]]`` (``.Random.seed[-1]`` as unsigned words).
    """
    seed = _check_seed(seed)
    s = seed & 0xFFFFFFFF
    for _ in range(50):
        s = (69069 * s + 1) & 0xFFFFFFFF
    words = np.empty(_MT_N + 1, dtype=np.uint32)
    for j in range(_MT_N + 1):
        s = (69069 * s + 1) & 0xFFFFFFFF
        words[j] = s
    words[0] = _MT_N  # FixupSeeds(kind, initial=1): dummy[0] = mti = N
    return words


@functools.lru_cache(maxsize=32)
def _seed_state_cached(seed: int) -> np.ndarray:
    """:func:`r_set_seed_state`, kept for the last seeds (read-only; callers copy)."""
    words = r_set_seed_state(seed)
    words.setflags(write=False)
    return words


def _check_seed(seed) -> int:
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError("seed must be an integer")
    if isinstance(seed, (float, np.floating)):
        if not math.isfinite(seed):
            raise ValueError("supplied seed is not a valid integer")
        seed = int(seed)  # R's asInteger truncates a double towards 0
    seed = int(seed)
    if not -2147483647 <= seed <= 2147483647:
        # Outside R's integer range asInteger gives NA, which set.seed rejects.
        raise ValueError("supplied seed is not a valid integer")
    return seed


# --- qnorm (AS 241), src/nmath/qnorm.c --------------------------------------


def _horner(r: np.ndarray, coef: tuple) -> np.ndarray:
    """``((r * c0 + c1) * r + c2) * r + ...`` in place, each step rounded as in C."""
    acc = r * coef[0]
    acc += coef[1]
    for c in coef[2:]:
        acc *= r
        acc += c
    return acc


# qnorm.c coefficients, highest power first, exactly as written there.
_A_NUM = (2509.0809287301226727, 33430.575583588128105, 67265.770927008700853,
          45921.953931549871457, 13731.693765509461125, 1971.5909503065514427,
          133.14166789178437745, 3.387132872796366608)
_A_DEN = (5226.495278852854561, 28729.085735721942674, 39307.89580009271061,
          21213.794301586595867, 5394.1960214247511077, 687.1870074920579083,
          42.313330701600911252, 1.)
_C_NUM = (7.7454501427834140764e-4, .0227238449892691845833, .24178072517745061177,
          1.27045825245236838258, 3.64784832476320460504, 5.7694972214606914055,
          4.6303378461565452959, 1.42343711074968357734)
_C_DEN = (1.05075007164441684324e-9, 5.475938084995344946e-4, .0151986665636164571966,
          .14810397642748007459, .68976733498510000455, 1.6763848301838038494,
          2.05319162663775882187, 1.)
_E_NUM = (2.01033439929228813265e-7, 2.71155556874348757815e-5, .0012426609473880784386,
          .026532189526576123093, .29656057182850489123, 1.7848265399172913358,
          5.4637849111641143699, 6.6579046435011037772)
_E_DEN = (2.04426310338993978564e-15, 1.4215117583164458887e-7, 1.8463183175100546818e-5,
          7.868691311456132591e-4, .0148753612908506148525, .13692988092273580531,
          .59983220655588793769, 1.)


def _qnorm_central(q: np.ndarray) -> np.ndarray:
    """|q| <= 0.425 branch of qnorm5: ``q * num(r) / den(r)``, r = .180625 - q*q."""
    r = q * q
    np.subtract(0.180625, r, out=r)
    num = _horner(r, _A_NUM)
    den = _horner(r, _A_DEN)
    # C: val = q * (num) / (den), evaluated left to right.
    num *= q
    num /= den
    return num


def _qnorm_tail_near(r: np.ndarray) -> np.ndarray:
    """r <= 5 branch (min(p, 1-p) >= exp(-25)): ``num(r - 1.6) / den(r - 1.6)``."""
    r = r + -1.6
    num = _horner(r, _C_NUM)
    num /= _horner(r, _C_DEN)
    return num


def _qnorm_tail_far(r: np.ndarray) -> np.ndarray:
    """5 < r < 816 branch (very close to 0 or 1): ``num(r - 5) / den(r - 5)``."""
    r = r + -5.
    num = _horner(r, _E_NUM)
    num /= _horner(r, _E_DEN)
    return num


def _log(x: np.ndarray) -> np.ndarray:
    # The C library's log (what R calls), element by element; numpy's SIMD log
    # may differ from it in the last bit on some CPUs.  Only the tails of qnorm
    # (about 15 % of the draws) take a log.
    return np.fromiter(map(math.log, x.tolist()), dtype=float, count=x.size)


def _qnorm_std(p: np.ndarray) -> np.ndarray:
    """qnorm5(p, 0, 1, lower_tail=TRUE, log_p=FALSE) for p strictly inside (0, 1)."""
    q = p - 0.5
    # The central formula is evaluated everywhere (cheaper than masking) and the
    # tail entries are overwritten below.
    val = _qnorm_central(q)
    tail = np.flatnonzero(np.abs(q) > .425)
    if tail.size:
        qt = q[tail]
        pt = p[tail]
        # r = min(p, 1-p); R_DT_CIv(p) = 0.5 - p + 0.5 for lower_tail, !log_p.
        r = np.where(qt > 0, 0.5 - pt + 0.5, pt)
        r = np.sqrt(-_log(r))
        near = r <= 5.
        if near.all():
            v = _qnorm_tail_near(r)
        else:
            v = np.empty_like(r)
            v[near] = _qnorm_tail_near(r[near])
            # r >= 816 (the R >= 4.3 asymptotic branch) needs log_p = TRUE; with
            # log_p = FALSE, r <= sqrt(-log(5e-324)) < 28.
            v[~near] = _qnorm_tail_far(r[~near])
        np.negative(v, out=v, where=qt < 0.0)
        val[tail] = v
    return val


def qnorm(p, mean=0.0, sd=1.0) -> np.ndarray:
    """R's ``qnorm(p, mean, sd)`` (lower tail, not log), bit for bit.

    Wichura's AS 241 as in R's ``src/nmath/qnorm.c`` (``qnorm5``), vectorised,
    with R's recycling of ``p``, ``mean`` and ``sd``.

    Parameters
    ----------
    p : array_like
        Probabilities.  0 gives -Inf, 1 gives +Inf, outside [0, 1] NaN.
    mean, sd : array_like
        Location and scale; ``sd < 0`` gives NaN, ``sd == 0`` gives ``mean``.

    Returns
    -------
    numpy.ndarray
        ``mean + sd * z`` with ``z`` the standard normal quantile of ``p``.
    """
    p = np.atleast_1d(np.asarray(p, dtype=float)).ravel()
    mu = np.atleast_1d(np.asarray(mean, dtype=float)).ravel()
    sigma = np.atleast_1d(np.asarray(sd, dtype=float)).ravel()
    if min(p.size, mu.size, sigma.size) == 0:
        return np.empty(0)
    n = max(p.size, mu.size, sigma.size)
    p, mu, sigma = (_recycle(a, n, w) for a, w in ((p, 'p'), (mu, 'mean'), (sigma, 'sd')))
    out = np.full(n, np.nan)
    with np.errstate(invalid="ignore"):
        isnan = np.isnan(p) | np.isnan(mu) | np.isnan(sigma)
        out[isnan] = (p + mu + sigma)[isnan]
        ok = ~isnan
        lo = ok & (p == 0)
        hi = ok & (p == 1)
        out[lo] = -np.inf
        out[hi] = np.inf
        inner = ok & (p > 0) & (p < 1)
        bad_sd = inner & (sigma < 0)
        zero_sd = inner & (sigma == 0)
        out[zero_sd] = mu[zero_sd]
        todo = inner & (sigma > 0)
        if bad_sd.any() or (ok & ((p < 0) | (p > 1))).any():
            warnings.warn("NaNs produced", RuntimeWarning, stacklevel=2)
        if todo.any():
            out[todo] = mu[todo] + sigma[todo] * _qnorm_std(p[todo])
    return out


# --- the generator -------------------------------------------------------------


def _recycle(x, n: int, what: str) -> np.ndarray:
    x = np.atleast_1d(np.asarray(x, dtype=float)).ravel()
    if x.size == n:
        return x
    if x.size == 0:
        raise ValueError(f"invalid arguments: '{what}' has length 0")
    if x.size == 1:
        return np.full(n, x[0])
    return np.tile(x, -(-n // x.size))[:n]


def _check_n(n) -> int:
    n_int = int(n)
    if n_int != n or n_int < 0:
        raise ValueError("invalid arguments: n must be a non-negative integer")
    return n_int


class RRNG:
    """R's default generator after ``set.seed(seed)``, bit for bit.

    ``RNGkind`` is R's default since 3.6.0: ``"Mersenne-Twister"``,
    ``"Inversion"``, ``"Rejection"``.  All methods draw from one shared stream in
    call order, as R does, so a sequence of calls gives what the same sequence of
    R calls gives after ``set.seed(seed)``.

    Parameters
    ----------
    seed : int
        The argument of R's ``set.seed`` (an R integer).

    Notes
    -----
    References (R sources): ``src/main/RNG.c`` (``RNG_Init``, ``FixupSeeds``,
    ``MT_genrand``, ``fixup``, ``unif_rand``, ``rbits``, ``R_unif_index``),
    ``src/nmath/snorm.c`` (``norm_rand``, INVERSION), ``src/nmath/qnorm.c``
    (``qnorm5``), ``src/nmath/rnorm.c``, ``src/nmath/runif.c`` and
    ``src/main/random.c`` (``do_sample``).

    Examples
    --------
    >>> RRNG(1).runif(3)            # set.seed(1); runif(3)
    array([0.26550866, 0.3721239 , 0.57285336])
    >>> (RRNG(1).sample(10) + 1).tolist()   # set.seed(1); sample(10)
    [9, 4, 7, 1, 2, 5, 3, 10, 6, 8]
    """

    kind = "r"

    def __init__(self, seed: int):
        self._bg = np.random.MT19937(0)
        self.set_seed(seed)

    # -- state ------------------------------------------------------------------

    def set_seed(self, seed: int) -> None:
        """Reseed as R's ``set.seed(seed)`` does (RNG.c ``RNG_Init``)."""
        words = _seed_state_cached(_check_seed(seed))
        self.seed = _check_seed(seed)
        self._bg.state = {
            "bit_generator": "MT19937",
            "state": {"key": words[1:].copy(), "pos": int(words[0])},
        }

    @property
    def random_seed(self) -> np.ndarray:
        """R's ``.Random.seed`` for the current state (int32, length 626).

        ``[10403, mti, mt[0..623]]``: element 0 encodes the kinds
        (Mersenne-Twister + 100 * Inversion + 10000 * Rejection).
        """
        st = self._bg.state["state"]
        out = np.empty(_MT_N + 2, dtype=np.int64)
        out[0] = _RNG_KIND_CODE
        out[1] = st["pos"]
        out[2:] = np.asarray(st["key"], dtype=np.uint32).view(np.int32)
        return out.astype(np.int32)

    # -- primitive streams --------------------------------------------------------

    def _genrand(self, n: int) -> np.ndarray:
        """``MT_genrand()`` n times: the tempered 32-bit words times 2^-32."""
        raw = self._bg.random_raw(n)  # uint64 holding genrand_int32 outputs
        u = raw.astype(np.float64)  # exact: the words have 32 bits
        u *= _TWO_M32
        return u

    def unif_rand(self, n: int) -> np.ndarray:
        """``n`` calls of R's C-level ``unif_rand()``: uniforms in (0, 1).

        ``fixup(MT_genrand())``: an exact 0 becomes ``0.5 / (2^32 - 1)``.
        (``1 - x <= 0`` cannot happen for Mersenne-Twister.)
        """
        u = self._genrand(_check_n(n))
        zero = np.flatnonzero(u <= 0.0)
        if zero.size:
            u[zero] = 0.5 * _I2_32M1
        return u

    def norm_rand(self, n: int) -> np.ndarray:
        """``n`` calls of R's ``norm_rand()`` with ``N01_kind = INVERSION``.

        Each draw uses two uniforms: ``u = (int)(BIG * u1) + u2`` with
        ``BIG = 2^27``, then ``qnorm5(u / BIG, 0, 1, 1, 0)`` (``snorm.c``).
        """
        n = _check_n(n)
        if n == 0:
            return np.empty(0)
        u = self.unif_rand(2 * n)
        u1 = u[0::2]
        u2 = u[1::2]
        # BIG*u1 is exact (power of two) and positive, so (int) is floor.
        p = (np.floor(_BIG * u1) + u2) / _BIG
        # p can round to exactly 1 (u1, u2 both within 2^-27 of 1): qnorm gives Inf.
        out = np.empty(n)
        inner = p < 1.0
        out[inner] = _qnorm_std(p[inner])
        out[~inner] = np.inf
        return out

    # -- R-level functions --------------------------------------------------------

    def rnorm(self, n: int, mean=0.0, sd=1.0) -> np.ndarray:
        """R's ``rnorm(n, mean, sd)``.

        ``mean`` and ``sd`` are recycled to length ``n`` (draw ``i`` uses
        ``mean[i % len(mean)]``).  Per draw, as ``src/nmath/rnorm.c``: NaN mean,
        non-finite or negative sd give NaN (with a warning, "NAs produced");
        ``sd == 0`` or infinite mean give ``mean``; neither of those consumes
        random numbers.  Otherwise ``mean + sd * norm_rand()``.

        Parameters
        ----------
        n : int
            Number of draws.
        mean, sd : float or array_like
            Recycled as in R.

        Returns
        -------
        numpy.ndarray of float, length n
        """
        n = _check_n(n)
        if n == 0:
            return np.empty(0)
        mu = _recycle(mean, n, "mean")
        sigma = _recycle(sd, n, "sd")
        finite_sigma = np.isfinite(sigma)
        if np.all(finite_sigma) and np.all(sigma > 0) and np.all(np.isfinite(mu)):
            return mu + sigma * self.norm_rand(n)
        with np.errstate(invalid="ignore"):
            nan = np.isnan(mu) | ~finite_sigma | (sigma < 0)
            const = ~nan & ((sigma == 0) | ~np.isfinite(mu))
        draw = ~(nan | const)
        out = np.empty(n)
        out[nan] = np.nan
        out[const] = mu[const]
        k = int(draw.sum())
        if k:
            out[draw] = mu[draw] + sigma[draw] * self.norm_rand(k)
        if nan.any():
            warnings.warn("NAs produced", RuntimeWarning, stacklevel=2)
        return out

    def runif(self, n: int, min=0.0, max=1.0) -> np.ndarray:  # noqa: A002
        """R's ``runif(n, min, max)``.

        ``min``/``max`` are recycled.  Per draw, as ``src/nmath/runif.c``:
        non-finite bounds or ``max < min`` give NaN (with a warning),
        ``min == max`` gives ``min``, neither consuming random numbers;
        otherwise ``min + (max - min) * unif_rand()``.
        """
        n = _check_n(n)
        if n == 0:
            return np.empty(0)
        a = _recycle(min, n, "min")
        b = _recycle(max, n, "max")
        with np.errstate(invalid="ignore"):
            nan = ~np.isfinite(a) | ~np.isfinite(b) | (b < a)
            const = ~nan & (a == b)
        draw = ~(nan | const)
        out = np.empty(n)
        out[nan] = np.nan
        out[const] = a[const]
        k = int(draw.sum())
        if k:
            out[draw] = a[draw] + (b[draw] - a[draw]) * self.unif_rand(k)
        if nan.any():
            warnings.warn("NAs produced", RuntimeWarning, stacklevel=2)
        return out

    def _unif1(self) -> float:
        x = self._bg.random_raw() * _TWO_M32
        return x if x > 0.0 else 0.5 * _I2_32M1

    def _rbits(self, bits: int) -> int:
        """RNG.c ``rbits``: a random integer below 2^bits from 16-bit chunks."""
        v = 0
        for _ in range(0, bits + 1, 16):
            v = (65536 * v + math.floor(self._unif1() * 65536)) & 0xFFFFFFFFFFFFFFFF
        return v & ((1 << bits) - 1)

    def unif_index(self, dn: int) -> int:
        """RNG.c ``R_unif_index(dn)`` with ``Sample_kind = REJECTION``.

        A uniform integer in ``[0, dn)``: draw ``rbits(ceil(log2(dn)))`` until it is
        below ``dn``.  ``dn <= 0`` gives 0 without drawing.
        """
        if dn <= 0:
            return 0
        bits = math.ceil(math.log2(dn))
        while True:
            v = self._rbits(bits)
            if v < dn:
                return v

    # sexp.c: q[k-1] = sum(log(2)^k / k!), k = 1..16, as the literals of R's source
    _EXP_Q = (0.6931471805599453, 0.9333736875190459, 0.9888777961838675,
              0.9984959252914960040, 0.9998292811061389, 0.9999833164100727,
              0.9999985691438767, 0.9999998906925558, 0.9999999924734159,
              0.9999999995283275, 0.9999999999728814, 0.9999999999985598,
              0.9999999999999289, 0.9999999999999968, 0.9999999999999999,
              1.0000000000000000)

    def exp_rand(self) -> float:
        """R's ``exp_rand()``: a standard exponential (Ahrens & Dieter 1972, ``src/nmath/sexp.c``)."""
        q = self._EXP_Q
        a = 0.0
        u = self._unif1()
        while u <= 0.0 or u >= 1.0:
            u = self._unif1()
        while True:
            u += u
            if u > 1.0:
                break
            a += q[0]
        u -= 1.0
        if u <= q[0]:
            return a + u
        i = 0
        ustar = self._unif1()
        umin = ustar
        while True:
            ustar = self._unif1()
            if umin > ustar:
                umin = ustar
            i += 1
            if u <= q[i]:
                break
        return a + umin * q[0]

    def rexp(self, n: int, rate: float = 1.0) -> np.ndarray:
        """R's ``rexp(n, rate)``: ``(1 / rate) * exp_rand()`` per draw (``src/nmath/rexp.c``).

        >>> RRNG(1).rexp(3).round(7).tolist()   # set.seed(1); rexp(3)
        [0.7551818, 1.1816428, 0.1457067]
        """
        n = _check_n(n)
        scale = 1.0 / rate
        if not math.isfinite(scale) or scale <= 0.0:
            if scale == 0.0:
                return np.zeros(n)
            warnings.warn("NAs produced", RuntimeWarning, stacklevel=2)
            return np.full(n, np.nan)
        return np.array([scale * self.exp_rand() for _ in range(n)])

    def sample(self, n: int, size: int | None = None, replace: bool = False) -> np.ndarray:
        """R's ``sample(n, size, replace)`` (equal probabilities), as 0-based indices.

        ``do_sample`` of ``src/main/random.c`` with ``Sample_kind = REJECTION``.
        Without replacement: ``x = 0..n-1``; for each of the ``size`` picks
        ``j = R_unif_index(n)``, take ``x[j]``, then ``x[j] = x[--n]``.  With
        replacement: ``R_unif_index(n)`` per pick.  R returns these plus one.

        Parameters
        ----------
        n : int
            Population size.
        size : int, optional
            Number of picks (default ``n``: a permutation).
        replace : bool
            Sample with replacement.

        Returns
        -------
        numpy.ndarray of int64, length size
        """
        n = _check_n(n)
        size = n if size is None else _check_n(size)
        if not replace and size > n:
            raise ValueError("cannot take a sample larger than the population when 'replace = FALSE'")
        if n > 10_000_000 and not replace and size <= n / 2:
            # sample.int then uses hashing (.Internal(sample2)), not reproduced.
            raise NotImplementedError("R's sample.int uses sample2 (hashing) for n > 1e7")
        out = np.empty(size, dtype=np.int64)
        if replace:
            for i in range(size):
                out[i] = self.unif_index(n)
            return out
        x = list(range(n))
        m = n
        for i in range(size):
            j = self.unif_index(m)
            out[i] = x[j]
            m -= 1
            x[j] = x[m]
        return out
