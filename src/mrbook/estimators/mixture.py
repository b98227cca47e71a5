r"""Estimators layer: the contamination mixture method (MendelianRandomization's ``mr_conmix``).

Each SNP's ratio estimate :math:`\hat\beta_j = \beta_{Yj}/\beta_{Xj}` (standard error
:math:`s_j = |\sigma_{Yj}/\beta_{Xj}|`) is either *valid*, normal around the causal
effect :math:`\theta`, or *invalid*, normal around 0 with the extra spread
:math:`\psi` of pleiotropic effects. The profile likelihood

.. math::

    \ell(\theta) = \sum_j \max\big(\log\phi(\hat\beta_j;\ \theta,\ s_j^2),\
                                  \log\phi(\hat\beta_j;\ 0,\ \psi^2 + s_j^2)\big)

(each SNP takes the better of its two components) is maximised over a grid of
:math:`\theta`, so the estimate lies on the grid. It is consistent when the
valid instruments form the largest group with the same ratio (a plurality), even
if most instruments are invalid. The likelihood is multimodal, so the confidence
interval, :math:`\{\theta: 2\ell(\theta) > 2\max\ell - \chi^2_{1,1-\alpha}\varphi^2\}`,
can be a union of disjoint intervals.

References
----------
Burgess S, Foley CN, Allara E, Staley JR, Howson JMM (2020). A robust and efficient
method for Mendelian randomization with hundreds of genetic variants. Nat Commun
11:376. doi:10.1038/s41467-019-14156-4
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from ._registry import Params, register
from ._stats import na_result
from .mode import r_sd_rows

__all__ = ["mr_conmix", "r_seq_by"]

_CITE = "Burgess et al. 2020, doi:10.1038/s41467-019-14156-4"
_DBL_EPS = np.finfo(float).eps


def r_seq_by(start: float, stop: float, by: float) -> np.ndarray:
    """R's ``seq(from, to, by = by)`` for ``by > 0`` (``seq.default``, R 4.2).

    ``n = as.integer((to - from)/by + 1e-10)``, the values ``from + (0:n) * by``,
    clipped at ``to`` (``pmin``); ``from`` alone when ``to`` and ``from`` agree
    to 100 machine epsilons.

    Examples
    --------
    >>> r_seq_by(0.0, 0.3, 0.1).tolist()
    [0.0, 0.1, 0.2, 0.30000000000000004]
    """
    start, stop, by = float(start), float(stop), float(by)
    delta = stop - start
    if by <= 0 or delta < 0:
        raise ValueError("r_seq_by needs by > 0 and to >= from")
    if delta / max(abs(stop), abs(start)) < 100 * _DBL_EPS:
        return np.array([start])
    n = int(delta / by + 1e-10)
    return np.minimum(start + np.arange(n + 1, dtype=float) * by, stop)


def _loglik_terms(theta, ratio, ratio_se, psi):
    """Log densities of the valid and invalid components, as R writes them.

    ``lik.inc = -(theta - ratio)^2/2/ratio.se^2 - log(sqrt(2*pi*ratio.se^2))`` and
    ``lik.exc = -ratio^2/2/(psi^2 + ratio.se^2) - log(sqrt(2*pi*(psi^2 + ratio.se^2)))``;
    ``theta`` has shape (m, 1) for m grid points.
    """
    se2 = ratio_se * ratio_se
    d = theta - ratio
    inc = -(d * d) / 2.0 / se2 - np.log(np.sqrt(2.0 * math.pi * se2))
    v = psi * psi + se2
    exc = -(ratio * ratio) / 2.0 / v - np.log(np.sqrt(2.0 * math.pi * v))
    return inc, exc


def _r_sum_valid_first(inc, exc, valid):
    """``sum(c(inc[valid], exc[!valid]))`` per row, in R's order and long-double accumulator.

    R's ``sum`` adds in sequence into a long double; the valid terms come first
    (in SNP order), then the invalid ones. A stable sort of each row by
    ``!valid`` lays them out in that order and a long-double cumulative sum adds
    them one by one.
    """
    order = np.argsort(~valid, axis=1, kind="stable")
    terms = np.where(valid, inc, exc)
    terms = np.take_along_axis(terms, order, axis=1).astype(np.longdouble)
    return np.cumsum(terms, axis=1)[:, -1].astype(float)


@register("mr_conmix", "Contamination mixture", min_snps=3, default=False, interval=True,
          citation=_CITE)
def mr_conmix(bx, by, sx, sy, params: Params = Params(), rng=None, *, psi: float = 0.0,
              ci_min: float | None = None, ci_max: float | None = None,
              ci_step: float = 0.01) -> dict:
    r"""Contamination mixture estimate, exact to MendelianRandomization 0.10.0's ``mr_conmix``.

    Parameters
    ----------
    bx, by, sx, sy : array_like, shape (k,)
        SNP-exposure and SNP-outcome effects and their standard errors
        (``sx`` is not used, as in R).
    params : Params
        ``alpha`` (0.05) sets the interval's level :math:`1 - \alpha`.
    rng
        Unused (the contract's signature).
    psi : float
        Standard deviation :math:`\psi` of the invalid estimands; 0 (the default)
        means :math:`1.5\,\mathrm{sd}(\hat\beta_j)`.
    ci_min, ci_max, ci_step : float
        The grid of :math:`\theta`: R's ``seq(CIMin, CIMax, by = CIStep)``; by
        default ``CIMin = min((by - 2 sy)/bx)``, ``CIMax = max((by + 2 sy)/bx)``
        and steps of 0.01.

    Returns
    -------
    dict
        ``b`` (the grid point of largest likelihood), ``se`` (NaN: the method
        gives none), ``pval``, ``nsnp``, ``ci_low`` and ``ci_upp`` (the lowest and
        highest grid points inside the interval), ``ci_intervals`` (the disjoint
        pieces ``[(lower, upper), ...]``; more than one when the interval is a
        union), ``valid`` (boolean mask: the SNPs assigned to the valid component
        at the estimate), ``psi``, ``phi``, ``ci_at_grid_edge`` (True when the
        interval reaches an end of the grid, where R advises widening it).

    Notes
    -----
    With :math:`\ell(\theta)` as in the module docstring, evaluated at every grid
    point :math:`\theta_i = \mathrm{CIMin} + i\,\mathrm{CIStep}` (the sum in R's order,
    valid SNPs first, in long double as R's ``sum``):

    * :math:`\hat\theta = \mathrm{CIMin} + \mathrm{CIStep}\,(\arg\max_i \ell(\theta_i))`
      (the first maximum), and the valid set :math:`V` is the SNPs whose valid
      component is the larger there;
    * over-dispersion :math:`\varphi = \max\big(1, \sqrt{\sum_{j\in V} s_j^{-2}
      (\hat\beta_j - \bar\beta_V)^2/(|V| - 1)}\big)`, with :math:`\bar\beta_V` the
      inverse-variance weighted mean of the valid ratios (1 when :math:`|V| < 2`);
    * the interval is the grid points with
      :math:`2\ell(\theta_i) > 2\max\ell - \chi^2_{1,1-\alpha}\varphi^2`, split where
      consecutive points are more than :math:`1.01\,\mathrm{CIStep}` apart;
    * :math:`p = P\big(\chi^2_1 > 2(\max\ell - \ell(0))\,\varphi^2\big)`, with
      :math:`\ell(0)` the profile likelihood at :math:`\theta = 0` (R multiplies by
      :math:`\varphi^2` here where the interval divides; this is R's formula).

    The grid search is R's (no optimiser would land on R's grid points), vectorised
    over the grid. The default grid is not invariant to the coding of alleles: R takes
    ``min((by - 2 sy)/bx)``, which for a negative ``bx`` is the *upper* end of
    that SNP's ratio interval; it is reproduced as it is, so that estimates equal
    R's on any harmonised table. The grid also makes the estimate move in steps of
    ``ci_step`` (absolute units of the causal effect).

    References
    ----------
    Burgess S, Foley CN, Allara E, Staley JR, Howson JMM (2020). Nat Commun 11:376.
    doi:10.1038/s41467-019-14156-4
    """
    bx, by, sy = (np.asarray(v, dtype=float).ravel() for v in (bx, by, sy))
    k = bx.size
    extra = dict(ci_low=np.nan, ci_upp=np.nan, ci_intervals=[], valid=np.zeros(k, dtype=bool),
                 psi=np.nan, phi=np.nan, ci_at_grid_edge=False)
    if k < 2:
        return na_result(**extra)
    ratio = by / bx
    ratio_se = np.abs(sy / bx)
    if ci_min is None:
        ci_min = float(np.min((by - 2.0 * sy) / bx))
    if ci_max is None:
        ci_max = float(np.max((by + 2.0 * sy) / bx))
    if not psi > 0:                                  # R: if (psi < 0 | psi == 0)
        psi = 1.5 * float(r_sd_rows(ratio[None, :])[0])
    if not (np.all(np.isfinite(ratio)) and np.all(ratio_se > 0) and math.isfinite(psi)
            and psi > 0 and math.isfinite(ci_min) and math.isfinite(ci_max)):
        return na_result(**extra)
    if ci_min > ci_max:
        # R's seq(CIMin, CIMax, by = CIStep) stops with "wrong sign in 'by' argument": the
        # default grid is empty, as when every SNP's beta.exposure is negative
        return na_result(**extra, note=(
            f"its default grid is empty (min((by - 2 se)/bx) = {ci_min:.4g} is above "
            f"max((by + 2 se)/bx) = {ci_max:.4g}, as when every beta.exposure is negative); "
            "R's mr_conmix stops here too"))
    theta = r_seq_by(ci_min, ci_max, ci_step)

    inc, exc = _loglik_terms(theta[:, None], ratio[None, :], ratio_se[None, :], psi)
    exc = np.broadcast_to(exc, inc.shape)
    valid = inc > exc
    loglik = _r_sum_valid_first(inc, exc, valid)
    best = int(np.argmax(loglik))                   # which.max: the first maximum
    valid_best = valid[best].copy()

    nv = int(valid_best.sum())
    if nv < 2:                                      # sum(valid.best) < 1.5
        phi = 1.0
    else:
        rv, sv = ratio[valid_best], ratio_se[valid_best]
        w = np.power(sv, -2.0)
        wl = w.astype(np.longdouble)
        wmean = float((rv * w).astype(np.longdouble).sum() / wl.sum())   # weighted.mean
        dev = rv - wmean
        ssq = float(((dev * dev) * w).astype(np.longdouble).sum())
        phi = max(math.sqrt(ssq / (nv - 1)), 1.0)

    inc0, exc0 = _loglik_terms(np.zeros((1, 1)), ratio[None, :], ratio_se[None, :], psi)
    loglik0 = float(_r_sum_valid_first(inc0, exc0, inc0 > exc0)[0])

    alpha = float(params.alpha)
    crit = float(special.chdtri(1.0, alpha))         # qchisq(1 - alpha, df = 1)
    top = float(loglik[best])
    whichin = np.nonzero(2.0 * loglik > (2.0 * top - crit * phi * phi))[0]
    b = ci_min + ci_step * best
    ci_range = ci_min + ci_step * whichin.astype(float)
    gaps = np.nonzero(np.diff(ci_range) > 1.01 * ci_step)[0]
    lowers = np.concatenate([[ci_range.min()], ci_range[gaps + 1]])
    uppers = np.concatenate([ci_range[gaps], [ci_range.max()]])
    pval = float(special.chdtrc(1.0, 2.0 * (top - loglik0) * phi * phi))
    edge = bool(whichin[0] == 0 or whichin[-1] == theta.size - 1)
    return {"b": float(b), "se": np.nan, "pval": pval, "nsnp": k,
            "ci_low": float(lowers[0]), "ci_upp": float(uppers[-1]),
            "ci_intervals": [(float(lo), float(up)) for lo, up in zip(lowers, uppers)],
            "valid": valid_best, "psi": float(psi), "phi": float(phi),
            "ci_at_grid_edge": edge}
