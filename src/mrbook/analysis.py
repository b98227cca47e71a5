"""MR analyses over a harmonised table, per exposure-outcome pair.

These mirror TwoSampleMR's ``mr()``, ``mr_heterogeneity()``,
``mr_pleiotropy_test()``, ``mr_leaveoneout()`` and ``mr_singlesnp()``: they take
a harmonised DataFrame in TwoSampleMR's column names (see
:func:`mrbook.io.read_harmonised`) and return tidy DataFrames with stable
snake_case columns. Every pair is analysed on its rows with ``mr_keep``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import pandas as pd
from scipy import stats

from .estimators import METHODS, Params, resolve_methods
from .estimators._stats import p_normal
from .rng import make_rng

PAIR_COLUMNS = ["id_exposure", "id_outcome", "exposure", "outcome"]


def _with_ids(dat: pd.DataFrame) -> pd.DataFrame:
    dat = dat.copy()
    for role in ("exposure", "outcome"):
        if f"id.{role}" not in dat.columns:
            dat[f"id.{role}"] = role
        if role not in dat.columns:
            dat[role] = dat[f"id.{role}"]
    if "mr_keep" not in dat.columns:
        dat["mr_keep"] = True
    return dat


def iter_pairs(dat: pd.DataFrame, keep_only: bool = True) -> Iterator[tuple[dict, pd.DataFrame]]:
    """Yield ``(pair, rows)`` per (id.exposure, id.outcome), sorted as TwoSampleMR's ddply.

    ``pair`` holds id_exposure, id_outcome, exposure, outcome; ``rows`` are the
    pair's ``mr_keep`` rows (all rows if ``keep_only`` is False), in data order.
    """
    dat = _with_ids(dat)
    for (ide, ido), rows in dat.groupby(["id.exposure", "id.outcome"], sort=True):
        pair = {"id_exposure": str(ide), "id_outcome": str(ido),
                "exposure": str(rows["exposure"].iloc[0]), "outcome": str(rows["outcome"].iloc[0])}
        yield pair, (rows[rows["mr_keep"].astype(bool)] if keep_only else rows)


def _vectors(rows: pd.DataFrame):
    return tuple(rows[c].to_numpy(dtype=float)
                 for c in ("beta.exposure", "beta.outcome", "se.exposure", "se.outcome"))


def _not_run_reason(spec, k: int) -> str | None:
    if k < spec.min_snps:
        return f"needs at least {spec.min_snps} SNP{'s' if spec.min_snps > 1 else ''}, {k} available"
    if spec.max_snps is not None and k > spec.max_snps:
        return f"takes at most {spec.max_snps} SNP, {k} available"
    return None


MR_COLUMNS = PAIR_COLUMNS + ["method_key", "method", "nsnp", "b", "se", "pval", "status", "reason"]


def run_mr(dat: pd.DataFrame, methods=None, params: Params | None = None, seed: int = 1234,
           rng: str = "numpy") -> pd.DataFrame:
    """Run MR methods on every exposure-outcome pair (TwoSampleMR's ``mr()``).

    Parameters
    ----------
    dat : DataFrame
        Harmonised data (TwoSampleMR column names, ``mr_keep``).
    methods : list of str, optional
        Method keys or display names (see :data:`mrbook.estimators.METHODS`);
        default the five of the paper plus the Wald ratio, as TwoSampleMR.
    params : Params, optional
        Method parameters (``nboot`` etc.).
    seed : int
        Seed of the one random stream all stochastic methods draw from, in
        registry order (as ``set.seed(seed); mr(dat)``).
    rng : {"numpy", "r"}
        ``"r"`` reproduces R's generator, so that bootstrap SEs equal TwoSampleMR's.

    Returns
    -------
    DataFrame
        Columns id_exposure, id_outcome, exposure, outcome, method_key, method,
        nsnp, b, se, pval, status ("ok" or "not run") and reason (why not run).
        A single-SNP pair gets the Wald ratio; with more SNPs the Wald ratio is
        left out (it is in :func:`singlesnp`), as TwoSampleMR does.
    """
    params = params or Params()
    specs = resolve_methods(methods)
    stream = make_rng(seed, rng)
    out = []
    for pair, rows in iter_pairs(dat):
        k = len(rows)
        bx, by, sx, sy = _vectors(rows)
        for spec in specs:
            if spec.key == "mr_wald_ratio" and k > 1 and len(specs) > 1:
                continue
            row = dict(pair, method_key=spec.key, method=spec.name, nsnp=k,
                       b=np.nan, se=np.nan, pval=np.nan, status="ok", reason=None)
            why = _not_run_reason(spec, k)
            if why is None:
                res = spec.func(bx, by, sx, sy, params, stream)
                row.update(b=float(res["b"]), se=float(res["se"]), pval=float(res["pval"]))
                if np.isnan(row["b"]) and np.isnan(row["se"]):
                    why = "could not be estimated from these SNPs (collinear or degenerate data)"
            if why is not None:
                row.update(status="not run", reason=why)
            out.append(row)
    return pd.DataFrame(out, columns=MR_COLUMNS)


def add_odds_ratios(table: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    r"""Add confidence limits and odds ratios (TwoSampleMR's ``generate_odds_ratios``).

    Adds ``lo_ci``, ``up_ci`` (:math:`b \mp z_{(1+level)/2}\,se`) and ``or``,
    ``or_lci95``, ``or_uci95`` (their exponentials), as numbers; formatting is
    the display's job.
    """
    t = table.copy()
    z = stats.norm.ppf(0.5 + level / 2)
    t["lo_ci"] = t["b"] - z * t["se"]
    t["up_ci"] = t["b"] + z * t["se"]
    t["or"] = np.exp(t["b"])
    t["or_lci95"] = np.exp(t["lo_ci"])
    t["or_uci95"] = np.exp(t["up_ci"])
    return t


HET_COLUMNS = PAIR_COLUMNS + ["method", "q", "q_df", "q_pval"]


def heterogeneity(dat: pd.DataFrame, methods=("mr_egger_regression", "mr_ivw")) -> pd.DataFrame:
    r"""Cochran's Q of each method (TwoSampleMR's ``mr_heterogeneity``).

    Notes
    -----
    :math:`Q = \sum_j w_j(\beta_{Yj} - \hat\beta_0 - \hat\beta\beta_{Xj})^2` with first-order
    weights :math:`w_j = \sigma_{Yj}^{-2}`, on k-1 (IVW) or k-2 (MR-Egger)
    degrees of freedom; P from the upper chi-square tail. Pairs with fewer than
    two SNPs give no rows; a method that cannot run gives no row.

    Returns
    -------
    DataFrame
        id_exposure, id_outcome, exposure, outcome, method, q, q_df, q_pval.

    References
    ----------
    Bowden J et al. (2019). Int J Epidemiol 48:728-742. doi:10.1093/ije/dyy258
    """
    specs = [METHODS[m] for m in methods]
    out = []
    for pair, rows in iter_pairs(dat):
        if len(rows) < 2:
            continue
        bx, by, sx, sy = _vectors(rows)
        for spec in specs:
            res = spec.func(bx, by, sx, sy, Params(), None)
            if np.isnan(res.get("Q", np.nan)):
                continue
            out.append(dict(pair, method=spec.name, q=res["Q"], q_df=res["Q_df"], q_pval=res["Q_pval"]))
    return pd.DataFrame(out, columns=HET_COLUMNS)


PLEIO_COLUMNS = PAIR_COLUMNS + ["nsnp", "egger_intercept", "se", "pval"]


def pleiotropy(dat: pd.DataFrame) -> pd.DataFrame:
    r"""MR-Egger intercept test of directional pleiotropy (``mr_pleiotropy_test``).

    Notes
    -----
    The intercept :math:`\hat\beta_0` of :func:`mrbook.estimators.basic.mr_egger_regression`,
    its SE and a t test on k-2 df. Pairs with one SNP give no row; with two SNPs
    the row holds NaN (Egger needs three).

    Returns
    -------
    DataFrame
        id_exposure, id_outcome, exposure, outcome, nsnp, egger_intercept, se, pval.
    """
    egger = METHODS["mr_egger_regression"].func
    out = []
    for pair, rows in iter_pairs(dat):
        if len(rows) < 2:
            continue
        bx, by, sx, sy = _vectors(rows)
        res = egger(bx, by, sx, sy, Params(), None)
        out.append(dict(pair, nsnp=len(rows), egger_intercept=res["b_i"], se=res["se_i"],
                        pval=res["pval_i"]))
    return pd.DataFrame(out, columns=PLEIO_COLUMNS)


SNP_COLUMNS = PAIR_COLUMNS + ["samplesize", "snp", "b", "se", "pval"]


def _samplesize(rows: pd.DataFrame) -> float:
    if "samplesize.outcome" in rows.columns and len(rows):
        return float(rows["samplesize.outcome"].iloc[0])
    return np.nan


def leaveoneout(dat: pd.DataFrame, method: str = "mr_ivw") -> pd.DataFrame:
    """Leave-one-out analysis (TwoSampleMR's ``mr_leaveoneout``).

    For each SNP (in data order) the method, by default the random-effects IVW
    of :func:`mrbook.estimators.basic.mr_ivw`, is re-run without it; a last row
    ``snp == "All"`` uses every SNP. With two or fewer SNPs only "All" is given.

    Returns
    -------
    DataFrame
        id_exposure, id_outcome, exposure, outcome, samplesize, snp, b, se, pval.
    """
    f = METHODS[method].func
    out = []
    for pair, rows in iter_pairs(dat):
        bx, by, sx, sy = _vectors(rows)
        k = len(rows)
        n = _samplesize(rows)
        snps = rows["SNP"].tolist()
        if k > 2:
            for i in range(k):
                m = np.arange(k) != i
                res = f(bx[m], by[m], sx[m], sy[m], Params(), None)
                out.append(dict(pair, samplesize=n, snp=snps[i], b=res["b"], se=res["se"],
                                pval=res["pval"]))
        res = f(bx, by, sx, sy, Params(), None)
        out.append(dict(pair, samplesize=n, snp="All", b=res["b"], se=res["se"], pval=res["pval"]))
    return pd.DataFrame(out, columns=SNP_COLUMNS)


def singlesnp(dat: pd.DataFrame, all_methods=("mr_ivw", "mr_egger_regression")) -> pd.DataFrame:
    r"""Single-SNP Wald ratios plus whole-set summaries (TwoSampleMR's ``mr_singlesnp``).

    Notes
    -----
    :math:`\hat\beta_j = \beta_{Yj}/\beta_{Xj}`, :math:`se_j = \sigma_{Yj}/|\beta_{Xj}|`,
    then rows "All - Inverse variance weighted" and "All - MR Egger" (NaN when
    there are too few SNPs).

    Returns
    -------
    DataFrame
        id_exposure, id_outcome, exposure, outcome, samplesize, snp, b, se, pval.
    """
    wald = METHODS["mr_wald_ratio"].func
    out = []
    for pair, rows in iter_pairs(dat):
        bx, by, sx, sy = _vectors(rows)
        n = _samplesize(rows)
        for i, snp in enumerate(rows["SNP"]):
            res = wald(bx[i:i + 1], by[i:i + 1], sx[i:i + 1], sy[i:i + 1])
            out.append(dict(pair, samplesize=n, snp=snp, b=res["b"], se=res["se"], pval=res["pval"]))
        for key in all_methods:
            spec = METHODS[key]
            res = spec.func(bx, by, sx, sy, Params(), None)
            out.append(dict(pair, samplesize=n, snp=f"All - {spec.name}", b=res["b"], se=res["se"],
                            pval=res["pval"]))
    return pd.DataFrame(out, columns=SNP_COLUMNS)


@dataclass
class MRAnalysis:
    """Every table of one MR analysis (one or more exposure-outcome pairs).

    Attributes
    ----------
    harmonised : DataFrame
        The input, TwoSampleMR column names, with ``mr_keep`` and ``mr_keep_reason``.
    mr : DataFrame
        :func:`run_mr` with :func:`add_odds_ratios` columns.
    heterogeneity, pleiotropy, leaveoneout, singlesnp : DataFrame
        As the functions of the same names.
    directionality : DataFrame or None
        Steiger directionality test (:func:`mrbook.steiger.directionality_test`),
        None when the inputs lack P-values and sample sizes.
    presso : dict
        ``{(id_exposure, id_outcome): result or {"error": reason}}`` from
        :func:`mrbook.presso.mr_presso` (empty when not requested).
    strength : DataFrame or None
        Per-SNP instrument strength (F statistic, R²) from
        :func:`mrbook.strength.instrument_strength_table`.
    strength_summary : DataFrame or None
        Per pair: mean/min/max F, I²GX, total R².
    settings : dict
        Methods, seed, nboot, rng and PRESSO settings used.
    """

    harmonised: pd.DataFrame
    mr: pd.DataFrame
    heterogeneity: pd.DataFrame
    pleiotropy: pd.DataFrame
    leaveoneout: pd.DataFrame
    singlesnp: pd.DataFrame
    directionality: pd.DataFrame | None = None
    presso: dict = field(default_factory=dict)
    strength: pd.DataFrame | None = None
    strength_summary: pd.DataFrame | None = None
    settings: dict = field(default_factory=dict)


def analyse(dat: pd.DataFrame, methods=None, seed: int = 1234, nboot: int = 1000,
            rng: str = "numpy", presso: bool = True, n_distribution: int = 1000) -> MRAnalysis:
    """Run the whole analysis of the paper (and more) on a harmonised table.

    Parameters
    ----------
    dat : DataFrame
        Harmonised data (:func:`mrbook.io.read_harmonised` or
        :func:`mrbook.harmonise.harmonise`).
    methods : list of str, optional
        Method keys or names; default TwoSampleMR's defaults.
    seed, nboot, rng
        Bootstrap settings (see :func:`run_mr`).
    presso : bool
        Also run MR-PRESSO (needs more than 3 SNPs; otherwise recorded as not run).
    n_distribution : int
        MR-PRESSO simulations.

    Returns
    -------
    MRAnalysis
    """
    params = Params(nboot=nboot)
    mr = add_odds_ratios(run_mr(dat, methods=methods, params=params, seed=seed, rng=rng))
    out = MRAnalysis(harmonised=dat, mr=mr, heterogeneity=heterogeneity(dat),
                     pleiotropy=pleiotropy(dat), leaveoneout=leaveoneout(dat),
                     singlesnp=singlesnp(dat),
                     settings={"methods": list(mr["method_key"].unique()), "seed": seed,
                               "nboot": nboot, "rng": rng, "presso": presso,
                               "n_distribution": n_distribution})
    try:
        from .steiger import directionality_test

        out.directionality = directionality_test(dat)
    except (ImportError, KeyError, ValueError):
        out.directionality = None
    try:
        from .strength import instrument_strength_table

        tables = instrument_strength_table(dat)
        out.strength, out.strength_summary = tables["per_snp"], tables["summary"]
    except (ImportError, KeyError, ValueError):
        out.strength = None
    if presso:
        from .presso import mr_presso

        for pair, rows in iter_pairs(dat):
            bx, by, sx, sy = _vectors(rows)
            key = (pair["id_exposure"], pair["id_outcome"])
            try:
                out.presso[key] = mr_presso(bx, by, sx, sy, snps=rows["SNP"].tolist(),
                                            n_distribution=n_distribution,
                                            rng=make_rng(seed, rng))
            except ValueError as exc:
                out.presso[key] = {"error": str(exc)}
    return out
