"""Estimators layer: MendelianRandomization's robust and penalised IVW and robust MR-Egger.

Robust IVW, penalised IVW and robust MR-Egger as MendelianRandomization 0.10.0
computes them (``R/mr_ivw-methods.R``, ``R/mr_egger-methods.R``) with its
defaults: first-order weights, ``model = "default"`` (random effects with four
or more SNPs, fixed effects otherwise), normal-distribution P values
:math:`2\\Phi(-|\\hat\\beta/\\mathrm{se}|)`, intervals :math:`\\hat\\beta \\pm
z_{0.975}\\mathrm{se}`. The robust fits are robustbase's ``lmrob`` MM-estimator
(:func:`mrbook.rmath.lmrob.lmrob`), whose S-step draws R's random numbers after
``set.seed(seed)`` with the run's seed (MendelianRandomization leaves the seed
to the caller; the references were made after ``set.seed(1234)``).
"""

from __future__ import annotations

import threading

import numpy as np
from scipy import special

from ..rmath.generator import RRNG
from ..rmath.lmrob import LmrobControl, lmrob
from ._registry import Params, register
from ._stats import na_result, p_normal

#: lmrob.control() as MendelianRandomization calls it: k.max = 500, maxit.scale = 500
MR_LMROB = LmrobControl(k_max=500, maxit_scale=500)

_CITE_ROBUST = ("Burgess, Bowden, Dudbridge & Thompson 2016, doi:10.48550/arXiv.1606.03729; "
                "Yohai 1987, doi:10.1214/aos/1176350366")
_CITE_PEN = "Burgess, Bowden, Dudbridge & Thompson 2016, doi:10.48550/arXiv.1606.03729"


_STREAMS = threading.local()


def r_stream(rng) -> RRNG:
    """R's generator right after ``set.seed(seed)``, ``seed`` being the run's (1234 by default).

    ``rng`` is the run's random source (its ``seed`` attribute is used); the
    draws of these methods do not depend on what other methods drew before.
    One generator per thread is reseeded (cheaper than making a new one).
    """
    seed = int(getattr(rng, "seed", 1234))
    stream = getattr(_STREAMS, "rrng", None)
    if stream is None:
        stream = _STREAMS.rrng = RRNG(seed)
    else:
        stream.set_seed(seed)
    return stream


def _model_se(coef_se: float, sigma: float, k: int) -> float:
    """MendelianRandomization's default model: random effects (k >= 4) or fixed effects.

    ``summary(fit)$coef[, 2] / min(sigma, 1)`` (random) or ``/ sigma`` (fixed),
    in R's arithmetic (0/0 is NaN).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(coef_se) / (min(sigma, 1.0) if k >= 4 else sigma))


def _ratio(a: float, b: float) -> float:
    """``a / b`` as R divides (x/0 is +-Inf, 0/0 NaN)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(a) / b)


def _p_egger(z: float) -> float:
    """mr_egger's P value, ``2 * (1 - pnorm(abs(z)))`` as written in its source."""
    return float(2.0 * (1.0 - special.ndtr(abs(z))))


@register("mr_ivw_robust", "Robust IVW", min_snps=2, default=False, citation=_CITE_ROBUST)
def mr_ivw_robust(bx, by, sx, sy, params: Params = Params(), rng=None) -> dict:
    r"""Robust inverse-variance weighted estimate (MendelianRandomization ``mr_ivw(robust = TRUE)``).

    Parameters
    ----------
    bx, by, sx, sy : array_like
        SNP-exposure and SNP-outcome effects and their standard errors.
    params : Params
        Unused.
    rng : random source, optional
        Only its ``seed`` is used (default 1234): the S-step of ``lmrob`` draws
        from R's generator after ``set.seed(seed)``.

    Returns
    -------
    dict
        ``b``, ``se``, ``pval`` (normal), ``nsnp``, ``rse`` (the robust residual
        scale, ``summary(lmrob)$sigma``), ``note`` (robustbase's warnings, e.g. a
        fit that did not converge and so has no standard error; None).

    Notes
    -----
    The IVW regression through the origin fitted by robust MM-regression,
    ``lmrob(by ~ bx - 1, weights = sy^-2)`` (robustbase's defaults, ``k.max =
    maxit.scale = 500``): an S-estimate (50 % breakdown) starts bisquare IRWLS
    at its scale (95 % efficiency), so that SNPs with outlying ratio estimates
    get small or zero weight. With :math:`\hat\sigma` the robust scale and
    :math:`s` the ``.vcov.avar1`` standard error,

    .. math:: \mathrm{se} = s / \min(1, \hat\sigma) \ (k \ge 4), \qquad
              s / \hat\sigma \ (k < 4),

    :math:`P = 2\Phi(-|\hat\beta/\mathrm{se}|)`. The estimate depends on the
    S-step's random subsamples only within ``lmrob``'s convergence tolerance
    (1e-7); with one regressor and many SNPs every single-SNP subsample is
    tried and the seed has no effect (see :mod:`mrbook.rmath.lmrob`).

    References
    ----------
    Burgess S, Bowden J, Dudbridge F, Thompson SG (2016). Robust instrumental
    variable methods using multiple candidate instruments with application to
    Mendelian randomization. arXiv:1606.03729. doi:10.48550/arXiv.1606.03729

    Yohai VJ (1987). Ann Stat 15:642-656. doi:10.1214/aos/1176350366

    Examples
    --------
    >>> import numpy as np
    >>> g = np.random.default_rng(1)
    >>> bx = g.uniform(0.05, 0.2, 30); by = 0.4 * bx + g.normal(0, 0.01, 30)
    >>> round(mr_ivw_robust(bx, by, np.full(30, 0.01), np.full(30, 0.01))["b"], 2)
    0.4
    """
    bx, by, sy = (np.asarray(v, dtype=float) for v in (bx, by, sy))
    k = bx.size
    if k < 2:
        return na_result(rse=np.nan, note=None)
    fit = lmrob(bx[:, None], by, sy ** -2.0, rng=r_stream(rng), control=MR_LMROB)
    b = float(fit.coef[0])
    se = _model_se(float(fit.se[0]), fit.scale, k)
    pval = float(p_normal(_ratio(b, se)))
    return {"b": b, "se": se, "pval": pval, "nsnp": k, "rse": fit.scale,
            "note": ("lmrob: " + "; ".join(fit.notes)) if fit.notes else None}


@register("mr_egger_robust", "Robust MR-Egger", min_snps=3, default=False, citation=_CITE_ROBUST)
def mr_egger_robust(bx, by, sx, sy, params: Params = Params(), rng=None) -> dict:
    r"""Robust MR-Egger regression (MendelianRandomization ``mr_egger(robust = TRUE)``).

    Parameters
    ----------
    bx, by, sx, sy : array_like
        SNP-exposure and SNP-outcome effects and their standard errors.
    params : Params
        Unused.
    rng : random source, optional
        Only its ``seed`` is used (default 1234), as in :func:`mr_ivw_robust`.

    Returns
    -------
    dict
        ``b``, ``se``, ``pval`` (slope), ``b_i``, ``se_i``, ``pval_i``
        (intercept; also as ``intercept``, ``intercept_se``, ``intercept_pval``,
        which :func:`mrbook.analysis.run_mr` puts in the method's row), ``nsnp``,
        ``rse`` (robust residual scale), ``Q``, ``Q_df``, ``Q_pval``
        (heterogeneity around the robust line, k-2 df), ``note`` (robustbase's
        warnings or None).

    Notes
    -----
    SNPs are oriented to positive exposure effects (:math:`\beta_Y \leftarrow
    \beta_Y\,\mathrm{sign}(\beta_X)`, :math:`\beta_X \leftarrow |\beta_X|`) and

    .. math:: \beta_{Yj} = \beta_0 + \beta_1\beta_{Xj} + \varepsilon_j

    is fitted by ``lmrob(by ~ bx, weights = sy^-2)`` (see
    :func:`mr_ivw_robust`). Both standard errors are the ``.vcov.avar1`` ones
    divided by :math:`\min(1, \hat\sigma)`; P values
    :math:`2(1 - \Phi(|z|))` (normal, MendelianRandomization's default);
    :math:`Q = \sum_j (\beta_{Yj} - \hat\beta_0 - \hat\beta_1\beta_{Xj})^2/\sigma_{Yj}^2`.
    The S-step's subsamples (pairs of SNPs) move the result by up to ~1e-7
    relative between seeds; at the same seed it equals R's.

    References
    ----------
    Burgess S, Bowden J, Dudbridge F, Thompson SG (2016). arXiv:1606.03729.
    doi:10.48550/arXiv.1606.03729

    Bowden J, Davey Smith G, Burgess S (2015). Int J Epidemiol 44:512-525.
    doi:10.1093/ije/dyv080
    """
    bx, by, sy = (np.asarray(v, dtype=float) for v in (bx, by, sy))
    k = bx.size
    if k < 3:
        return na_result(b_i=np.nan, se_i=np.nan, pval_i=np.nan, rse=np.nan, Q=np.nan,
                         Q_df=np.nan, Q_pval=np.nan, intercept=np.nan, intercept_se=np.nan,
                         intercept_pval=np.nan, note=None)
    by = by * np.sign(bx)          # MendelianRandomization uses sign(), not sign0()
    bx = np.abs(bx)
    X = np.column_stack([np.ones(k), bx])
    fit = lmrob(X, by, sy ** -2.0, rng=r_stream(rng), control=MR_LMROB)
    b_i, b = (float(v) for v in fit.coef)
    se_i, se = (_ratio(v, min(fit.scale, 1.0)) for v in fit.se)
    q = float(np.sum(((by - b_i - b * bx) / sy) ** 2))
    p_i = _p_egger(_ratio(b_i, se_i))
    return {"b": b, "se": se, "pval": _p_egger(_ratio(b, se)), "nsnp": k,
            "b_i": b_i, "se_i": se_i, "pval_i": p_i, "rse": fit.scale,
            "Q": q, "Q_df": k - 2, "Q_pval": float(special.chdtrc(k - 2, q)),
            "intercept": b_i, "intercept_se": se_i, "intercept_pval": p_i,
            "note": ("lmrob: " + "; ".join(fit.notes)) if fit.notes else None}


def penalised_weights(bx, by, sy) -> np.ndarray:
    r"""MendelianRandomization's ``r.weights(Byse, penalised.weights(...))``.

    .. math:: w_j = \sigma_{Yj}^{-2}\min\{1,\ 100\,p_j\},\quad
              p_j = P\big(\chi^2_1 > \tfrac{\beta_{Xj}^2}{\sigma_{Yj}^2}
              (\beta_{Yj}/\beta_{Xj} - \tilde\theta)^2\big),

    :math:`\tilde\theta` the (simple) median of the ratio estimates.
    """
    ratio = by / bx
    theta = np.median(ratio)
    pen = special.chdtrc(1, (bx * bx / (sy * sy)) * (ratio - theta) ** 2)
    return sy ** -2.0 * np.minimum(1.0, pen * 100.0)


@register("mr_ivw_penalised", "Penalised IVW", min_snps=2, default=False, citation=_CITE_PEN)
def mr_ivw_penalised(bx, by, sx, sy, params: Params = Params(), rng=None) -> dict:
    r"""Penalised inverse-variance weighted estimate (MendelianRandomization ``mr_ivw(penalized = TRUE)``).

    Parameters
    ----------
    bx, by, sx, sy : array_like
        SNP-exposure and SNP-outcome effects and their standard errors.
    params, rng
        Unused (the contract's signature).

    Returns
    -------
    dict
        ``b``, ``se``, ``pval`` (normal), ``nsnp``, ``rse`` (residual standard error).

    Notes
    -----
    SNPs whose ratio estimate is heterogeneous get their weight multiplied by
    :math:`\min(1, 100 p_j)` (:func:`penalised_weights`), then the weighted
    regression through the origin ``lm(by ~ bx - 1, weights = w)`` gives

    .. math:: \hat\beta = \frac{\sum w_j\beta_{Xj}\beta_{Yj}}{\sum w_j\beta_{Xj}^2},\quad
              \mathrm{se} = \sqrt{1/\textstyle\sum w_j\beta_{Xj}^2}\ \max(1, \hat\sigma)

    with four or more SNPs (random effects; fixed effects, without the
    :math:`\max`, below), :math:`\hat\sigma^2 = \sum w_j(\beta_{Yj} - \hat\beta
    \beta_{Xj})^2/(k-1)`, :math:`P = 2\Phi(-|\hat\beta/\mathrm{se}|)`.

    References
    ----------
    Burgess S, Bowden J, Dudbridge F, Thompson SG (2016). Robust instrumental
    variable methods using multiple candidate instruments with application to
    Mendelian randomization. arXiv:1606.03729. doi:10.48550/arXiv.1606.03729
    """
    bx, by, sy = (np.asarray(v, dtype=float) for v in (bx, by, sy))
    k = bx.size
    if k < 2:
        return na_result(rse=np.nan)
    w = penalised_weights(bx, by, sy)
    wx = w * bx
    sxx = float(wx @ bx)
    b = float(wx @ by) / sxx
    resid = by - b * bx
    sigma = float(np.sqrt((w * resid) @ resid / (k - 1)))
    se_fe = float(np.sqrt(1.0 / sxx))
    se = se_fe * max(sigma, 1.0) if k >= 4 else se_fe
    return {"b": b, "se": se, "pval": float(p_normal(b / se)), "nsnp": k, "rse": sigma}
