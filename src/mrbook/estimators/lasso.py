r"""Estimators layer: MR-Lasso (MendelianRandomization's ``mr_lasso``) and glmnet's lasso path.

MR-Lasso gives every SNP its own intercept :math:`\alpha_j` (a direct, pleiotropic
effect) in the IVW regression and penalises them with the lasso,

.. math::

    \min_{\beta, \alpha}\ \tfrac12 \sum_j \sigma_{Yj}^{-2}(\beta_{Yj} - \beta\beta_{Xj} - \alpha_j)^2
    + \lambda \sum_j |\alpha_j|;

the SNPs whose :math:`\alpha_j` is zero at the chosen :math:`\lambda` are taken as
valid, and the estimate is the IVW estimate on them (post-lasso). Profiling
:math:`\beta` out turns this into an ordinary lasso of the projected outcome on
the projected identity, which MendelianRandomization fits with ``glmnet``: its
lambda path, its stopping rules and the package's heterogeneity rule for
:math:`\lambda` decide which SNPs are valid, so they are reproduced here.

References
----------
Rees JMB, Wood AM, Dudbridge F, Burgess S (2019). Robust methods in Mendelian
randomization via penalization of heterogeneous causal estimates. PLoS ONE
14:e0222362. doi:10.1371/journal.pone.0222362

Friedman J, Hastie T, Tibshirani R (2010). Regularization paths for generalized
linear models via coordinate descent. J Stat Softw 33(1):1-22.
doi:10.18637/jss.v033.i01 (glmnet 4.1-6: ``glmnet()``, ``elnet``, ``fix.lam``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from ._registry import Params, register
from ._stats import na_result, p_normal

__all__ = ["GLMNET_CONTROL", "glmnet_mr_lasso_path", "mr_lasso"]

#: ``glmnet.control()`` defaults that shape a gaussian path (glmnet 4.1-6)
GLMNET_CONTROL = {"fdev": 1e-5, "devmax": 0.999, "eps": 1e-6, "big": 9.9e35, "mnlam": 5}


def _standardise(x, y):
    r"""glmnet's ``standard()`` for unit weights, ``intercept = FALSE``, ``standardize = TRUE``.

    Weights ``w = 1/n``, ``v = sqrt(w)``. The response is scaled, not centred:
    :math:`\tilde y = v y / y_s` with :math:`y_s = \|v y\|`. Each column is scaled by
    its (centred, divide-by-n) standard deviation :math:`x_{s,j}` but not centred,
    :math:`\tilde x_j = v x_j / x_{s,j}`, so :math:`\|\tilde x_j\|^2 = 1 +
    \bar x_j^2 / \mathrm{var}(x_j)`, returned as glmnet computes it (``xv``).
    """
    n = y.size
    v = math.sqrt(1.0 / n)
    yv = v * y
    ys = math.sqrt(float(yv @ yv))
    xv_ = v * x
    xv = np.einsum("ij,ij->j", xv_, xv_)
    xbq = (v * xv_.sum(axis=0)) ** 2
    vc = xv - xbq
    xs = np.sqrt(vc)
    return xv_ / xs, yv / ys, xs, ys, 1.0 + xbq / vc


def _cd_point(lam, a, S, rsq, c, xv, dq, ever, in_ever, iz, thr, p):
    """glmnet's coordinate descent at one lambda (``elnet`` point, covariance mode), in place.

    Returns the updated ``S``, ``rsq`` and ``iz``. See :func:`glmnet_mr_lasso_path`.
    """
    jz = True
    while True:
        if not (iz and jz):                        # a pass over every coordinate
            dlx = 0.0
            for k in range(p):
                ak = a[k]
                dk = dq[k]
                u = c[k] + dk * (S - dk * ak)
                v = abs(u) - lam
                new = math.copysign(v, u) / xv[k] if v > 0.0 else 0.0
                if new == ak:
                    continue
                if not in_ever[k]:
                    in_ever[k] = True
                    ever.append(k)
                d = new - ak
                x = xv[k]
                rsq += d * (2.0 * (u - ak * x) - d * x)
                t = x * d * d
                if t > dlx:
                    dlx = t
                S += dk * d
                a[k] = new
            if dlx < thr:
                return S, rsq, iz
        iz = True
        while True:                                # passes over the coordinates ever active
            dlx = 0.0
            for k in ever:
                ak = a[k]
                dk = dq[k]
                u = c[k] + dk * (S - dk * ak)
                v = abs(u) - lam
                new = math.copysign(v, u) / xv[k] if v > 0.0 else 0.0
                if new == ak:
                    continue
                d = new - ak
                x = xv[k]
                rsq += d * (2.0 * (u - ak * x) - d * x)
                t = x * d * d
                if t > dlx:
                    dlx = t
                S += dk * d
                a[k] = new
            if dlx < thr:
                break
        jz = False


def glmnet_mr_lasso_path(x, y, d, q, nlambda: int = 100, lambda_min_ratio: float | None = None,
                         lambdas=None, thresh: float = 1e-7):
    r"""glmnet 4.1-6's lasso path for MR-Lasso's design (gaussian, ``intercept = FALSE``).

    Parameters
    ----------
    x : ndarray, shape (n, p)
        The design :math:`(I - qq^\top)S^{1/2}` (for glmnet's standardisation).
    y : ndarray, shape (n,)
        The response.
    d, q : ndarray, shape (p,)
        The design's structure, :math:`x_{ij} = d_j(\delta_{ij} - q_iq_j)` with
        :math:`\|q\| = 1` (MR-Lasso: :math:`d = \sigma_Y^{-1}`, :math:`q = b/\|b\|`).
    nlambda, lambda_min_ratio
        glmnet's grid: 100 lambdas down to 1e-4 of the largest (0.01 when n < p).
    lambdas : array_like, optional
        User lambdas instead of the grid (``glmnet(..., lambda = lambdas)``).
    thresh : float
        glmnet's convergence threshold (1e-7).

    Returns
    -------
    lambdas : ndarray, shape (L,)
        The path's lambdas, decreasing, as ``glmnet(...)$lambda`` (the first one
        replaced by ``fix.lam``); ``L <= nlambda`` when a stopping rule ends it.
    beta : ndarray, shape (L, p)
        The coefficients (exact zeros where coordinate descent leaves them at 0).
    rsq : ndarray, shape (L,)
        The fraction of deviance explained (``dev.ratio``).

    Notes
    -----
    *Standardisation* (:func:`_standardise`): in glmnet's units the problem is
    :math:`\min_a \tfrac12\|\tilde y - \tilde X a\|^2 + \lambda\|a\|_1`.

    *Grid*: :math:`\lambda_1 = 9.9\times10^{35}` (nothing enters),
    :math:`\lambda_2 = \varphi\max_j|\tilde x_j^\top\tilde y|`, :math:`\lambda_{m+1} =
    \varphi\lambda_m` (multiplied in sequence), :math:`\varphi` =
    ``lambda_min_ratio^(1/(nlambda-1))``; reported as :math:`y_s\lambda_m` and
    :math:`y_s a_j/x_{s,j}`, and R's ``fix.lam`` sets the first lambda to
    :math:`\exp(2\log\lambda_2 - \log\lambda_3)`. From the fifth lambda on, the path
    stops after the first lambda at which :math:`R^2` exceeds 0.999 or grows by
    less than a relative 1e-5 (``glmnet.control``: ``devmax``, ``fdev``).

    *Coordinate descent*, as glmnet's covariance-mode point solver, warm-started
    from the previous lambda: the update of coordinate :math:`k` is
    :math:`a_k \leftarrow \mathrm{sign}(u)(|u| - \lambda)_+/\|\tilde x_k\|^2` with
    :math:`u = g_k + a_k\|\tilde x_k\|^2` and :math:`g` the gradient; a lambda starts
    with passes over the coordinates that were ever non-zero until the largest
    :math:`\|\tilde x_k\|^2\Delta a_k^2` of a pass is below ``thresh``, then makes a
    pass over all coordinates (in index order), and stops when that pass, too,
    changes less than ``thresh`` (newly non-zero coordinates join the set, in the
    order they entered). :math:`R^2` accumulates :math:`\Delta(2g_k - \Delta\|\tilde
    x_k\|^2)`.

    glmnet's solutions are approximate (within ``thresh``), and at small lambdas
    their zeros differ from the exact lasso's; MR-Lasso's choice of lambda reads
    the zeros of every lambda, so the algorithm itself is reproduced, not just the
    lasso. What is not glmnet's is the bookkeeping: for this design
    :math:`\tilde X^\top\tilde X = D'(I - qq^\top)D'` (:math:`D'` = ``d`` over glmnet's
    column scales), so :math:`u = c_k + d'_kq_k(S - d'_kq_ka_k)` with :math:`c =
    \tilde X^\top\tilde y` and the single running sum :math:`S = \sum_j d'_jq_ja_j`:
    each update costs O(1) instead of glmnet's O(p) update of the gradient. The
    two agree to rounding (~1e-16); the coefficients at MendelianRandomization's
    chosen lambda equal R's to 1e-16 on the reference data.

    Written by hand because MR-Lasso's answer depends on glmnet's own grid,
    standardisation, stopping rules and coordinate-descent iterates, which no
    Python lasso reproduces.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n, p = x.shape
    if lambda_min_ratio is None:
        lambda_min_ratio = 0.01 if n < p else 1e-4
    ctl = GLMNET_CONTROL
    Xs, ys_, xs, ys, xv = _standardise(x, y)
    c = np.einsum("ij,i->j", Xs, ys_)
    dq = (math.sqrt(1.0 / n) * np.asarray(d, float) / xs) * np.asarray(q, float)
    user = lambdas is not None
    if user:
        grid = np.sort(np.asarray(lambdas, dtype=float))[::-1] / ys
        nlam = grid.size
    else:
        nlam = nlambda
        alf = max(ctl["eps"], lambda_min_ratio) ** (1.0 / (nlambda - 1.0))
        grid = np.empty(nlambda)
        grid[0] = ctl["big"]
        if nlambda > 1:
            lam0 = float(np.max(np.abs(c)))        # alm0 / max(alpha = 1, 1e-3)
            grid[1:] = np.cumprod(np.concatenate([[lam0 * alf], np.full(nlambda - 2, alf)]))
    a = [0.0] * p
    cl, xvl, dql = c.tolist(), xv.tolist(), dq.tolist()
    ever: list[int] = []
    in_ever = [False] * p
    S = rsq = 0.0
    iz = False
    beta = np.zeros((nlam, p))
    rsqs = np.zeros(nlam)
    lmu = nlam
    for m in range(nlam):
        rsq0 = rsq
        S, rsq, iz = _cd_point(float(grid[m]), a, S, rsq, cl, xvl, dql, ever, in_ever, iz,
                               thresh, p)
        beta[m] = a
        rsqs[m] = rsq
        if user or m + 1 < ctl["mnlam"]:
            continue
        prop = math.inf if rsq == 0 else (rsq - rsq0) / rsq
        if prop < ctl["fdev"] or rsq > ctl["devmax"]:
            lmu = m + 1
            break
    lam_out = ys * grid[:lmu]
    beta = beta[:lmu] * (ys / xs)[None, :]
    if not user and lmu > 2:                       # fix.lam
        llam = np.log(lam_out)
        lam_out[0] = math.exp(2.0 * llam[1] - llam[2])
    return lam_out, beta, rsqs[:lmu]


def _post_ivw(bx, by, w, mask):
    """``lm(by ~ bx - 1, weights = w)`` on the rows of ``mask``, per row of ``mask``.

    Returns the slope, its ``lm`` standard error and the residual standard error
    sigma (NaN with fewer than two rows).
    """
    mask = np.atleast_2d(mask)
    W = np.where(mask, w, 0.0)
    sxx = W @ (bx * bx)
    df = mask.sum(axis=1) - 1
    with np.errstate(divide="ignore", invalid="ignore"):       # no row: 0/0, NaN as lm's NA
        b = (W @ (bx * by)) / sxx
        res = by[None, :] - b[:, None] * bx[None, :]
        sigma = np.sqrt(np.einsum("ij,ij->i", W, res * res) / df)
        se = sigma / np.sqrt(sxx)
    bad = df < 1
    return np.where(bad, np.nan, b), np.where(bad, np.nan, se), np.where(bad, np.nan, sigma)


@register("mr_lasso", "MR-Lasso", min_snps=3, default=False,
          citation="Rees et al. 2019, doi:10.1371/journal.pone.0222362")
def mr_lasso(bx, by, sx, sy, params: Params = Params(), rng=None, *,
             lambda_: float | None = None) -> dict:
    r"""MR-Lasso, exact to MendelianRandomization 0.10.0's ``mr_lasso`` (normal distribution).

    Parameters
    ----------
    bx, by, sx, sy : array_like, shape (k,)
        SNP-exposure and SNP-outcome effects and their standard errors (``sx`` is
        not used, as in R).
    params, rng
        Unused (the contract's signature).
    lambda_ : float, optional
        A fixed tuning parameter instead of the package's choice (glmnet is then
        run at that value alone, as ``mr_lasso(lambda = ...)`` does).

    Returns
    -------
    dict
        ``b``, ``se``, ``pval`` (normal), ``nsnp``; ``valid`` (boolean mask of the
        SNPs whose intercept is zero), ``n_valid``, ``lambda``, ``intercepts`` (the
        :math:`\alpha_j`) and ``reg_estimate`` (the penalised estimate).

    Notes
    -----
    Orient the SNPs so that :math:`\beta_{Xj} > 0` (:math:`\beta_{Yj} \leftarrow
    \beta_{Yj}\,\mathrm{sign}(\beta_{Xj})`), let :math:`S^{1/2} = \mathrm{diag}(\sigma_{Yj}^{-1})`,
    :math:`b = S^{1/2}\beta_X` and :math:`P = b(b^\top b)^{-1}b^\top`. The lasso of
    :math:`(I - P)S^{1/2}\beta_Y` on :math:`(I - P)S^{1/2}` (no intercept) is
    :func:`glmnet_mr_lasso_path`. For each of its lambdas, in increasing order, the
    SNPs with zero coefficient are fitted by the IVW regression without
    intercept, residual standard error :math:`\hat\sigma_l` on :math:`v_l` SNPs.
    :math:`\lambda` is the smallest lambda :math:`l` whose successor has
    :math:`\hat\sigma_{l+1} > 1` and :math:`\hat\sigma_{l+1} - \hat\sigma_l >
    \chi^2_{1,0.95}/v_{l+1}` (the largest lambda if none), but no smaller than the
    first lambda with two valid SNPs. The estimate is the IVW estimate on the
    valid SNPs (weights :math:`\sigma_{Yj}^{-2}`), its standard error the ``lm`` one
    divided by :math:`\min(1, \hat\sigma)`, and :math:`p = 2\Phi(-|\hat\beta/\mathrm{se}|)`.
    With fewer than two valid SNPs the result is NaN (R prints a message).

    References
    ----------
    Rees JMB, Wood AM, Dudbridge F, Burgess S (2019). PLoS ONE 14:e0222362.
    doi:10.1371/journal.pone.0222362
    """
    bx0, by0, sy = (np.asarray(v, dtype=float).ravel() for v in (bx, by, sy))
    k = bx0.size
    extra = dict(valid=np.zeros(k, dtype=bool), n_valid=0, intercepts=np.full(k, np.nan),
                 reg_estimate=np.nan)
    extra["lambda"] = np.nan
    if k < 3 or not (np.all(np.isfinite(bx0)) and np.all(np.isfinite(by0))
                     and np.all(np.isfinite(sy)) and np.all(sy > 0)):
        return na_result(**extra)
    Bx = np.abs(bx0)
    By = by0 * np.sign(bx0)
    s_half = np.power(np.power(sy, -2.0), 0.5)       # S^(1/2) of diag(Byse^-2)
    b = s_half * Bx
    btb = float(b @ b)
    if not btb > 0:
        return na_result(**extra)
    # (I - b (b'b)^-1 b') S^(1/2), and the same applied to By
    xlas = np.diag(s_half) - np.outer(b, b * s_half) / btb
    ylas = s_half * By - b * (float(b @ (s_half * By)) / btb)
    if not np.any(ylas != 0.0):        # every ratio equal: glmnet stops ("y is constant")
        return na_result(**extra)

    wts = np.power(sy, -2.0)
    q = b / math.sqrt(btb)                   # xlas = (I - q q') diag(s_half)
    if lambda_ is None:
        lambdas, path, _ = glmnet_mr_lasso_path(xlas, ylas, s_half, q)
        zero = path == 0.0                                   # decreasing lambda
        # rse for each lambda in INCREASING order: lm(S^(1/2) By[av] ~ S^(1/2) Bx[av] - 1)
        zero_inc = zero[::-1]
        _, _, rse = _post_ivw(b, s_half * By, np.ones(k), zero_inc)
        nvalid = zero_inc.sum(axis=1)
        L = lambdas.size
        crit = float(special.chdtri(1.0, 0.05))              # qchisq(0.95, 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            het = np.nonzero((rse[1:] > 1) & ((rse[1:] - rse[:-1]) > crit / nvalid[1:]))[0]
        pos = L - 1 if het.size == 0 else int(het[0])         # 0-based in increasing order
        enough = np.nonzero(nvalid > 1)[0]
        if enough.size == 0:
            return na_result(**extra)
        pos = max(pos, int(enough[0]))
        a = path[L - 1 - pos]
        lam = float(lambdas[::-1][pos])
    else:
        lam = float(lambda_)
        a = glmnet_mr_lasso_path(xlas, ylas, s_half, q, lambdas=[lam])[1][0]
    valid = a == 0.0
    e = By - a
    reg = float((Bx @ (wts * e)) / (Bx @ (wts * Bx)))
    extra.update(valid=valid, n_valid=int(valid.sum()), intercepts=a, reg_estimate=reg)
    extra["lambda"] = lam
    if valid.sum() < 2:
        return na_result(**extra)
    est, se_lm, sigma = (float(v[0]) for v in _post_ivw(Bx, By, wts, valid))
    se = se_lm / min(sigma, 1.0)
    return {"b": est, "se": se, "pval": float(p_normal(est / se)), "nsnp": k, **extra}
