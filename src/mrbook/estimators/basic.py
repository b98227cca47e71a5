"""Estimators layer: Wald ratio, inverse-variance weighted (three variants) and MR-Egger.

All follow TwoSampleMR 0.7.9 (``R/mr.R``) to the last digit: see the Notes of
each function for the exact formula.
"""

from __future__ import annotations

import numpy as np

from ._registry import Params, register
from ._stats import na_result, p_chisq, p_normal, p_t, sign0


@register("mr_wald_ratio", "Wald ratio", min_snps=1, max_snps=1, default=True,
          citation="Wald 1940; Burgess et al. 2013, doi:10.1002/gepi.21758")
def mr_wald_ratio(bx, by, sx, sy, params: Params = Params(), rng=None) -> dict:
    r"""Wald ratio for a single SNP.

    Parameters
    ----------
    bx, by, sx, sy : array_like
        SNP-exposure and SNP-outcome effects and their standard errors (length 1).
    params, rng
        Unused (the contract's signature).

    Returns
    -------
    dict
        ``b``, ``se``, ``pval``, ``nsnp`` (NaN when more than one SNP is given).

    Notes
    -----
    .. math:: \hat\beta = \beta_Y / \beta_X, \qquad
              \mathrm{se} = \sigma_Y / |\beta_X|

    (first-order delta method, ``se.exposure`` ignored), two-sided normal p.

    References
    ----------
    Burgess S, Butterworth A, Thompson SG (2013). Genet Epidemiol 37:658-665.
    doi:10.1002/gepi.21758
    """
    bx, by, sy = (np.asarray(v, dtype=float) for v in (bx, by, sy))
    if bx.size != 1:
        return na_result()
    b = by[0] / bx[0]
    se = sy[0] / abs(bx[0])
    return {"b": b, "se": se, "pval": float(p_normal(b / se)), "nsnp": 1}


def _ivw(bx, by, sy, se_rule) -> dict:
    """Weighted regression through the origin; ``se_rule(se_fe, sigma)`` gives the SE.

    Shared by the three IVW variants, which differ only in their standard error.
    """
    bx, by, sy = (np.asarray(v, dtype=float) for v in (bx, by, sy))
    k = bx.size
    if k < 2:
        return na_result(Q=np.nan, Q_df=np.nan, Q_pval=np.nan)
    w = 1.0 / sy**2
    sxx = np.sum(w * bx * bx)
    b = np.sum(w * bx * by) / sxx
    se_fe = np.sqrt(1.0 / sxx)
    df = k - 1
    q = float(np.sum(w * (by - b * bx) ** 2))
    sigma = np.sqrt(q / df)
    se = se_rule(se_fe, sigma)
    return {"b": b, "se": se, "pval": float(p_normal(b / se)), "nsnp": k,
            "Q": q, "Q_df": df, "Q_pval": float(p_chisq(q, df))}


@register("mr_ivw", "Inverse variance weighted", min_snps=2, default=True, heterogeneity=True,
          citation="Burgess, Butterworth & Thompson 2013, doi:10.1002/gepi.21758")
def mr_ivw(bx, by, sx, sy, params: Params = Params(), rng=None) -> dict:
    r"""Inverse-variance weighted estimate with TwoSampleMR's random-effects rule.

    Returns
    -------
    dict
        ``b``, ``se``, ``pval`` (normal), ``nsnp``, ``Q``, ``Q_df``, ``Q_pval``.

    Notes
    -----
    Weighted least squares of :math:`\beta_Y` on :math:`\beta_X` through the origin
    with first-order weights :math:`w_j = \sigma_{Yj}^{-2}`:

    .. math:: \hat\beta = \frac{\sum w_j \beta_{Xj}\beta_{Yj}}{\sum w_j \beta_{Xj}^2},\quad
              \mathrm{se} = \sqrt{1/\textstyle\sum w_j\beta_{Xj}^2}\;\max(1, \hat\sigma),

    where :math:`\hat\sigma^2 = Q/(k-1)` is the residual variance and
    :math:`Q = \sum w_j(\beta_{Yj} - \hat\beta\beta_{Xj})^2` is Cochran's Q on
    k-1 degrees of freedom. This is ``summary(lm(by ~ -1 + bx, weights = 1/sy^2))``
    with the standard error divided by ``min(1, sigma)``: multiplicative random
    effects that never shrink the fixed-effect standard error.

    References
    ----------
    Burgess S, Butterworth A, Thompson SG (2013). Genet Epidemiol 37:658-665.
    doi:10.1002/gepi.21758
    """
    return _ivw(bx, by, sy, lambda se_fe, sigma: se_fe * max(1.0, sigma))


@register("mr_ivw_mre", "Inverse variance weighted (multiplicative random effects)", min_snps=2,
          default=False, citation="Bowden et al. 2017, doi:10.1002/sim.7221")
def mr_ivw_mre(bx, by, sx, sy, params: Params = Params(), rng=None) -> dict:
    r"""IVW with multiplicative random effects that may also shrink the SE.

    Notes
    -----
    Same :math:`\hat\beta` and Q as :func:`mr_ivw`; :math:`\mathrm{se} = \hat\sigma
    \sqrt{1/\sum w_j\beta_{Xj}^2}` (the unscaled ``lm`` standard error), which is
    smaller than the fixed-effect SE when :math:`\hat\sigma < 1`.

    References
    ----------
    Bowden J et al. (2017). Stat Med 36:1783-1802. doi:10.1002/sim.7221
    """
    return _ivw(bx, by, sy, lambda se_fe, sigma: se_fe * sigma)


@register("mr_ivw_fe", "Inverse variance weighted (fixed effects)", min_snps=2, default=False,
          citation="Burgess, Butterworth & Thompson 2013, doi:10.1002/gepi.21758")
def mr_ivw_fe(bx, by, sx, sy, params: Params = Params(), rng=None) -> dict:
    r"""Fixed-effect IVW.

    Notes
    -----
    Same :math:`\hat\beta` and Q as :func:`mr_ivw`;
    :math:`\mathrm{se} = \sqrt{1/\sum w_j\beta_{Xj}^2}`.

    References
    ----------
    Burgess S, Butterworth A, Thompson SG (2013). Genet Epidemiol 37:658-665.
    doi:10.1002/gepi.21758
    """
    return _ivw(bx, by, sy, lambda se_fe, sigma: se_fe)


_EGGER_NA = dict(b_i=np.nan, se_i=np.nan, pval_i=np.nan, Q=np.nan, Q_df=np.nan, Q_pval=np.nan)


@register("mr_egger_regression", "MR Egger", min_snps=3, default=True, heterogeneity=True,
          citation="Bowden, Davey Smith & Burgess 2015, doi:10.1093/ije/dyv080")
def mr_egger_regression(bx, by, sx, sy, params: Params = Params(), rng=None) -> dict:
    r"""MR-Egger regression.

    Returns
    -------
    dict
        ``b``, ``se``, ``pval`` (slope), ``b_i``, ``se_i``, ``pval_i`` (intercept),
        ``nsnp``, ``Q``, ``Q_df``, ``Q_pval``.

    Notes
    -----
    Each SNP is oriented so that its exposure effect is positive
    (:math:`\beta_Y \leftarrow \beta_Y\,\mathrm{sign0}(\beta_X)`,
    :math:`\beta_X \leftarrow |\beta_X|`, with sign0(0) = 1); then

    .. math:: \beta_{Yj} = \beta_0 + \beta_1\beta_{Xj} + \varepsilon_j,
              \quad \mathrm{weights}\ w_j = \sigma_{Yj}^{-2}

    is fitted by weighted least squares. Standard errors are the ``lm`` ones
    divided by :math:`\min(1, \hat\sigma)`; p-values use the t distribution with
    k-2 degrees of freedom; :math:`Q = \hat\sigma^2 (k-2)`.

    References
    ----------
    Bowden J, Davey Smith G, Burgess S (2015). Int J Epidemiol 44:512-525.
    doi:10.1093/ije/dyv080
    """
    bx, by, sy = (np.asarray(v, dtype=float) for v in (bx, by, sy))
    k = bx.size
    if k < 3:
        return na_result(**_EGGER_NA)
    by = by * sign0(bx)
    bx = np.abs(bx)
    sw = 1.0 / sy
    X = np.column_stack([sw, bx * sw])
    y = by * sw
    coef, _, rank, _ = np.linalg.lstsq(X, y, rcond=None)
    if rank < 2:  # lm drops the aliased slope; TwoSampleMR returns NA
        return na_result(**_EGGER_NA)
    resid = y - X @ coef
    df = k - 2
    q = float(resid @ resid)
    sigma = np.sqrt(q / df)
    xtx_inv = np.linalg.inv(X.T @ X)
    se_unscaled = np.sqrt(np.diag(xtx_inv)) * sigma / min(1.0, sigma)
    b_i, b = coef
    se_i, se = se_unscaled
    return {"b": b, "se": se, "pval": float(p_t(b / se, df)), "nsnp": k,
            "b_i": b_i, "se_i": se_i, "pval_i": float(p_t(b_i / se_i, df)),
            "Q": q, "Q_df": df, "Q_pval": float(p_chisq(q, df))}
