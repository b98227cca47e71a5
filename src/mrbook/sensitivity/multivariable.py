"""Sensitivity layer: conditional F statistics and the Q statistic of multivariable MR (MVMR package).

Both reproduce the MVMR package (WSpiller/MVMR 0.4.6) with ``gencov = 0``, the
setting for exposure GWAS with no known covariance between their SNP
associations (separate samples, or the covariance not available):

* :func:`conditional_f`: ``strength_mvmr`` (Sanderson et al. 2019, 2021):
  for each exposure, how well the SNPs predict it *given* the other exposures;
  the rule of thumb F > 10 applies to it as to the univariable F;
* :func:`mv_q_statistic`: ``pleiotropy_mvmr``: Cochran's Q of the
  multivariable IVW fit with the exposures' uncertainty in the weights, a test
  of instrument validity (heterogeneity beyond chance points to pleiotropy).
"""

from __future__ import annotations

import numpy as np

from ..estimators._stats import p_chisq
from ..estimators.multivariable import lm_fit


def conditional_f(bx, sx) -> np.ndarray:
    r"""Conditional F statistic of each exposure (MVMR ``strength_mvmr``, ``gencov = 0``).

    Parameters
    ----------
    bx, sx : ndarray, shape (n, k)
        SNP-exposure associations and their SEs, k >= 2 exposures.

    Returns
    -------
    ndarray, shape (k,)

    Notes
    -----
    For exposure :math:`i`, :math:`\hat\delta` are the coefficients of the
    unweighted regression (no intercept) of :math:`\beta_{X_i}` on the other
    exposures' :math:`\beta_{X_{-i}}`; then

    .. math:: F_i = \frac{1}{n}\sum_j \frac{(\beta_{X_ij} - \beta_{X_{-i}j}^T\hat\delta)^2}
              {\sigma_{X_ij}^2 + \sum_{m \ne i}\hat\delta_m^2\sigma_{X_mj}^2}.

    MVMR 0.4.6 divides the Q statistic by n (the number of SNPs); later texts
    divide by n - k + 1, which gives larger values for few SNPs.

    References
    ----------
    Sanderson E, Davey Smith G, Windmeijer F, Bowden J (2019). An examination of
    multivariable Mendelian randomization in the single-sample and two-sample
    summary data settings. Int J Epidemiol 48:713-727. doi:10.1093/ije/dyy262

    Sanderson E, Spiller W, Bowden J (2021). Testing and correcting for weak and
    pleiotropic instruments in two-sample multivariable Mendelian randomization.
    Stat Med 40:5434-5452. doi:10.1002/sim.9133
    """
    bx = np.asarray(bx, dtype=float)
    sx = np.asarray(sx, dtype=float)
    n, k = bx.shape
    if k < 2:
        raise ValueError("the conditional F statistic needs at least two exposures")
    out = np.empty(k)
    for i in range(k):
        others = [m for m in range(k) if m != i]
        delta = lm_fit(bx[:, others], bx[:, i])["coef"]
        sigma2 = sx[:, i] ** 2
        for m, d in zip(others, delta):
            sigma2 = sigma2 + sx[:, m] ** 2 * d ** 2
        pred = bx[:, others] @ delta
        out[i] = float(np.sum((bx[:, i] - pred) ** 2 / sigma2)) / n
    return out


def mv_q_statistic(bx, by, sx, sy) -> dict:
    r"""Q statistic for instrument validity (MVMR ``pleiotropy_mvmr``, ``gencov = 0``).

    Parameters
    ----------
    bx, sx : ndarray, shape (n, k)
    by, sy : ndarray, shape (n,)

    Returns
    -------
    dict
        ``Q``, ``Q_df`` (n - k - 1, as the package), ``Q_pval`` (upper chi-square
        tail).

    Notes
    -----
    With :math:`\hat\beta` the multivariable IVW estimates (weights
    :math:`\sigma_{Yj}^{-2}`),

    .. math:: Q = \sum_j \frac{(\beta_{Yj} - \beta_{Xj}^T\hat\beta)^2}
              {\sigma_{Yj}^2 + \sum_i \hat\beta_i^2\sigma_{X_ij}^2}.

    MVMR 0.4.6 refers Q to a chi-square with n - k - 1 degrees of freedom (one
    fewer than the n - k residual degrees of freedom of the fit); kept for parity.

    References
    ----------
    Sanderson E, Spiller W, Bowden J (2021). Stat Med 40:5434-5452.
    doi:10.1002/sim.9133
    """
    bx = np.asarray(bx, dtype=float)
    sx = np.asarray(sx, dtype=float)
    by = np.asarray(by, dtype=float)
    sy = np.asarray(sy, dtype=float)
    n, k = bx.shape
    a = lm_fit(bx, by, 1.0 / sy**2)["coef"]
    sigma2 = sy**2
    for i in range(k):
        sigma2 = sigma2 + a[i] ** 2 * sx[:, i] ** 2
    q = float(np.sum((by - bx @ a) ** 2 / sigma2))
    df = n - k - 1
    return {"Q": q, "Q_df": df, "Q_pval": float(p_chisq(q, df)) if df > 0 else np.nan}
