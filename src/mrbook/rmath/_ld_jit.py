r"""Ground floor: plink 1.9's ``--clump`` r² of one SNP against many, compiled by numba.

Two kernels for :mod:`mrbook.data.ld`, each with the same numbers as its
Python path there (which stays the documented reference and the fallback):

* :func:`table_counts`: the 3x3 genotype tables of one panel variant against
  each of many, straight from the packed ``.bed`` bytes, as
  ``_table_counts(Panel.genotypes(...))`` (optionally after
  ``_minor_oriented``). A ``.bed`` row holds sample ``s`` in bits
  ``2 (s mod 4)`` and ``2 (s mod 4) + 1`` of byte ``s // 4`` (``00`` zero copies
  of A2, ``01`` missing, ``10`` one, ``11`` two); read as little-endian 64-bit
  words, sample ``s`` sits at bit ``2 (s mod 32)`` of word ``s // 32`` and its
  high bit one place up. With ``L`` the low and ``H`` the high bits of a word
  (shifted onto the even positions), the samples with 0, 1 and 2 copies are
  ``~H & ~L``, ``H & ~L`` and ``H & L``; masked with the founders' bits (the
  even bit of every founder: non-founders and the padding of the last byte drop
  out) and counted with ``popcount``, the nine cells are
  :math:`n_{ab} = \sum_{words} \mathrm{popcount}(X^{index}_a \,\&\, X^{other}_b)`,
  missing calls at either SNP left out as plink does pair by pair. With
  ``orient`` each SNP is flipped (0 and 2 copies swapped) when its A1 allele is
  the major one among its founders' non-missing calls (``2 n_{valid} - n_{A2} >
  n_{A2}``), as ``_minor_oriented``: the table's rows and/or columns reversed.
* :func:`clump_r2`: ``plink_clump_r2`` of each table, the same scalar arithmetic
  (plink's ``em_phase_hethet`` and ``cubic_real_roots``) in the same order of
  operations, with ``math.log``/``acos``/``cos``/``sqrt``/``pow`` (the C
  library's, as CPython's ``math``) and no fast-math flags, so every value is
  bit-identical to the Python function's (tested on every pair of the bench
  phenome's exposures and on random and adversarial tables).

numba is imported by this module only (see :func:`mrbook.rmath.jit.jit_kernel`).

References
----------
Chang CC, et al. Second-generation PLINK: rising to the challenge of larger and
richer datasets. GigaScience 2015;4:7. doi:10.1186/s13742-015-0047-8 (plink 1.9's
``clump_reports``, ``em_phase_hethet``, ``cubic_real_roots``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

__all__ = ["table_counts", "clump_r2"]

# plink 1.9's floating point tolerances (plink_common.h): 2^-30, 2^-35, 2^-44, as in mrbook.data.ld
_EPSILON = 0.000000000931322574615478515625
_SMALLISH_EPSILON = 0.00000000002910383045673370361328125
_SMALL_EPSILON = 0.00000000000005684341886080801486968994140625
_PI = 3.1415926535897932

_EVEN = np.uint64(0x5555555555555555)   # the low bit of every 2-bit genotype code


# --------------------------------------------------------------------------- genotype tables

@intrinsic
def _popcount(typingctx, x):
    """Number of set bits of a uint64 (LLVM's ``ctpop``: one ``popcnt`` instruction)."""
    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])
    return types.uint64(types.uint64), codegen


@njit(cache=True)
def _row(i, nv):
    """Row ``i`` of ``nv`` variants as numpy indexes (negative from the end); IndexError outside."""
    if i < -nv or i >= nv:
        raise IndexError("variant row out of range")
    return i + nv if i < 0 else i


@njit(cache=True)
def _load_words(bed, row, words):
    """Row ``row`` of the ``.bed`` bytes as little-endian uint64 words (zero-padded)."""
    nb = bed.shape[1]
    for k in range(words.shape[0]):
        w = np.uint64(0)
        for t in range(8):
            b = 8 * k + t
            if b < nb:
                w |= np.uint64(bed[row, b]) << np.uint64(8 * t)
        words[k] = w


@njit(cache=True)
def _classes(words, founders, cls):
    """Per word, the founders with 0, 1 and 2 copies of A2 (bit sets) into ``cls`` (3, nw);
    returns (non-missing calls, A2 alleles) over the founders."""
    valid = 0
    a2 = 0
    for k in range(words.shape[0]):
        lo = words[k] & _EVEN
        hi = (words[k] >> np.uint64(1)) & _EVEN
        f = founders[k]
        c0 = ~(hi | lo) & f
        c1 = hi & ~lo & f
        c2 = hi & lo & f
        cls[0, k] = c0
        cls[1, k] = c1
        cls[2, k] = c2
        n1 = np.int64(_popcount(c1))
        n2 = np.int64(_popcount(c2))
        valid += np.int64(_popcount(c0)) + n1 + n2
        a2 += n1 + 2 * n2
    return valid, a2


@njit(cache=True)
def table_counts(bed, founders, index, others, orient, out):
    """The 3x3 genotype tables of variant ``index`` against each of ``others``.

    Parameters
    ----------
    bed : uint8 array (n_variants, bytes per variant)
        The ``.bed`` genotype bytes (``Panel.bed``).
    founders : uint64 array (words per variant,)
        Bit ``2 (s mod 32)`` of word ``s // 32`` set for every founder ``s``.
    index : int
        Row of the index variant (negative: from the end, as numpy indexes).
    others : int64 array (m,)
        Rows of the other variants (the same).
    orient : bool
        Orient every variant so that A1 is its minor allele (``_minor_oriented``).
    out : int64 array (m, 9)
        ``out[r, 3 a + b]``: founders with ``a`` copies of A2 at ``index`` and ``b``
        at ``others[r]``, both calls non-missing.

    Raises
    ------
    IndexError
        A row outside ``[-n_variants, n_variants)``.
    """
    nw = founders.shape[0]
    words = np.empty(nw, dtype=np.uint64)
    ci = np.empty((3, nw), dtype=np.uint64)
    cj = np.empty((3, nw), dtype=np.uint64)
    _load_words(bed, _row(index, bed.shape[0]), words)
    valid, a2 = _classes(words, founders, ci)
    flip_i = orient and 2 * valid - a2 > a2
    for r in range(others.shape[0]):
        _load_words(bed, _row(others[r], bed.shape[0]), words)
        valid, a2 = _classes(words, founders, cj)
        flip_j = orient and 2 * valid - a2 > a2
        for a in range(3):
            ra = 2 - a if flip_i else a
            for b in range(3):
                rb = 2 - b if flip_j else b
                n = np.uint64(0)
                for k in range(nw):
                    n += _popcount(ci[a, k] & cj[b, k])
                out[r, 3 * ra + rb] = n


# --------------------------------------------------------------------------- plink's r²

@njit(cache=True)
def _log(x):
    if x > 0:
        return math.log(x)
    return -math.inf if x == 0 else math.nan


@njit(cache=True)
def _acos(x):
    return math.acos(x) if -1.0 <= x <= 1.0 else math.nan


@njit(cache=True)
def _cubic_real_roots(a, b, c, s):
    """Real roots of x³ + a x² + b x + c into ``s[:n]``, ascending; returns n
    (``mrbook.data.ld._cubic_real_roots``, plink 1.9's ``cubic_real_roots``)."""
    a2 = a * a
    qq = (a2 - 3 * b) * (1.0 / 9.0)
    rr = (2 * a2 * a - 9 * a * b + 27 * c) * (1.0 / 54.0)
    r2 = rr * rr
    q3 = qq * qq * qq
    adiv3 = a * (1.0 / 3.0)
    if r2 < q3:
        sq = math.sqrt(qq)
        dxx = _acos(rr / (qq * sq)) * (1.0 / 3.0)
        sq *= -2
        s[0] = sq * math.cos(dxx) - adiv3
        s[1] = sq * math.cos(dxx + (2.0 * _PI / 3.0)) - adiv3
        s[2] = sq * math.cos(dxx - (2.0 * _PI / 3.0)) - adiv3
        if s[0] > s[1]:
            dxx = s[0]
            s[0] = s[1]
            if dxx > s[2]:
                s[1] = s[2]
                s[2] = dxx
            else:
                s[1] = dxx
            if s[0] > s[1]:
                dxx = s[0]
                s[0] = s[1]
                s[1] = dxx
        elif s[1] > s[2]:
            dxx = s[1]
            s[1] = s[2]
            s[2] = dxx
        if s[1] - s[0] < _EPSILON:
            s[1] = s[2]
            return 1 if s[1] - s[0] < _EPSILON else 2
        return 2 if s[2] - s[1] < _EPSILON else 3
    dxx = -math.pow(abs(rr) + math.sqrt(r2 - q3), 1.0 / 3.0)
    if dxx == 0.0:
        s[0] = -adiv3
        return 1
    if rr < 0.0:
        dxx = -dxx
    sq = qq / dxx
    s0 = dxx + sq - adiv3
    if abs(dxx - sq) >= (_EPSILON * 8):
        s[0] = s0
        return 1
    if dxx >= 0.0:
        s[0] = -dxx - adiv3
        s[1] = s0
    else:
        s[0] = s0
        s[1] = -dxx - adiv3
    return 2


@njit(cache=True)
def _calc_lnlike(k11, k12, k21, k22, center, f11, f12, f21, f22, half, incr):
    f11 += incr
    f22 += incr
    f12 += half - incr
    f21 += half - incr
    ln = center * _log(f11 * f22 + f12 * f21)
    if k11 != 0.0:
        ln += k11 * _log(f11)
    if k12 != 0.0:
        ln += k12 * _log(f12)
    if k21 != 0.0:
        ln += k21 * _log(f21)
    if k22 != 0.0:
        ln += k22 * _log(f22)
    return ln


@njit(cache=True)
def _r2(c, sols):
    """``plink_clump_r2`` of the table ``c`` (9,) (``sols``: room for three roots)."""
    k11 = float(2 * c[0] + c[1] + c[3])
    k12 = float(2 * c[2] + c[1] + c[5])
    k21 = float(2 * c[6] + c[3] + c[7])
    k22 = float(2 * c[8] + c[5] + c[7])
    center_ct = c[4]
    # plink's em_phase_hethet (mrbook.data.ld._em_phase_hethet)
    center = float(center_ct)
    twice_tot = k11 + k12 + k21 + k22 + 2 * center
    if twice_tot == 0.0:
        return math.nan
    recip = 1.0 / twice_tot
    f11 = k11 * recip
    f12 = k12 * recip
    f21 = k21 * recip
    f22 = k22 * recip
    prod_1122 = f11 * f22
    prod_1221 = f12 * f21
    half = center * recip
    freq1x = f11 + f12 + half
    freq2x = 1.0 - freq1x
    freqx1 = f11 + f21 + half
    freqx2 = 1.0 - freqx1
    if center_ct:
        start = 0
        if (prod_1122 != 0.0) or (prod_1221 != 0.0):
            end = _cubic_real_roots(
                0.5 * (f11 + f22 - f12 - f21 - 3 * half),
                0.5 * (prod_1122 + prod_1221 + half * (f12 + f21 - f11 - f22 + half)),
                -0.5 * half * prod_1122, sols)
            while end and sols[end - 1] > half + _SMALLISH_EPSILON:
                end -= 1
            while start < end and sols[start] < -_SMALLISH_EPSILON:
                start += 1
            if start == end:
                start, end = 0, 2
                sols[0] = 0.0
                sols[1] = half
            else:
                if sols[start] < 0:
                    sols[start] = 0.0
                if sols[end - 1] > half:
                    sols[end - 1] = half
        else:
            if (f22 + _SMALLISH_EPSILON < half + f21) and (f21 + _SMALLISH_EPSILON < half + f22):
                sols[0] = 0.0
                sols[1] = (half + f21 - f22) * 0.5
                sols[2] = half
                end = 3
            else:
                sols[0] = 0.0
                sols[1] = half
                end = 2
        best_sol = sols[start]
        if end > start + 1:
            best_lnlike = _calc_lnlike(k11, k12, k21, k22, center, f11, f12, f21, f22, half,
                                       best_sol)
            for idx in range(start + 1, end):
                cur = _calc_lnlike(k11, k12, k21, k22, center, f11, f12, f21, f22, half,
                                   sols[idx])
                if cur > best_lnlike:
                    # plink keeps comparing against the first solution's likelihood
                    best_sol = sols[idx]
        f11 += best_sol
    elif prod_1122 == 0.0 and prod_1221 == 0.0:
        return math.nan
    # plink_clump_r2's D |D| / (p1 (1 - p1) q1 (1 - q1))
    expected = freqx1 * freq1x
    dxx = f11 - expected
    r2 = abs(dxx)
    if r2 >= _SMALL_EPSILON:
        return r2 * dxx / (expected * freq2x * freqx2)
    return 0.0


@njit(cache=True)
def clump_r2(counts, out):
    """``plink_clump_r2`` of each row of ``counts`` (m, 9) int64 into ``out`` (m,)."""
    sols = np.empty(3)
    for r in range(counts.shape[0]):
        out[r] = _r2(counts[r], sols)
