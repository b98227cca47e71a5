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

__all__ = ["GLMNET_CONTROL", "DenseGram", "ProjectedGram", "glmnet_lasso_path", "lasso_at",
           "lasso_homotopy", "mr_lasso"]

#: ``glmnet.control()`` defaults that shape a gaussian path (glmnet 4.1-6)
GLMNET_CONTROL = {"fdev": 1e-5, "devmax": 0.999, "eps": 1e-6, "big": 9.9e35, "mnlam": 5}
#: relative distance below the current lambda at which a path event counts
_EVENT_TOL = 1e-12


def _standardise(x, y):
    r"""glmnet's ``standard()`` for unit weights, ``intercept = FALSE``, ``standardize = TRUE``.

    Weights ``w = 1/n``, ``v = sqrt(w)``. The response is scaled, not centred:
    :math:`\tilde y = v y / y_s` with :math:`y_s = \|v y\|`. Each column is scaled by
    its (centred, divide-by-n) standard deviation :math:`x_{s,j}` but not centred,
    :math:`\tilde x_j = v x_j / x_{s,j}`, so :math:`\|\tilde x_j\|^2 = 1 +
    \bar x_j^2 / \mathrm{var}(x_j)` (glmnet's ``xv``).
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
    return xv_ / xs, yv / ys, xs, ys


class DenseGram:
    r"""The Gram matrix :math:`G = \tilde X^\top\tilde X` of a general design, for :func:`lasso_homotopy`."""

    def __init__(self, Xs):
        self.G = Xs.T @ Xs

    def solve(self, A, rhs):
        """:math:`G_{AA}^{-1}` rhs (rhs of shape (|A|, r))."""
        return np.linalg.solve(self.G[np.ix_(A, A)], rhs)

    def cross(self, inactive, A, z):
        """:math:`G_{IA} z` for the rows ``inactive`` (boolean mask) and z of shape (|A|, r)."""
        return self.G[np.ix_(inactive, A)] @ z


class ProjectedGram:
    r"""The Gram matrix :math:`G = D(I - qq^\top)D` (:math:`\|q\| = 1`) of MR-Lasso's design.

    MR-Lasso's design is :math:`(I - qq^\top)S^{1/2}` with :math:`q = b/\|b\|`, so after
    glmnet's column scaling :math:`G = D(I - qq^\top)D` with :math:`D` diagonal, and
    by Sherman-Morrison

    .. math:: G_{AA}^{-1} = D_A^{-1}\Big(I + \frac{q_Aq_A^\top}{1 - \|q_A\|^2}\Big)D_A^{-1},
              \qquad G_{IA} z = -D_I q_I\, q_A^\top D_A z \quad (I \cap A = \emptyset),

    with :math:`1 - \|q_A\|^2 = \|q_{A^c}\|^2` summed over the SNPs outside A (no
    cancellation). Every step of the homotopy is then O(k) arithmetic: no
    factorisation, no BLAS call (whose threads only cost time at this size).
    """

    def __init__(self, d, q):
        self.d = np.asarray(d, dtype=float)
        self.q = np.asarray(q, dtype=float)
        self.q2 = self.q * self.q
        self.dq = self.d * self.q

    def solve(self, A, rhs):
        dA, qA = self.d[A], self.q[A]
        rest = float(self.q2.sum() - self.q2[A].sum()) if A.size * 2 < self.d.size else \
            float(np.delete(self.q2, A).sum())
        if not rest > 0:                       # every column active: G_AA is singular
            raise np.linalg.LinAlgError("the active columns span q")
        t = rhs / dA[:, None]
        return (t + np.outer(qA, qA @ t) / rest) / dA[:, None]

    def cross(self, inactive, A, z):
        return -np.outer(self.dq[inactive], self.dq[A] @ z)


def lasso_homotopy(c, gram, lam_stop: float = 0.0):
    r"""The exact lasso path of :math:`\tfrac12\|\tilde y - \tilde Xa\|^2 + \lambda\|a\|_1` (LARS-lasso).

    Parameters
    ----------
    c : ndarray, shape (p,)
        :math:`\tilde X^\top \tilde y`.
    gram : DenseGram or ProjectedGram
        Products with :math:`G = \tilde X^\top\tilde X`.
    lam_stop : float
        Stop once the path is below this lambda.

    Yields
    ------
    hi, lo, A, u, w
        On :math:`\lambda \in [lo, hi]` the solution is :math:`a_A = u - \lambda w`
        on the active set ``A`` (increasing indices) and 0 elsewhere; ``lo = 0``
        on the last segment.

    Notes
    -----
    Starting from :math:`\lambda = \max_j|c_j|` with the maximising coordinate
    active, on each segment :math:`u = G_{AA}^{-1}c_A`, :math:`w = G_{AA}^{-1}s_A`
    (:math:`s` the signs of the active correlations). The segment ends at the
    largest :math:`\lambda` below the current one where an inactive correlation
    :math:`c_j - G_{jA}(u - \lambda w)` reaches :math:`\pm\lambda` (the coordinate
    joins with that sign) or an active coefficient reaches 0 (it leaves; it may
    not rejoin at the same point). Events closer than a relative 1e-12 below the
    current lambda are rounding echoes of the last one and are ignored.

    References
    ----------
    Efron B, Hastie T, Johnstone I, Tibshirani R (2004). Least angle regression.
    Ann Stat 32:407-499. doi:10.1214/009053604000000067
    """
    p = c.size
    lam = float(np.max(np.abs(c))) if p else 0.0
    if not lam > 0:
        return
    act = np.zeros(p, dtype=bool)
    sgn = np.zeros(p)
    j0 = int(np.argmax(np.abs(c)))
    act[j0], sgn[j0] = True, np.sign(c[j0])
    dropped = -1
    with np.errstate(divide="ignore", invalid="ignore"):
        while act.any():
            A = np.flatnonzero(act)
            try:
                uw = gram.solve(A, np.column_stack([c[A], sgn[A]]))
            except np.linalg.LinAlgError:      # dependent active columns: the path ends
                return
            u, w = uw[:, 0], uw[:, 1]
            nxt, kind, what = 0.0, None, None
            below = lam * (1.0 - _EVENT_TOL)
            inactive = ~act
            if dropped >= 0:
                inactive[dropped] = False          # a coordinate that just left stays out here
            out = np.flatnonzero(inactive)
            if out.size:
                cr = gram.cross(out, A, uw)
                al = c[out] - cr[:, 0]
                be = cr[:, 1]
                for lj, s in ((al / (1.0 - be), 1.0), (-al / (1.0 + be), -1.0)):
                    lj = np.where((lj > 0) & (lj < below), lj, -np.inf)
                    i = int(np.argmax(lj))
                    if lj[i] > nxt:
                        nxt, kind, what = float(lj[i]), "join", (int(out[i]), s)
            ll = u / w
            ll = np.where((ll > 0) & (ll < below), ll, -np.inf)
            i = int(np.argmax(ll))
            if ll[i] > nxt:
                nxt, kind, what = float(ll[i]), "leave", int(A[i])
            yield lam, nxt, A, u, w
            if kind is None or nxt < lam_stop:
                return
            lam, dropped = nxt, -1
            if kind == "join":
                act[what[0]], sgn[what[0]] = True, what[1]
            else:
                act[what], sgn[what], dropped = False, 0.0, what


def glmnet_lasso_path(x, y, nlambda: int = 100, lambda_min_ratio: float | None = None,
                      gram=None):
    r"""glmnet 4.1-6's lasso path (gaussian, ``intercept = FALSE``, defaults), solved exactly.

    Parameters
    ----------
    x : ndarray, shape (n, p)
    y : ndarray, shape (n,)
    nlambda : int
        Length of the lambda grid (glmnet's 100).
    lambda_min_ratio : float, optional
        Smallest lambda over the largest (glmnet's ``ifelse(n < p, 0.01, 1e-4)``).
    gram : callable, optional
        ``gram(xs, Xs)`` returning the Gram object of the standardised design
        (column scales ``xs``, design ``Xs``) for :func:`lasso_homotopy`; default
        :class:`DenseGram`.

    Returns
    -------
    lambdas : ndarray, shape (L,)
        The path's lambdas, decreasing, as ``glmnet(...)$lambda`` (the first one
        replaced by ``fix.lam``); ``L <= nlambda`` when a stopping rule ends the
        path early.
    beta : ndarray, shape (L, p)
        The coefficients at each lambda (zeros exactly where the lasso sets them).
    rsq : ndarray, shape (L,)
        The fraction of deviance explained (``dev.ratio``).

    Notes
    -----
    glmnet standardises the data (:func:`_standardise`), so that in those units the
    problem is :math:`\min_a \tfrac12\|\tilde y - \tilde X a\|^2 + \lambda\|a\|_1`, and
    walks the grid :math:`\lambda_1 = \infty` (nothing enters), :math:`\lambda_2 =
    \varphi \max_j|\tilde x_j^\top\tilde y|`, :math:`\lambda_{m+1} = \varphi\lambda_m`
    (multiplied in sequence) with :math:`\varphi` = ``lambda_min_ratio^(1/(nlambda-1))``,
    reporting :math:`y_s\lambda_m` and :math:`y_s a_j / x_{s,j}`; R's ``fix.lam`` then
    sets the first lambda to :math:`\exp(2\log\lambda_2 - \log\lambda_3)`. From the
    fifth lambda on, the path stops after the first lambda at which the fraction
    of deviance explained :math:`R^2_m = 1 - \|\tilde y - \tilde X a\|^2` exceeds
    0.999 or grows by less than a relative 1e-5 (``glmnet.control``'s ``devmax``
    and ``fdev``).

    glmnet approximates each solution by coordinate descent (to ``thresh =
    1e-7``); here the lasso path is followed exactly instead
    (:func:`lasso_homotopy`): all grid lambdas of a segment are evaluated at once,
    with :math:`R^2 = a^\top c + \lambda\|a\|_1` (from :math:`G_{AA}a_A = c_A -
    \lambda s_A`). The set of non-zero coefficients at each lambda, which is all
    that MR-Lasso uses of the path besides the lambdas, is exact; glmnet's can
    differ from it only where a coefficient enters or leaves the model within
    coordinate descent's tolerance of a grid point.

    Written by hand because MR-Lasso's answer depends on glmnet's own grid,
    standardisation and stopping rules, which no Python lasso reproduces.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n, p = x.shape
    if lambda_min_ratio is None:
        lambda_min_ratio = 0.01 if n < p else 1e-4
    ctl = GLMNET_CONTROL
    Xs, ys_, xs, ys = _standardise(x, y)
    c = np.einsum("ij,i->j", Xs, ys_)
    G = DenseGram(Xs) if gram is None else gram(xs, Xs)
    alf = max(ctl["eps"], lambda_min_ratio) ** (1.0 / (nlambda - 1.0))
    lam0 = float(np.max(np.abs(c)))            # alm0 / max(alpha = 1, 1e-3)
    grid = np.empty(nlambda)
    grid[0] = ctl["big"]
    if nlambda > 1:
        grid[1:] = np.cumprod(np.concatenate([[lam0 * alf], np.full(nlambda - 2, alf)]))

    beta = np.zeros((nlambda, p))
    rsq = np.zeros(nlambda)
    lmu = nlambda
    m = 1                                      # next grid point to evaluate (0: all zero)
    for hi_lam, lo_lam, A, u, w in lasso_homotopy(c, G, lam_stop=grid[-1]):
        hi = m
        while hi < nlambda and grid[hi] > lo_lam:
            hi += 1
        if hi == m:
            continue
        lams = grid[m:hi]
        a = u[None, :] - lams[:, None] * w[None, :]
        r2 = a @ c[A] + lams * np.abs(a).sum(axis=1)
        beta[m:hi, A] = a
        rsq[m:hi] = r2
        prev = rsq[m - 1:hi - 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            prop = np.where(r2 == 0, np.inf, (r2 - prev) / r2)
        stop = (np.arange(m, hi) + 1 >= ctl["mnlam"]) & ((prop < ctl["fdev"]) | (r2 > ctl["devmax"]))
        if stop.any():
            lmu = m + int(np.argmax(stop)) + 1
            break
        m = hi
        if m >= nlambda:
            break
    lambdas = ys * grid[:lmu]
    beta = beta[:lmu] * (ys / xs)[None, :]
    if lmu > 2:                                # fix.lam
        llam = np.log(lambdas)
        lambdas[0] = math.exp(2.0 * llam[1] - llam[2])
    return lambdas, beta, rsq[:lmu]


def lasso_at(x, y, lam: float, gram=None) -> np.ndarray:
    """The lasso solution at one lambda (``glmnet(x, y, intercept = FALSE, lambda = lam)``), exactly."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    Xs, ys_, xs, ys = _standardise(x, y)
    c = np.einsum("ij,i->j", Xs, ys_)
    G = DenseGram(Xs) if gram is None else gram(xs, Xs)
    target = lam / ys
    a = np.zeros(c.size)
    for hi_lam, lo_lam, A, u, w in lasso_homotopy(c, G, lam_stop=target):
        if lo_lam <= target <= hi_lam:
            a[A] = u - target * w
            break
    return a * ys / xs


def _post_ivw(bx, by, w, mask):
    """``lm(by ~ bx - 1, weights = w)`` on the rows of ``mask``, per row of ``mask``.

    Returns the slope, its ``lm`` standard error and the residual standard error
    sigma (NaN with fewer than two rows).
    """
    mask = np.atleast_2d(mask)
    W = np.where(mask, w, 0.0)
    sxx = W @ (bx * bx)
    b = (W @ (bx * by)) / sxx
    res = by[None, :] - b[:, None] * bx[None, :]
    df = mask.sum(axis=1) - 1
    with np.errstate(divide="ignore", invalid="ignore"):
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
        A fixed tuning parameter instead of the package's choice; the lasso is
        then solved exactly at that value.

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
    :func:`glmnet_lasso_path`. For each of its lambdas, in increasing order, the
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

    wts = np.power(sy, -2.0)
    q = b / math.sqrt(btb)
    v = math.sqrt(1.0 / k)

    def gram(xs, Xs):                  # the standardised design is diag(v s / xs) (I - q q')
        return ProjectedGram(v * s_half / xs, q)

    if lambda_ is None:
        lambdas, path, _ = glmnet_lasso_path(xlas, ylas, gram=gram)
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
        a = lasso_at(xlas, ylas, lam, gram=gram)
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
