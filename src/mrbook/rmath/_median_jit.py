r"""Ground floor: the weighted median of many sorted replicates, compiled by numba.

The arithmetic of :func:`mrbook.estimators.median.weighted_median` after its
sort, one replicate at a time in compiled code instead of six numpy passes
over a replicates x SNPs block (whose temporaries and per-pass overhead cost
about twice the sort at ~100 SNPs). Given each replicate's order (numpy's
``argsort``), its weights in that order and their total (numpy's own
``sum``, so the rounding of the total is numpy's), it computes, exactly as the
numpy code does and in the same order of operations,

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


@njit(cache=True, error_model="numpy")
def interpolate(b, order, ws, tot, out):
    """The weighted median of each row of ``b`` (m, k) into ``out`` (m,).

    ``order`` is ``np.argsort(b, axis=1)``, ``ws`` the weights in that order and
    ``tot[r]`` the sum of ``ws[r]`` (both computed by numpy).
    """
    m, k = b.shape
    p = np.empty(k)
    for r in range(m):
        t = tot[r]
        c = ws[r, 0]
        count = 0
        for j in range(k):
            if j > 0:
                c = c + ws[r, j]
            pj = (c - ws[r, j] * 0.5) / t
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
