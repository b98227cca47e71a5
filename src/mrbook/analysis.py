"""Analysis layer: TwoSampleMR's mr(), heterogeneity, pleiotropy, leave-one-out, single-SNP, per pair.

These mirror TwoSampleMR's ``mr()``, ``mr_heterogeneity()``,
``mr_pleiotropy_test()``, ``mr_leaveoneout()`` and ``mr_singlesnp()``: they take
a harmonised DataFrame in TwoSampleMR's column names (see
:func:`mrbook.data.tsmr.read_harmonised`) and return tidy DataFrames with stable
snake_case columns. Every pair is analysed on its rows with ``mr_keep``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .estimators import METHODS, Params, basic, resolve_methods
from .estimators._stats import p_normal
from .pairs import PAIR_COLUMNS, iter_pairs, single_pair  # noqa: F401  (re-exported)
from .rmath.rng import make_rng

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
#: optional fields of a method's row, copied from its result when it gives them (robust MR-Egger's
#: intercept); the table has such a column only when a method of the run filled it
MR_OPTIONAL_COLUMNS = ["intercept", "intercept_se", "intercept_pval"]


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
        ``"r"`` reproduces R's generator, so that bootstrap SEs equal TwoSampleMR's:
        every method then draws its own replicates exactly as TwoSampleMR's
        ``mr()`` does. With ``"numpy"`` the mode-based methods requested share one
        set of bootstrap replicates, drawn where the first of them runs (the way
        TwoSampleMR's ``mr_mode()`` computes all of them; see
        :func:`mrbook.estimators.mode.mr_mode_joint`); a method's result does not
        depend on which other modes are requested.

    Returns
    -------
    DataFrame
        Columns id_exposure, id_outcome, exposure, outcome, method_key, method,
        nsnp, b, se, pval, status ("ok" or "not run") and reason (why not run,
        or the method's own note about a result, e.g. that its fit did not converge),
        then any of :data:`MR_OPTIONAL_COLUMNS` that a requested method gives
        (NaN in the other rows).
        A single-SNP pair gets the Wald ratio; with more SNPs the Wald ratio is
        left out (it is in :func:`singlesnp`), as TwoSampleMR does.
    """
    params = params or Params()
    specs = resolve_methods(methods)
    stream = make_rng(seed, rng)
    share = stream.kind == "numpy"
    out = []
    for pair, rows in iter_pairs(dat):
        k = len(rows)
        bx, by, sx, sy = _vectors(rows)
        joint: dict = {}        # joint function -> {name: result}, computed at the first member
        for spec in specs:
            if spec.key == "mr_wald_ratio" and k > 1 and len(specs) > 1:
                continue
            row = dict(pair, method_key=spec.key, method=spec.name, nsnp=k,
                       b=np.nan, se=np.nan, pval=np.nan, status="ok", reason=None)
            why = _not_run_reason(spec, k)
            if why is None:
                if share and spec.joint is not None:
                    if spec.joint not in joint:
                        names = [s.name for s in specs
                                 if s.joint is spec.joint and _not_run_reason(s, k) is None]
                        joint[spec.joint] = spec.joint(bx, by, sx, sy, params, stream, names)
                    res = joint[spec.joint][spec.name]
                else:
                    res = spec.func(bx, by, sx, sy, params, stream)
                row.update(b=float(res["b"]), se=float(res["se"]), pval=float(res["pval"]))
                row.update({c: float(res[c]) for c in MR_OPTIONAL_COLUMNS if c in res})
                if res.get("note"):          # e.g. robustbase's warning about a fit's covariance
                    row["reason"] = str(res["note"])
                if np.isnan(row["b"]) and np.isnan(row["se"]):
                    why = "could not be estimated from these SNPs (collinear or degenerate data)"
            if why is not None:
                row.update(status="not run", reason=why)
            out.append(row)
    extra = [c for c in MR_OPTIONAL_COLUMNS if any(c in r for r in out)]
    return pd.DataFrame(out, columns=MR_COLUMNS + extra)


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


def _snp_table(parts: list[tuple]) -> pd.DataFrame:
    """The SNP_COLUMNS table from ``(pair, samplesize, snps, b, se, pval)`` blocks.

    Built column by column (a list of per-row dicts costs ~1 ms for 80 rows);
    the values and dtypes are those of ``pd.DataFrame(list_of_row_dicts)``.
    """
    if not parts:
        return pd.DataFrame([], columns=SNP_COLUMNS)
    cols: dict[str, list] = {c: [] for c in SNP_COLUMNS}
    for pair, n, snps, b, se, pval in parts:
        m = len(snps)
        for c in PAIR_COLUMNS:
            cols[c].extend([pair[c]] * m)
        cols["samplesize"].extend([n] * m)
        cols["snp"].extend(snps)
        cols["b"].extend(np.asarray(b, dtype=float).tolist())
        cols["se"].extend(np.asarray(se, dtype=float).tolist())
        cols["pval"].extend(np.asarray(pval, dtype=float).tolist())
    return pd.DataFrame(cols, columns=SNP_COLUMNS)


#: rows of the (rows x k-1) leave-one-out matrices processed together
_LOO_BLOCK_ELEMENTS = 1 << 20


def _ivw_leave_one_out(bx, by, sy):
    """``mr_ivw``'s b, se and pval without each SNP in turn, for all SNPs at once.

    Row i of the index matrix lists the SNPs other than i in data order, so each
    row of ``bx[idx]`` is the array ``mr_ivw`` would get. Every sum runs along the
    contiguous last axis, which numpy reduces row by row with the same pairwise
    summation as a 1-d sum, and the element-wise operations are those of
    :func:`mrbook.estimators.basic.mr_ivw` in the same order: the results are
    bit-identical to calling it k times (~50 times faster for k = 79).
    """
    k = bx.size
    b_out, se_out, p_out = np.empty(k), np.empty(k), np.empty(k)
    step = max(1, _LOO_BLOCK_ELEMENTS // max(1, k - 1))
    j = np.arange(k - 1)
    for start in range(0, k, step):
        i = np.arange(start, min(k, start + step))
        idx = j[None, :] + (j[None, :] >= i[:, None])  # all SNPs but i, in order
        X, Y, S = bx[idx], by[idx], sy[idx]
        W = 1.0 / S**2
        sxx = np.sum(W * X * X, axis=1)
        b = np.sum(W * X * Y, axis=1) / sxx
        se_fe = np.sqrt(1.0 / sxx)
        q = np.sum(W * (Y - b[:, None] * X) ** 2, axis=1)
        sigma = np.sqrt(q / (k - 2))
        se = se_fe * np.where(sigma > 1.0, sigma, 1.0)  # max(1.0, sigma), NaN -> 1 as max()
        b_out[i], se_out[i], p_out[i] = b, se, p_normal(b / se)
    return b_out, se_out, p_out


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
    parts = []
    for pair, rows in iter_pairs(dat):
        bx, by, sx, sy = _vectors(rows)
        k = len(rows)
        n = _samplesize(rows)
        snps = rows["SNP"].tolist()
        if k > 2:
            if f is basic.mr_ivw:
                parts.append((pair, n, snps, *_ivw_leave_one_out(bx, by, sy)))
            else:
                res = []
                for i in range(k):
                    m = np.arange(k) != i
                    res.append(f(bx[m], by[m], sx[m], sy[m], Params(), None))
                parts.append((pair, n, snps, [r["b"] for r in res], [r["se"] for r in res],
                              [r["pval"] for r in res]))
        res = f(bx, by, sx, sy, Params(), None)
        parts.append((pair, n, ["All"], [res["b"]], [res["se"]], [res["pval"]]))
    return _snp_table(parts)


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
    parts = []
    for pair, rows in iter_pairs(dat):
        bx, by, sx, sy = _vectors(rows)
        n = _samplesize(rows)
        snps = rows["SNP"].tolist()
        if wald is basic.mr_wald_ratio:
            # mr_wald_ratio element-wise: by/bx, sy/|bx| and the normal p of their ratio
            b = by / bx
            se = sy / np.abs(bx)
            parts.append((pair, n, snps, b, se, p_normal(b / se)))
        else:
            res = [wald(bx[i:i + 1], by[i:i + 1], sx[i:i + 1], sy[i:i + 1])
                   for i in range(len(snps))]
            parts.append((pair, n, snps, [r["b"] for r in res], [r["se"] for r in res],
                          [r["pval"] for r in res]))
        for key in all_methods:
            spec = METHODS[key]
            res = spec.func(bx, by, sx, sy, Params(), None)
            parts.append((pair, n, [f"All - {spec.name}"], [res["b"]], [res["se"]],
                          [res["pval"]]))
    return _snp_table(parts)


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
        Steiger directionality test (:func:`mrbook.sensitivity.steiger.directionality_test`),
        None when the inputs lack P-values and sample sizes.
    presso : dict
        ``{(id_exposure, id_outcome): result or {"error": reason}}`` from
        :func:`mrbook.sensitivity.presso.mr_presso` (empty when not requested).
    strength : DataFrame or None
        Per-SNP instrument strength (F statistic, R²) from
        :func:`mrbook.sensitivity.strength.instrument_strength_table`.
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
        Harmonised data (:func:`mrbook.data.tsmr.read_harmonised` or
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
    from .sensitivity.steiger import directionality_test
    from .sensitivity.strength import instrument_strength_table

    try:  # needs P-values and sample sizes (or r columns)
        out.directionality = directionality_test(dat)
    except (KeyError, ValueError):
        out.directionality = None
    try:
        tables = instrument_strength_table(dat)
        out.strength, out.strength_summary = tables["per_snp"], tables["summary"]
    except (KeyError, ValueError):
        out.strength = None
    if presso:
        from .sensitivity.presso import mr_presso

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
