"""Sensitivity layer: instrument strength, F statistics, variance explained and I²_GX.

Per-SNP F statistics as TwoSampleMR computes them (``system_metrics()`` in
``R/moe.R``), variance explained per SNP (``get_r_from_bsen`` of
``R/add_rsq.r``, and the common :math:`2f(1-f)\\beta^2` convention), and the
regression-dilution statistic :math:`I^2_{GX}` (``Isq`` of ``R/rucker.R``, in
TwoSampleMR's and in MendelianRandomization's weighting).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["isq", "instrument_strength", "instrument_strength_table"]

F_INF_REPLACEMENT = 300.0  # moe.R: Fstat[is.infinite(Fstat)] <- 300

PER_SNP_COLUMNS = ["snp", "f_stat", "rsq_bsen", "rsq_eaf"]
SUMMARY_KEYS = ["nsnp", "mean_f", "median_f", "var_f", "min_f", "max_f", "i2gx", "i2gx_mr",
                "i2gx_noabs", "n_mean", "rsq_total_bsen", "f_total_from_rsq", "rsq_total_eaf"]


def isq(y, s) -> float:
    """The :math:`I^2` of a set of estimates (TwoSampleMR ``Isq``, ``R/rucker.R``).

    Parameters
    ----------
    y : array_like
        Estimates (for :math:`I^2_{GX}`: the absolute SNP-exposure effects).
    s : array_like
        Their standard errors.

    Returns
    -------
    float
        :math:`\\max(0, (Q - (k-1))/Q)`; NaN for fewer than two SNPs (R gives
        ``NaN`` from 0/0 when k = 1).

    Notes
    -----
    :math:`w = 1/s^2`, :math:`\\hat\\mu = \\sum wy/\\sum w`,
    :math:`Q = \\sum w (y - \\hat\\mu)^2`.

    References
    ----------
    Bowden J, Del Greco M F, Minelli C, Davey Smith G, Sheehan NA, Thompson JR
    (2016). Assessing the suitability of summary data for two-sample Mendelian
    randomization analyses using MR-Egger regression: the role of the I²
    statistic. International Journal of Epidemiology 45(6):1961-1974.
    doi:10.1093/ije/dyw220
    """
    y = np.asarray(y, dtype=float).ravel()
    s = np.asarray(s, dtype=float).ravel()
    k = y.size
    if k < 2:
        return math.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        w = 1.0 / s ** 2
        mu = np.sum(y * w) / np.sum(w)
        q = float(np.sum(w * (y - mu) ** 2))
    if q == 0 or math.isnan(q):
        return math.nan
    return max(0.0, (q - (k - 1)) / q)


def instrument_strength(bx, sx, sy=None, n=None, eaf=None, snps=None) -> dict:
    """Strength of a set of instruments.

    Parameters
    ----------
    bx, sx : array_like
        SNP-exposure effects and standard errors.
    sy : array_like, optional
        SNP-outcome standard errors (for MendelianRandomization's weighting of
        :math:`I^2_{GX}`).
    n : array_like or float, optional
        Exposure GWAS sample size per SNP (``samplesize.exposure``).
    eaf : array_like, optional
        Effect-allele frequency in the exposure GWAS.
    snps : sequence of str, optional
        SNP names.

    Returns
    -------
    dict
        ``per_snp`` : DataFrame with ``snp``, ``f_stat`` (:math:`(\\beta_X/se_X)^2`,
        infinite values set to 300 as TwoSampleMR), ``rsq_bsen``
        (:math:`F/(n-2+F)`, NaN without n) and ``rsq_eaf``
        (:math:`2f(1-f)\\beta_X^2`, NaN without eaf; exact for a per-allele effect
        on a trait with unit variance, e.g. SD units).
        ``summary`` : dict ``nsnp``, ``mean_f``, ``median_f``, ``var_f`` (n-1
        denominator), ``min_f``, ``max_f`` (NaN values ignored, as ``na.rm =
        TRUE``); ``i2gx`` = ``Isq(|bx|, sx)`` (TwoSampleMR, the ``egger_isq`` of
        ``moe.R``), ``i2gx_mr`` = ``Isq(|bx|/sy, sx/sy)`` (MendelianRandomization's
        ``mr_egger`` ``I.sq``; NaN without sy), ``i2gx_noabs`` = ``Isq(bx, sx)``;
        ``n_mean``; ``rsq_total_bsen`` = :math:`\\sum` ``rsq_bsen``;
        ``f_total_from_rsq`` = :math:`R^2(N-k-1)/((1-R^2)k)` with N = ``n_mean``;
        ``rsq_total_eaf`` = :math:`\\sum` ``rsq_eaf``.

    Notes
    -----
    The total R² and the overall F from it are common conventions, not TwoSampleMR
    functions; the per-SNP F is the statistic papers report as "F > 10". An
    :math:`I^2_{GX}` below 0.9 means MR-Egger's slope is diluted by more than 10%.

    References
    ----------
    Burgess S, Thompson SG (2011). Avoiding bias from weak instruments in Mendelian
    randomization studies. International Journal of Epidemiology 40(3):755-764.
    doi:10.1093/ije/dyr036

    Bowden J et al. (2016). International Journal of Epidemiology 45(6):1961-1974.
    doi:10.1093/ije/dyw220

    Examples
    --------
    >>> res = instrument_strength([0.1, -0.2, 0.15], [0.01, 0.02, 0.01], n=10000)
    >>> [round(f, 6) for f in res["per_snp"]["f_stat"]]
    [100.0, 100.0, 225.0]
    """
    bx = np.asarray(bx, dtype=float).ravel()
    sx = np.asarray(sx, dtype=float).ravel()
    k = bx.size
    if sx.size != k:
        raise ValueError("bx and sx must have the same length")
    if snps is None:
        snps = [str(i + 1) for i in range(k)]
    snps = [str(s) for s in snps]
    with np.errstate(divide="ignore", invalid="ignore"):
        f = bx ** 2 / sx ** 2
    f[np.isinf(f)] = F_INF_REPLACEMENT

    nvec = np.full(k, np.nan) if n is None else np.broadcast_to(np.asarray(n, dtype=float), (k,)).copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        fb = (bx / sx) ** 2  # get_r_from_bsen: no Inf replacement
        rsq_bsen = fb / (nvec - 2 + fb)
    if eaf is None:
        rsq_eaf = np.full(k, np.nan)
    else:
        e = np.broadcast_to(np.asarray(eaf, dtype=float), (k,))
        rsq_eaf = 2.0 * bx ** 2 * e * (1 - e)

    fin = f[~np.isnan(f)]
    summary = {
        "nsnp": int(k),
        "mean_f": float(np.mean(fin)) if fin.size else math.nan,
        "median_f": float(np.median(fin)) if fin.size else math.nan,
        "var_f": float(np.var(fin, ddof=1)) if fin.size > 1 else math.nan,
        "min_f": float(np.min(fin)) if fin.size else math.nan,
        "max_f": float(np.max(fin)) if fin.size else math.nan,
        "i2gx": isq(np.abs(bx), sx),
        "i2gx_mr": math.nan,
        "i2gx_noabs": isq(bx, sx),
    }
    if sy is not None:
        sy = np.asarray(sy, dtype=float).ravel()
        summary["i2gx_mr"] = isq(np.abs(bx) / sy, sx / sy)
    n_mean = float(np.mean(nvec)) if k else math.nan
    r2 = float(np.sum(rsq_bsen)) if k else math.nan
    summary["n_mean"] = n_mean
    summary["rsq_total_bsen"] = r2
    summary["f_total_from_rsq"] = (r2 * (n_mean - k - 1) / ((1 - r2) * k)) if k else math.nan
    summary["rsq_total_eaf"] = float(np.sum(rsq_eaf)) if k else math.nan
    per_snp = pd.DataFrame({"snp": snps, "f_stat": f, "rsq_bsen": rsq_bsen, "rsq_eaf": rsq_eaf},
                           columns=PER_SNP_COLUMNS)
    return {"per_snp": per_snp, "summary": summary}


def _col(x: pd.DataFrame, name: str):
    if name in x.columns:
        return pd.to_numeric(x[name], errors="coerce").to_numpy(dtype=float)
    return None


def instrument_strength_table(dat: pd.DataFrame, mr_keep_only: bool = True) -> dict:
    """:func:`instrument_strength` for every exposure-outcome pair of a harmonised table.

    Parameters
    ----------
    dat : pandas.DataFrame
        TwoSampleMR column names (``SNP``, ``beta.exposure``, ``se.exposure``,
        ``se.outcome``, optional ``samplesize.exposure``, ``eaf.exposure``,
        ``mr_keep``, ``id.exposure``, ``id.outcome``).
    mr_keep_only : bool, default True
        Use only rows with ``mr_keep`` (the SNPs the MR uses).

    Returns
    -------
    dict
        ``per_snp`` : DataFrame ``id_exposure``, ``id_outcome`` and the per-SNP
        columns; ``summary`` : DataFrame, one row per pair, ``id_exposure``,
        ``id_outcome`` and the summary keys of :func:`instrument_strength`.
    """
    x = dat
    if mr_keep_only and "mr_keep" in x.columns:
        x = x[x["mr_keep"].astype("boolean").fillna(False).to_numpy(dtype=bool)]
    keys = [c for c in ("id.exposure", "id.outcome") if c in x.columns]
    groups = x.groupby(keys, sort=False, dropna=False) if keys else [((None,), x)]
    per, summ = [], []
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        ids = dict(zip(keys, key))
        ide, ido = ids.get("id.exposure"), ids.get("id.outcome")
        res = instrument_strength(_col(g, "beta.exposure"), _col(g, "se.exposure"),
                                  sy=_col(g, "se.outcome"), n=_col(g, "samplesize.exposure"),
                                  eaf=_col(g, "eaf.exposure"),
                                  snps=g["SNP"].astype(str).tolist() if "SNP" in g.columns else None)
        ps = res["per_snp"]
        ps.insert(0, "id_outcome", ido)
        ps.insert(0, "id_exposure", ide)
        per.append(ps)
        summ.append({"id_exposure": ide, "id_outcome": ido, **res["summary"]})
    per_df = pd.concat(per, ignore_index=True) if per else \
        pd.DataFrame(columns=["id_exposure", "id_outcome"] + PER_SNP_COLUMNS)
    return {"per_snp": per_df,
            "summary": pd.DataFrame(summ, columns=["id_exposure", "id_outcome"] + SUMMARY_KEYS)}
