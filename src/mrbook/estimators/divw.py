"""Estimators layer: debiased IVW (Ye, Shao & Kang 2021), as MendelianRandomization computes it."""

from __future__ import annotations

import numpy as np

from ._registry import Params, register
from ._stats import na_result, p_normal


@register("mr_divw", "Debiased IVW", min_snps=2, default=False,
          citation="Ye, Shao & Kang 2021, doi:10.1214/20-AOS2027")
def mr_divw(bx, by, sx, sy, params: Params = Params(), rng=None, *,
            over_dispersion: bool = True) -> dict:
    r"""Debiased inverse-variance weighted estimate (MendelianRandomization ``mr_divw``).

    Parameters
    ----------
    bx, by, sx, sy : array_like
        SNP-exposure and SNP-outcome effects and their standard errors.
    params, rng
        Unused (the contract's signature).
    over_dispersion : bool
        Estimate the balanced-pleiotropy variance :math:`\tau^2` (the
        package's default, True) or set it to 0.

    Returns
    -------
    dict
        ``b``, ``se``, ``pval`` (normal), ``nsnp``, ``tau2`` (over-dispersion),
        ``condition`` (:math:`(\overline{\mu^2} - 1)\sqrt{k}`, the instrument
        strength the method needs to be large).

    Notes
    -----
    IVW is biased towards zero by the measurement error of :math:`\beta_X`
    (weak instruments); dIVW removes it from the denominator:

    .. math:: \hat\beta = \frac{\sum_j \beta_{Xj}\beta_{Yj}\sigma_{Yj}^{-2}}
                               {\sum_j (\beta_{Xj}^2 - \sigma_{Xj}^2)\sigma_{Yj}^{-2}}.

    With :math:`\mu_j = \beta_{Xj}/\sigma_{Xj}`, :math:`r_j = \sigma_{Xj}/\sigma_{Yj}`,

    .. math:: \hat\tau^2 = \max\Big(0, \frac{\sum_j [(\beta_{Yj} - \hat\beta\beta_{Xj})^2
              - \sigma_{Yj}^2 - \hat\beta^2\sigma_{Xj}^2]\sigma_{Yj}^{-2}}{\sum_j \sigma_{Yj}^{-2}}\Big),

    .. math:: \mathrm{se}^2 = \frac{\sum_j [r_j^2\mu_j^2 + \hat\beta^2 r_j^4(\mu_j^2 + 1)
              + \hat\tau^2 r_j^2\mu_j^2/\sigma_{Yj}^2]}{\big(\sum_j r_j^2(\mu_j^2 - 1)\big)^2},

    :math:`P = 2\Phi(-|\hat\beta/\mathrm{se}|)` (MendelianRandomization 0.10.0,
    ``R/mr_divw-methods.R``, ``over.dispersion = TRUE``).

    References
    ----------
    Ye T, Shao J, Kang H (2021). Debiased inverse-variance weighted estimator in
    two-sample summary-data Mendelian randomization. Ann Stat 49:2079-2100.
    doi:10.1214/20-AOS2027
    """
    bx, by, sx, sy = (np.asarray(v, dtype=float) for v in (bx, by, sx, sy))
    k = bx.size
    if k < 2:
        return na_result(tau2=np.nan, condition=np.nan)
    wy = sy ** -2.0
    b = float((by * bx * wy).sum() / ((bx * bx - sx * sx) * wy).sum())
    mu2 = (bx / sx) ** 2
    ratio2 = (sx / sy) ** 2
    condition = float((mu2.mean() - 1.0) * np.sqrt(k))
    tau2 = 0.0
    if over_dispersion:
        tau2 = max(0.0, float((((by - b * bx) ** 2 - sy * sy - b * b * sx * sx) * wy).sum()
                              / wy.sum()))
    v1 = float((ratio2 * mu2 + b * b * ratio2 * ratio2 * (mu2 + 1.0) + tau2 * ratio2 * wy * mu2).sum())
    v2 = float((ratio2 * (mu2 - 1.0)).sum())
    se = float(np.sqrt(v1 / (v2 * v2)))
    return {"b": b, "se": se, "pval": float(p_normal(b / se)), "nsnp": k, "tau2": tau2,
            "condition": condition}
