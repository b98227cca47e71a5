r"""Estimators layer: cML-MA-BIC, constrained maximum likelihood (MendelianRandomization's ``mr_cML``).

cML models the summary statistics as :math:`\hat\beta_{Xj} \sim N(b_j, \sigma_{Xj}^2)`,
:math:`\hat\beta_{Yj} \sim N(\theta b_j + r_j, \sigma_{Yj}^2)`, where :math:`r_j \ne 0`
marks an invalid instrument (pleiotropy, correlated or not). For each number
:math:`K = 0, \dots, k - 2` of invalid instruments the likelihood is maximised under
the constraint :math:`\|r\|_0 = K`; the models are then averaged with BIC weights
(cML-MA-BIC). The estimate is robust to uncorrelated and to correlated
pleiotropy (InSIDE may fail) as long as the valid instruments form the
plurality of instruments with the same ratio.

References
----------
Xue H, Shen X, Pan W (2021). Constrained maximum likelihood-based Mendelian
randomization robust to both correlated and uncorrelated pleiotropic effects.
Am J Hum Genet 108:1251-1269. doi:10.1016/j.ajhg.2021.05.014
"""

from __future__ import annotations

import math

import numpy as np

from ._registry import Params, register
from ._stats import na_result, p_normal

__all__ = ["NEGLIGIBLE_LOG_WEIGHT", "cml_fits", "mr_cml_ma_bic"]

_CITE = "Xue, Shen & Pan 2021, doi:10.1016/j.ajhg.2021.05.014"
#: ``cML_estimate``'s convergence tolerance on theta and its default iteration cap
_TOL = 1e-7
MAXIT = 100


def cml_fits(bx, by, sx, sy, K=None, maxit: int = MAXIT):
    r"""``cML_estimate`` from the start :math:`\theta = 0, b = 0` for every K at once.

    Parameters
    ----------
    bx, by, sx, sy : ndarray, shape (k,)
        SNP-exposure and SNP-outcome effects and their standard errors.
    K : array_like of int, optional
        Numbers of invalid instruments (default ``0, ..., k - 2``, R's ``K_vec``).
    maxit : int
        Iteration cap (R's 100).

    Returns
    -------
    theta, se, neg_l : ndarray, shape (len(K),)
        Estimate, its standard error (``cML_SdTheta``; NaN where the information
        is not positive) and the negative log-likelihood, per K.
    r : ndarray, shape (len(K), k)
        The estimated direct effects :math:`r_j` (non-zero for the invalid SNPs).

    Notes
    -----
    R's ``cML_estimate`` iterates, while :math:`|\theta_{old} - \theta| > 10^{-7}` and
    fewer than ``maxit`` iterations have run:

    1. :math:`r_j = \hat\beta_{Yj} - \theta b_j` for the K SNPs with the largest
       :math:`(\hat\beta_{Yj} - \theta b_j)^2/\sigma_{Yj}^2`, 0 for the others;
    2. :math:`b_j = \dfrac{\hat\beta_{Xj}/\sigma_{Xj}^2 + \theta(\hat\beta_{Yj} - r_j)/\sigma_{Yj}^2}
       {1/\sigma_{Xj}^2 + \theta^2/\sigma_{Yj}^2}`;
    3. :math:`\theta = \dfrac{\sum (\hat\beta_{Yj} - r_j) b_j/\sigma_{Yj}^2}{\sum b_j^2/\sigma_{Yj}^2}`;

    then sets :math:`b_j = \hat\beta_{Xj}` and :math:`r_j = \hat\beta_{Yj} - \theta b_j` for
    the invalid SNPs. This alternating scheme is written by hand because its
    answer is the local optimum R's iterations reach from :math:`\theta = 0` (and
    where they stop), which a general optimiser would not reproduce. Here every K
    is a row of one array and the loop runs until
    every row has stopped; a row that has stopped is no longer updated, so each
    row follows R's iterations for its K exactly. The negative log-likelihood is
    :math:`\sum(\hat\beta_{Xj} - b_j)^2/(2\sigma_{Xj}^2) + \sum(\hat\beta_{Yj} - \theta b_j
    - r_j)^2/(2\sigma_{Yj}^2)` and the variance of :math:`\hat\theta` the inverse of the
    profile information over the valid SNPs,
    :math:`\big[\sum_{r_j = 0} b_j^2/\sigma_{Yj}^2 - \sum_{r_j = 0} (2 b_j\theta -
    \hat\beta_{Yj})^2/\sigma_{Yj}^4 \big/ (1/\sigma_{Xj}^2 + \theta^2/\sigma_{Yj}^2)\big]^{-1}`.
    """
    k = bx.size
    K = np.arange(k - 1) if K is None else np.asarray(K, dtype=int)
    m = K.size
    sx2, sy2 = sx * sx, sy * sy
    inv_sy2 = 1.0 / sy2
    # b_j's update, numerator and denominator multiplied by sigma_Yj^2:
    # (bx sy2/sx2 + theta y) / (sy2/sx2 + theta^2)
    c1 = bx * sy2 / sx2
    c2 = sy2 / sx2
    # final state per K
    theta = np.zeros(m)
    mu = np.zeros((m, k))
    v_bg = np.zeros((m, k))
    # the rows still iterating (all K start together, so one counter serves them all)
    idx = np.arange(m)
    t = np.zeros(m)
    mu_a = np.zeros((m, k))
    Ka = K.copy()
    ar = np.arange(m)
    kth = np.minimum(k - Ka, k - 1)            # ascending position of the K-th largest
    none = Ka == 0                             # K = 0: no invalid SNP
    y = np.broadcast_to(by, (m, k))
    for _ in range(maxit):
        a = idx.size
        t_old = t
        tc = t[:, None]
        tmu = np.multiply(mu_a, tc, out=mu_a)
        imp = by - tmu
        np.square(imp, out=imp)
        imp *= inv_sy2
        # order(v_importance, decreasing = TRUE)[1:K]: the K largest importances. The
        # K-th largest is a threshold; a row with a tie at it (never seen with real
        # data) takes R's order instead, a stable sort of the negated importances
        srt = np.sort(imp, axis=1)
        r_a = ar[:a]
        thr = srt[r_a, kth]
        thr[none] = np.inf
        sel = imp >= thr[:, None]
        for i in np.nonzero((srt[r_a, kth - 1] == thr) & ~none)[0]:
            sel[i] = False
            sel[i, np.argsort(-imp[i], kind="stable")[:Ka[i]]] = True
        # b_out - v_bg: theta * b where the SNP is invalid, b_out where it is valid
        y = np.where(sel, tmu, by)
        num = np.multiply(y, tc, out=imp)
        num += c1
        den = np.add.outer(t * t, c2)
        mu_a = np.divide(num, den, out=tmu)
        w_mu = np.multiply(mu_a, inv_sy2, out=den)
        t = np.einsum("ij,ij->i", y, w_mu) / np.einsum("ij,ij->i", mu_a, w_mu)
        done = np.abs(t_old - t) <= _TOL
        if done.any():
            rows = idx[done]
            theta[rows], mu[rows], v_bg[rows] = t[done], mu_a[done], (by - y)[done]
            keep = ~done
            idx, t, mu_a, Ka, kth = idx[keep], t[keep], mu_a[keep], Ka[keep], kth[keep]
            y, none = y[keep], none[keep]
            if idx.size == 0:
                break
    else:                                      # maxit reached: the rows still iterating
        theta[idx], mu[idx], v_bg[idx] = t, mu_a, by - y
    # one more step for the invalid SNPs (K > 0)
    nz = (v_bg != 0.0) & (K[:, None] > 0)
    mu = np.where(nz, bx, mu)
    v_bg = np.where(nz, by - theta[:, None] * mu, v_bg)

    fit = by - theta[:, None] * mu - v_bg
    neg_l = (np.sum((bx - mu) ** 2 / (2.0 * sx2), axis=1)
             + np.sum(fit * fit / (2.0 * sy2), axis=1))
    zero = v_bg == 0.0
    t = theta[:, None]
    info = (np.sum(np.where(zero, (mu * mu) / sy2, 0.0), axis=1)
            - np.sum(np.where(zero, ((2.0 * mu * t - by) ** 2 / sy2 ** 2)
                              / (1.0 / sx2 + (t * t) / sy2), 0.0), axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        var = 1.0 / info
        se = np.where(var > 0, np.sqrt(np.where(var > 0, var, 1.0)), np.nan)
    return theta, se, neg_l, v_bg


#: models whose BIC weight is below exp(-NEGLIGIBLE_LOG_WEIGHT) of the best one are skipped
NEGLIGIBLE_LOG_WEIGHT = 100.0
#: the first K fitted together, before the bound on the others is known
_FIRST_K = 8


def _fits_that_count(bx, by, sx, sy, log_n: float, maxit: int, all_models: bool):
    """``cml_fits`` for K = 0, 1, ... up to the last K whose BIC weight can matter.

    Returns ``K, theta, se, neg_l`` of the K fitted (see :func:`mr_cml_ma_bic`).
    """
    k = bx.size
    K_all = np.arange(k - 1)
    if all_models or not log_n > 0:
        theta, se, neg_l, _ = cml_fits(bx, by, sx, sy, K_all, maxit)
        return K_all, theta, se, neg_l
    first = K_all[:_FIRST_K]
    theta, se, neg_l, _ = cml_fits(bx, by, sx, sy, first, maxit)
    best = float(np.min(log_n * first + 2.0 * neg_l))
    # BIC_K >= log(n) K: beyond this K the weight is below exp(-NEGLIGIBLE_LOG_WEIGHT)
    last = min(k - 2, int(math.floor((best + 2.0 * NEGLIGIBLE_LOG_WEIGHT) / log_n)))
    if last >= first.size:
        more = K_all[first.size:last + 1]
        t2, s2, l2, _ = cml_fits(bx, by, sx, sy, more, maxit)
        theta, se, neg_l = (np.concatenate([a, b]) for a, b in ((theta, t2), (se, s2),
                                                                  (neg_l, l2)))
    return K_all[:theta.size], theta, se, neg_l


@register("mr_cml_ma_bic", "cML-MA-BIC", min_snps=3, default=False, needs_samplesize=True,
          citation=_CITE)
def mr_cml_ma_bic(bx, by, sx, sy, params: Params = Params(), rng=None, *,
                  n: float | None = None, maxit: int = MAXIT, all_models: bool = False) -> dict:
    r"""cML-MA-BIC, exact to MendelianRandomization 0.10.0's ``mr_cML(MA = TRUE, DP = FALSE)``.

    Parameters
    ----------
    bx, by, sx, sy : array_like, shape (k,)
        SNP-exposure and SNP-outcome effects and their standard errors.
    params, rng
        Unused: the method is deterministic (R's ``random_start = 0`` starts
        only from :math:`\theta = 0, b = 0` and draws nothing).
    n : float
        Sample size in the BIC penalty; :func:`mrbook.analysis.run_mr` passes
        the smallest sample size of the pair's table (``samplesize.exposure``,
        ``samplesize.outcome``). Without it the result is NaN.
    maxit : int
        Iteration cap of each fit (R's 100).
    all_models : bool
        Fit every K, also those whose weight is provably below
        :data:`NEGLIGIBLE_LOG_WEIGHT` (see Notes); for checking.

    Returns
    -------
    dict
        ``b``, ``se``, ``pval`` (normal), ``nsnp``, ``n`` (the sample size used)
        and ``models`` (the number of K fitted).

    Notes
    -----
    With the fits :math:`(\hat\theta_K, \mathrm{se}_K, \ell_K)` of :func:`cml_fits`
    for :math:`K = 0, \dots, k - 2` (:math:`\ell_K` the negative log-likelihood):

    .. math::

        \mathrm{BIC}_K = \log(n) K + 2\ell_K,\qquad
        w_K = \frac{e^{-(\mathrm{BIC}_K - \min\mathrm{BIC})/2}}
                   {\sum_L e^{-(\mathrm{BIC}_L - \min\mathrm{BIC})/2}},

    .. math::

        \hat\theta = \sum_K w_K\hat\theta_K,\qquad
        \mathrm{se} = \sum_K w_K \sqrt{\mathrm{se}_K^2 + (\hat\theta_K - \hat\theta)^2}

    (terms with an undefined :math:`\mathrm{se}_K` left out, R's ``na.rm = TRUE``) and
    :math:`p = 2\Phi(-|\hat\theta/\mathrm{se}|)`.

    Models that cannot matter are not fitted. The negative log-likelihood is a
    sum of squares, :math:`\ell_K \ge 0`, so :math:`\mathrm{BIC}_K \ge \log(n) K`;
    once the fits of small K give a minimum :math:`B`, every K with
    :math:`\log(n) K - B > 2\cdot 100` has a normalised weight below
    :math:`e^{-100} \approx 4\times 10^{-44}` (the best model's weight is 1 before
    normalising). Such a model changes :math:`\hat\theta` and se by less than
    :math:`4\times 10^{-44}` times its own :math:`|\hat\theta_K|` and
    :math:`\mathrm{se}_K`, far below double precision, so it is skipped (R fits
    them all: with 79 SNPs and n = 184,305, 27 of the 78 fits are made, and the
    skipped ones are those with most invalid SNPs, which iterate longest). The
    fits of the K kept are R's, iteration by iteration.

    References
    ----------
    Xue H, Shen X, Pan W (2021). Am J Hum Genet 108:1251-1269.
    doi:10.1016/j.ajhg.2021.05.014
    """
    bx, by, sx, sy = (np.asarray(v, dtype=float).ravel() for v in (bx, by, sx, sy))
    k = bx.size
    if k < 3 or n is None or not (math.isfinite(float(n)) and float(n) > 0):
        return na_result(n=np.nan if n is None else float(n))
    if not all(np.all(np.isfinite(v)) for v in (bx, by, sx, sy)) or np.any(sx <= 0) \
            or np.any(sy <= 0):
        return na_result(n=float(n))
    K, theta_v, sd_v, l_v = _fits_that_count(bx, by, sx, sy, math.log(float(n)), maxit,
                                             all_models)
    bic = math.log(float(n)) * K + 2.0 * l_v
    bic = bic - bic.min()
    w = np.exp(-0.5 * bic)
    w = w / w.sum()
    theta = float(np.sum(theta_v * w))
    se = float(np.nansum(w * np.sqrt(sd_v * sd_v + (theta_v - theta) ** 2)))
    return {"b": theta, "se": se, "pval": float(p_normal(theta / se)), "nsnp": k, "n": float(n),
            "models": int(K.size)}
