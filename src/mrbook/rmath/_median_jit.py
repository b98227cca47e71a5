r"""Ground floor: the weighted median of many sorted replicates, compiled by numba.

The arithmetic of :func:`mrbook.estimators.median.weighted_median` after its
sort, one replicate at a time in compiled code instead of six numpy passes
over a replicates x SNPs block (whose temporaries and per-pass overhead cost
about twice the sort at ~100 SNPs). Given each replicate's order (numpy's
``argsort``) and the weights, it puts the weights in that order, sums them as
numpy's ``sum`` does (:func:`_pairwise_sum`, numpy's pairwise summation, so the
total rounds as numpy's), and computes, exactly as the numpy code does and in
the same order of operations,

.. math::

    p_j = \Big(\sum_{i \le j} w_i - \tfrac12 w_j\Big) \Big/ \sum_i w_i, \qquad
    j^* = \#\{j : p_j < 0.5\} - 1,

    \hat\beta = \beta_{j^*} + (\beta_{j^*+1} - \beta_{j^*})
    \frac{0.5 - p_{j^*}}{p_{j^*+1} - p_{j^*}},

with the cumulative sum taken left to right (``np.cumsum``), :math:`j^* = -1`
meaning the last element (numpy's negative index) and :math:`j^* + 1` capped at
the last element. No fast-math flags and numpy's error model (x/0 gives inf or
NaN): every operation rounds as numpy's does, so the result is bit-identical
(tested against the numpy path; a NaN result may differ in its sign bit only).

numba is imported by this module only (see :func:`mrbook.rmath.density.jit_kernel`).

References
----------
Bowden J, Davey Smith G, Haycock PC, Burgess S (2016). Genet Epidemiol
40:304-314. doi:10.1002/gepi.21965 (TwoSampleMR's ``weighted_median``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["interpolate"]


@njit(cache=True)
def _block_sum(a, lo, n):
    """numpy's ``pairwise_sum`` of ``a[lo:lo + n]`` for ``n <= 128`` (no halving)."""
    if n < 8:
        res = -0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - (n % 8):
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True)
def _pairwise_sum(a, n):
    """``a[:n].sum()`` as numpy sums a contiguous row of doubles.

    numpy's ``pairwise_sum`` (``loops_utils.h``): fewer than 8 values one by one
    from -0.0; up to 128 values in 8 interleaved partial sums, combined as
    ``((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))``, then the rest one by one;
    beyond, the sum of the two halves' sums (the first half a multiple of 8 long),
    each summed so; the reduction adds that to its identity, 0.0 (so a sum of
    -0.0 is 0.0). The halving is done with an explicit stack (numba does not
    cache recursive functions reliably).
    """
    if n <= 128:
        return 0.0 + _block_sum(a, 0, n)
    slo = np.empty(64, dtype=np.int64)       # segments still to sum: start, length, stage
    sn = np.empty(64, dtype=np.int64)
    sst = np.empty(64, dtype=np.int64)
    vals = np.empty(64)                       # sums of finished segments, left to right
    slo[0], sn[0], sst[0] = 0, n, 0
    top, nv = 1, 0
    while top > 0:
        t = top - 1
        lo, m = slo[t], sn[t]
        if m <= 128:
            vals[nv] = _block_sum(a, lo, m)
            nv += 1
            top -= 1
            continue
        n2 = m // 2
        n2 -= n2 % 8
        if sst[t] == 0:                       # first half
            sst[t] = 1
            slo[top], sn[top], sst[top] = lo, n2, 0
            top += 1
        elif sst[t] == 1:                     # second half
            sst[t] = 2
            slo[top], sn[top], sst[top] = lo + n2, m - n2, 0
            top += 1
        else:                                 # both done: their sum
            vals[nv - 2] = vals[nv - 2] + vals[nv - 1]
            nv -= 1
            top -= 1
    return 0.0 + vals[0]


@njit(cache=True, error_model="numpy")
def interpolate(b, order, w, out):
    """The weighted median of each row of ``b`` (m, k) into ``out`` (m,).

    ``order`` is ``np.argsort(b, axis=1)`` and ``w`` (k,) the weights; row ``r``
    uses ``ws = w[order[r]]`` and its total as numpy's ``ws.sum()``.
    """
    m, k = b.shape
    p = np.empty(k)
    ws = np.empty(k)
    for r in range(m):
        for j in range(k):
            ws[j] = w[order[r, j]]
        t = _pairwise_sum(ws, k)
        c = ws[0]
        count = 0
        for j in range(k):
            if j > 0:
                c = c + ws[j]
            pj = (c - ws[j] * 0.5) / t
            p[j] = pj
            if pj < 0.5:
                count += 1
        below = count - 1
        if below < 0:                     # numpy's index -1: the last element
            below = k - 1
        nxt = min(count, k - 1)
        b_lo = b[r, order[r, below]]
        b_hi = b[r, order[r, nxt]]
        p_lo = p[below]
        p_hi = p[nxt]
        out[r] = b_lo + (b_hi - b_lo) * (0.5 - p_lo) / (p_hi - p_lo)
