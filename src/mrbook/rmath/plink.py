"""Ground floor: plink 1.9's ``--clump`` r² of a 3x3 genotype table, bit for bit.

plink 1.9 does not report the squared genotype correlation: its ``clump_reports()``
phases the two SNPs with the two-locus EM of ``em_phase_hethet`` (the
maximum-likelihood haplotype frequencies of the 3x3 genotype table, the double
heterozygotes split by a root of a cubic, ``cubic_real_roots``) and reports
``D² / (p1 (1-p1) q1 (1-q1))`` from those haplotype frequencies. This module is
that arithmetic in plink's order of operations, with plink's numerical
tolerances; :mod:`mrbook.data.ld` uses it for clumping and LD proxies.

The functions are written so that numba can compile them unchanged (scalars,
one list of three roots, no None): :mod:`mrbook.rmath._ld_jit` compiles
:func:`clump_r2_rows` with them, so the compiled r² is this code, and is
bit-identical to it (no fast-math; ``math.log``/``acos``/``cos``/``sqrt``/``pow`` are
the C library's in both).

References
----------
Chang CC, et al. Second-generation PLINK: rising to the challenge of larger and
richer datasets. GigaScience 2015;4:7. doi:10.1186/s13742-015-0047-8 (plink 1.9's
``clump_reports``, ``em_phase_hethet``, ``cubic_real_roots`` in ``plink_ld.c`` and
``plink_common.c``).
"""

from __future__ import annotations

import math

__all__ = ["plink_clump_r2", "clump_r2_rows", "table_r2", "SMALL_EPSILON"]

# plink 1.9's floating point tolerances (plink_common.h): 2^-30, 2^-35, 2^-44
EPSILON = 0.000000000931322574615478515625
SMALLISH_EPSILON = 0.00000000002910383045673370361328125
SMALL_EPSILON = 0.00000000000005684341886080801486968994140625
_PI = 3.1415926535897932


def _log(x: float) -> float:
    if x > 0:
        return math.log(x)
    return -math.inf if x == 0 else math.nan


def _acos(x: float) -> float:
    return math.acos(x) if -1.0 <= x <= 1.0 else math.nan


def _cubic_real_roots(a: float, b: float, c: float, s) -> int:
    """Real roots of x³ + a x² + b x + c into ``s[:n]``, ascending; returns n
    (plink 1.9's ``cubic_real_roots``; ``s`` has room for three)."""
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
        # the same swaps as plink (NaN-safe: comparisons with NaN are false)
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
        if s[1] - s[0] < EPSILON:
            s[1] = s[2]
            return 1 if s[1] - s[0] < EPSILON else 2
        return 2 if s[2] - s[1] < EPSILON else 3
    dxx = -math.pow(abs(rr) + math.sqrt(r2 - q3), 1.0 / 3.0)
    if dxx == 0.0:
        s[0] = -adiv3
        return 1
    if rr < 0.0:
        dxx = -dxx
    sq = qq / dxx
    s0 = dxx + sq - adiv3
    if abs(dxx - sq) >= (EPSILON * 8):
        s[0] = s0
        return 1
    if dxx >= 0.0:
        s[0] = -dxx - adiv3
        s[1] = s0
    else:
        s[0] = s0
        s[1] = -dxx - adiv3
    return 2


def _calc_lnlike(k11, k12, k21, k22, center, f11, f12, f21, f22, half, incr) -> float:
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


def _em_phase_hethet(k11: float, k12: float, k21: float, k22: float, center_ct: int, sols):
    """plink 1.9's two-locus EM: (phased, freq1x, freq2x, freqx1, freqx2, freq11).

    ``phased`` is False (and the frequencies meaningless) where plink gives up: no
    samples, or no double heterozygote and one SNP monomorphic. ``sols`` is room
    for the cubic's three roots.
    """
    center = float(center_ct)
    twice_tot = k11 + k12 + k21 + k22 + 2 * center
    if twice_tot == 0.0:
        return False, 0.0, 0.0, 0.0, 0.0, 0.0
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
            while end and sols[end - 1] > half + SMALLISH_EPSILON:
                end -= 1
            while start < end and sols[start] < -SMALLISH_EPSILON:
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
        elif (f22 + SMALLISH_EPSILON < half + f21) and (f21 + SMALLISH_EPSILON < half + f22):
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
        return False, 0.0, 0.0, 0.0, 0.0, 0.0
    return True, freq1x, freq2x, freqx1, freqx2, f11


def table_r2(c, sols) -> float:
    """:func:`plink_clump_r2` of the 9 integer counts ``c``; ``sols`` is room for three roots."""
    k11 = float(2 * c[0] + c[1] + c[3])
    k12 = float(2 * c[2] + c[1] + c[5])
    k21 = float(2 * c[6] + c[3] + c[7])
    k22 = float(2 * c[8] + c[5] + c[7])
    phased, freq1x, freq2x, freqx1, freqx2, freq11 = _em_phase_hethet(k11, k12, k21, k22,
                                                                      c[4], sols)
    if not phased:
        return math.nan
    expected = freqx1 * freq1x
    dxx = freq11 - expected
    r2 = abs(dxx)
    if r2 >= SMALL_EPSILON:
        return r2 * dxx / (expected * freq2x * freqx2)
    return 0.0


def plink_clump_r2(counts) -> float:
    """Signed r² of two SNPs from their 3x3 genotype table, exactly as ``plink --clump``.

    Parameters
    ----------
    counts : sequence of 9 ints
        ``counts[3*i + j]``: samples with ``i`` copies of A2 at the index SNP and ``j``
        at the other SNP (missing calls left out).

    Returns
    -------
    float
        ``D |D| / (p1 (1 - p1) q1 (1 - q1))`` from the EM haplotype frequencies: the
        sign is that of D for the A1-A1 haplotype; ``nan`` when a SNP is monomorphic.

    Notes
    -----
    Haplotype counts known without phasing are
    ``k11 = 2 n00 + n01 + n10`` (and symmetric), the double heterozygotes are
    split by the maximum-likelihood root of plink's cubic (``em_phase_hethet``);
    ``|D| < 2^-44`` gives 0.

    Examples
    --------
    >>> round(plink_clump_r2([30, 0, 0, 0, 40, 0, 0, 0, 30]), 6)
    1.0
    """
    return table_r2([int(x) for x in counts], [0.0, 0.0, 0.0])


def clump_r2_rows(counts, out) -> None:
    """:func:`plink_clump_r2` of each table ``counts[r]`` (9 ints) into ``out[r]``.

    The loop :mod:`mrbook.rmath._ld_jit` compiles (``counts`` an (m, 9) int64 array
    there); from Python, pass the rows as lists of ints.
    """
    sols = [0.0, 0.0, 0.0]
    for r in range(len(out)):
        out[r] = table_r2(counts[r], sols)
