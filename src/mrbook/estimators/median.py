"""Estimators layer: simple, weighted and penalised weighted medians (TwoSampleMR ``R/mr.R``)."""

from __future__ import annotations

import numpy as np
from scipy import special

from ..rmath.density import keep_heap
from ..rmath.jit import jit_kernel
from ..rmath.rng import rnorm_each
from ._registry import Params, register
from ._stats import na_result, p_normal, r_sd

_CITE = "Bowden et al. 2016, doi:10.1002/gepi.21965"

#: bootstrap replicates of the weighted median are ranked in blocks of at most this many
#: (replicate, SNP) pairs (all 1000 replicates at once up to 1000 SNPs)
_BLOCK_ELEMENTS = 1 << 20


def weighted_median(b_iv, weights) -> float | np.ndarray:
    r"""Weighted median of ratio estimates with linear interpolation (Bowden 2016).

    Parameters
    ----------
    b_iv : array_like, shape (k,) or (m, k)
        Ratio estimates; a 2-d array gives one median per row.
    weights : array_like, shape (k,) or (m, k)
        Non-negative weights (broadcast against ``b_iv``).

    Returns
    -------
    float or ndarray
        The weighted median (per row for 2-d input).

    Notes
    -----
    Sort the estimates (stable, as R's ``order``), take
    :math:`p_j = (\sum_{i\le j} w_i - w_j/2)/\sum_i w_i`, find
    :math:`j^* = \max\{j: p_j < 0.5\}` and interpolate
    :math:`\hat\beta = \beta_{j^*} + (\beta_{j^*+1} - \beta_{j^*})
    (0.5 - p_{j^*})/(p_{j^*+1} - p_{j^*})`.

    References
    ----------
    Bowden J, Davey Smith G, Haycock PC, Burgess S (2016). Genet Epidemiol
    40:304-314. doi:10.1002/gepi.21965

    Examples
    --------
    >>> float(weighted_median([1.0, 2.0, 3.0], [1.0, 1.0, 1.0]))
    2.0
    """
    b = np.asarray(b_iv, dtype=float)
    one = b.ndim == 1
    b2 = np.atleast_2d(b)
    w = np.asarray(weights, dtype=float)
    # R's order() is stable; ties only matter for the observed estimates (bootstrap
    # draws are continuous), so the cheaper unstable sort serves the replicates
    if not one:
        b2 = np.ascontiguousarray(b2)           # rows contiguous for the row sorts
    order = np.argsort(b2, axis=1, kind="stable" if one else None)
    one_w = w.ndim == 1 and w.shape[0] == b2.shape[1]     # one weight vector for every row
    jit = None if one or not one_w or b2.shape[1] == 0 else jit_kernel("median")
    if jit is not None:
        # the same arithmetic (the weights in order, their total, the interpolation),
        # one row at a time in compiled code (bit-identical)
        out = np.empty(b2.shape[0])
        jit.interpolate(b2, order, np.ascontiguousarray(w), out)
        return out
    if one_w:
        ws = w[order]
    else:
        ws = np.take_along_axis(np.broadcast_to(w, b2.shape), order, axis=1)
    tot = ws.sum(axis=1, keepdims=True)
    cs = np.cumsum(ws, axis=1)                  # (cumsum(w) - 0.5 w) / sum(w), as R
    ws *= 0.5
    cs -= ws
    cs /= tot
    below = (cs < 0.5).sum(axis=1) - 1  # cs is increasing, so this is max(which(cs < 0.5))
    rows = np.arange(b2.shape[0])
    nxt = np.minimum(below + 1, b2.shape[1] - 1)
    # only the two sorted estimates either side of 0.5 are needed
    b_lo, b_hi = b2[rows, order[rows, below]], b2[rows, order[rows, nxt]]
    p_lo, p_hi = cs[rows, below], cs[rows, nxt]
    out = b_lo + (b_hi - b_lo) * (0.5 - p_lo) / (p_hi - p_lo)
    return float(out[0]) if one else out


def weighted_median_bootstrap(bx, by, sx, sy, weights, nboot, rng) -> float:
    r"""Parametric-bootstrap standard error of the weighted median.

    Notes
    -----
    Draws ``nboot`` replicates :math:`\beta_X^* \sim N(\beta_X, \sigma_X^2)` and
    :math:`\beta_Y^* \sim N(\beta_Y, \sigma_Y^2)` (in R's order: one ``rnorm`` call
    of ``nboot*k`` exposure draws, column-major by SNP, then the same for the
    outcome), recomputes the weighted median of :math:`\beta_Y^*/\beta_X^*` with the
    ORIGINAL weights, and returns the sample standard deviation (n-1) of the
    replicates, as TwoSampleMR's ``weighted_median_bootstrap``.
    """
    k = bx.size
    keep_heap()
    bx_b = rnorm_each(rng, bx, sx, nboot)
    by_b = rnorm_each(rng, by, sy, nboot)
    # the ratios SNP-major (as drawn, k x nboot); the replicates are their columns
    ratio = np.divide(by_b, bx_b, out=by_b)
    del bx_b
    med = np.empty(nboot)
    step = max(1, _BLOCK_ELEMENTS // max(k, 1))
    for s in range(0, nboot, step):            # blocks of replicates bound the temporaries
        med[s:s + step] = weighted_median(ratio[:, s:s + step].T, weights)
    return float(r_sd(med))


def _arrays(bx, by, sx, sy):
    return tuple(np.asarray(v, dtype=float) for v in (bx, by, sx, sy))


def _second_order_weights(bx, by, sx, sy):
    return 1.0 / (sy**2 / bx**2 + by**2 * sx**2 / bx**4)


def _median_result(b_iv, w, bx, by, sx, sy, params: Params, rng) -> dict:
    """Weighted median of ``b_iv`` with weights ``w``, its bootstrap SE and normal p."""
    b = weighted_median(b_iv, w)
    se = weighted_median_bootstrap(bx, by, sx, sy, w, params.nboot, rng)
    return {"b": b, "se": se, "pval": float(p_normal(b / se)), "nsnp": bx.size}


@register("mr_simple_median", "Simple median", min_snps=3, default=False, stochastic=True,
          citation=_CITE)
def mr_simple_median(bx, by, sx, sy, params: Params = Params(), rng=None) -> dict:
    r"""Simple (unweighted) median of the ratio estimates.

    Notes
    -----
    :func:`weighted_median` with equal weights :math:`1/k`; SE by
    :func:`weighted_median_bootstrap`; two-sided normal p.

    References
    ----------
    Bowden J et al. (2016). Genet Epidemiol 40:304-314. doi:10.1002/gepi.21965
    """
    bx, by, sx, sy = _arrays(bx, by, sx, sy)
    k = bx.size
    if k < 3:
        return na_result()
    return _median_result(by / bx, np.full(k, 1.0 / k), bx, by, sx, sy, params, rng)


@register("mr_weighted_median", "Weighted median", min_snps=3, default=True, stochastic=True,
          citation=_CITE)
def mr_weighted_median(bx, by, sx, sy, params: Params = Params(), rng=None) -> dict:
    r"""Weighted median estimator.

    Notes
    -----
    Ratio estimates :math:`\beta_{Yj}/\beta_{Xj}` weighted by the inverse of their
    second-order variance
    :math:`V_j = \sigma_{Yj}^2/\beta_{Xj}^2 + \beta_{Yj}^2\sigma_{Xj}^2/\beta_{Xj}^4`;
    estimate by :func:`weighted_median`, SE by :func:`weighted_median_bootstrap`
    (weights not recomputed), two-sided normal p. Consistent if at least half
    of the weight comes from valid instruments.

    References
    ----------
    Bowden J et al. (2016). Genet Epidemiol 40:304-314. doi:10.1002/gepi.21965
    """
    bx, by, sx, sy = _arrays(bx, by, sx, sy)
    k = bx.size
    if k < 3:
        return na_result()
    return _median_result(by / bx, _second_order_weights(bx, by, sx, sy), bx, by, sx, sy,
                          params, rng)


@register("mr_penalised_weighted_median", "Penalised weighted median", min_snps=3, default=False,
          stochastic=True, citation=_CITE)
def mr_penalised_weighted_median(bx, by, sx, sy, params: Params = Params(), rng=None) -> dict:
    r"""Penalised weighted median: down-weights SNPs whose ratio is heterogeneous.

    Notes
    -----
    First runs :func:`mr_weighted_median` (which consumes the random stream),
    then penalises each weight by
    :math:`w_j^* = w_j \min(1, k_p\, P(\chi^2_1 > w_j(\beta_j - \hat\beta_{WM})^2))`
    with :math:`k_p` = ``params.penk`` (20), and recomputes the weighted median
    and its bootstrap SE with :math:`w^*`.

    References
    ----------
    Burgess S et al. (2016). Epidemiology 28:30-42. doi:10.1097/EDE.0000000000000559
    """
    bx, by, sx, sy = _arrays(bx, by, sx, sy)
    k = bx.size
    if k < 3:
        return na_result()
    b_iv = by / bx
    w = _second_order_weights(bx, by, sx, sy)
    bwm = mr_weighted_median(bx, by, sx, sy, params, rng)
    penalty = special.chdtrc(1, w * (b_iv - bwm["b"]) ** 2)   # chi2.sf(., 1), without scipy.stats
    pen_w = w * np.minimum(1.0, penalty * params.penk)
    return _median_result(b_iv, pen_w, bx, by, sx, sy, params, rng)
