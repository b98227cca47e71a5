"""Analysis layer: TwoSampleMR's mr(), heterogeneity, pleiotropy, leave-one-out, single-SNP, per pair.

These mirror TwoSampleMR's ``mr()``, ``mr_heterogeneity()``,
``mr_pleiotropy_test()``, ``mr_leaveoneout()`` and ``mr_singlesnp()``: they take
a harmonised DataFrame in TwoSampleMR's column names (see
:func:`mrbook.data.tsmr.read_harmonised`) and return tidy DataFrames with stable
snake_case columns. Every pair is analysed on its rows with ``mr_keep``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special

from .data.frames import frame_from_arrays
from .estimators import METHODS, Params, basic, resolve_methods
from .estimators._stats import p_normal
from .pairs import PAIR_COLUMNS, column, iter_pairs, single_pair  # noqa: F401  (re-exported)
from .rmath.rng import make_rng

_VALUE_COLUMNS = ("beta.exposure", "beta.outcome", "se.exposure", "se.outcome")
_ID_KEYS = ("id.exposure", "id.outcome", "mr_keep")
_PAIR_KEYS = _ID_KEYS + ("exposure", "outcome")


def _vectors(rows: pd.DataFrame, keep=None):
    """bx, by, sx, sy of ``rows`` as float arrays (only the ``keep`` rows when given)."""
    out = []
    for c in _VALUE_COLUMNS:
        v = np.asarray(column(rows, c), dtype=float)
        out.append(v if keep is None else v[keep])
    return tuple(out)


class _Pair:
    """One exposure-outcome pair's ``mr_keep`` rows as arrays (what the analyses read).

    ``vectors`` are bx, by, sx, sy; :meth:`snps` and :meth:`samplesize` read the SNP
    and outcome sample size columns only when asked.
    """

    __slots__ = ("pair", "k", "vectors", "_dat", "_keep")

    def __init__(self, pair, dat, keep, vectors):
        self.pair, self._dat, self._keep, self.vectors = pair, dat, keep, vectors
        self.k = vectors[0].size

    def snps(self) -> list:
        col = column(self._dat, "SNP")
        return (col if self._keep is None else col[self._keep]).tolist()

    def samplesize(self) -> float:
        if "samplesize.outcome" not in self._dat.columns or self.k == 0:
            return np.nan
        col = column(self._dat, "samplesize.outcome")
        first = 0 if self._keep is None else int(np.flatnonzero(self._keep)[0])
        return float(col[first])


def _pairs(dat: pd.DataFrame, names=None):
    """Yield a :class:`_Pair` per exposure-outcome pair, as :func:`iter_pairs` groups them.

    For a table holding one pair (the usual case) no per-pair DataFrame is built: the
    arrays are read from ``dat`` once, ~0.3 ms less per analysis than
    ``iter_pairs`` + column access; the values are the same. ``names``, an
    (exposure, outcome) pair of trait names, stands for the table's ``exposure``
    and ``outcome`` columns: what every pair gets when they are set to them.
    """
    cols = dat.columns
    keys = _PAIR_KEYS if names is None else _ID_KEYS
    ids = single_pair(dat) if all(c in cols for c in keys) else None
    if ids is None:
        for pair, rows in iter_pairs(dat):
            yield _Pair(_named(pair, names), rows, None, _vectors(rows))
        return
    if names is None:
        names = (column(dat, "exposure")[0], column(dat, "outcome")[0])
    pair = {"id_exposure": str(ids[0]), "id_outcome": str(ids[1]),
            "exposure": str(names[0]), "outcome": str(names[1])}
    keep = np.asarray(column(dat, "mr_keep"), dtype=bool)
    if keep.all():
        keep = None
    yield _Pair(pair, dat, keep, _vectors(dat, keep))


def _named(pair: dict, names) -> dict:
    """``pair`` with the trait names ``names`` (exposure, outcome), if given."""
    if names is None:
        return pair
    return dict(pair, exposure=str(names[0]), outcome=str(names[1]))


def _not_run_reason(spec, k: int) -> str | None:
    if k < spec.min_snps:
        return f"needs at least {spec.min_snps} SNP{'s' if spec.min_snps > 1 else ''}, {k} available"
    if spec.max_snps is not None and k > spec.max_snps:
        return f"takes at most {spec.max_snps} SNP, {k} available"
    return None


#: the sample-size columns whose smallest value a method that needs ``n`` gets (cML's BIC)
SAMPLESIZE_COLUMNS = ("samplesize.exposure", "samplesize.outcome")


def _min_samplesize(one: _Pair) -> float | None:
    """The smallest sample size of the pair's SNPs, over both sample-size columns (None if none).

    As the reference runs of MendelianRandomization's ``mr_cML`` took it:
    ``n = min(samplesize.exposure, samplesize.outcome)`` over the SNPs used;
    missing values are passed over.
    """
    vals = []
    for c in SAMPLESIZE_COLUMNS:
        if c in one._dat.columns:
            v = pd.to_numeric(one._dat[c], errors="coerce").to_numpy(dtype=float)
            vals.append(v if one._keep is None else v[one._keep])
    vals = np.concatenate(vals) if vals else np.empty(0)
    vals = vals[np.isfinite(vals) & (vals > 0)]
    return float(vals.min()) if vals.size else None


MR_COLUMNS = PAIR_COLUMNS + ["method_key", "method", "nsnp", "b", "se", "pval", "ci_low", "ci_upp",
                             "status", "reason"]
#: optional fields of a method's row, copied from its result when it gives them (robust MR-Egger's
#: intercept); the table has such a column only when a method of the run filled it
MR_OPTIONAL_COLUMNS = ["intercept", "intercept_se", "intercept_pval"]
HET_COLUMNS = PAIR_COLUMNS + ["method", "q", "q_df", "q_pval"]
#: the methods whose Cochran's Q :func:`heterogeneity` reports by default (TwoSampleMR's)
HET_METHODS = ("mr_egger_regression", "mr_ivw")
PLEIO_COLUMNS = PAIR_COLUMNS + ["nsnp", "egger_intercept", "se", "pval"]
#: the tables :func:`mr_rows` makes: :func:`run_mr`'s, :func:`heterogeneity`'s, :func:`pleiotropy`'s
MR_TABLES = ("results", "heterogeneity", "pleiotropy")


class Rows:
    """A table as its rows (dicts) and its columns: what :func:`run_mr`,
    :func:`heterogeneity` and :func:`pleiotropy` make their tables from.

    ``mrbook batch`` keeps a pair's rows so that the pairs of a chunk make one
    table (:func:`stack_tables`) instead of a table each.
    """

    __slots__ = ("rows", "columns")

    def __init__(self, rows: list[dict], columns: list[str]):
        self.rows, self.columns = rows, columns

    def __len__(self) -> int:
        return len(self.rows)

    def table(self) -> pd.DataFrame:
        """``pd.DataFrame(rows, columns=columns)`` (a field a row lacks is NaN), built column by
        column (:func:`_frame`: the same columns, dtypes and values, less pandas work)."""
        if not self.rows:
            return pd.DataFrame(self.rows, columns=self.columns)
        return _frame(self._columns_of(self.rows), self.columns)

    def _columns_of(self, rows: list[dict]) -> dict:
        return {c: [r.get(c, np.nan) for r in rows] for c in self.columns}


def stack_tables(parts: list[Rows]) -> pd.DataFrame:
    """``pd.concat([p.table() for p in parts], ignore_index=True)``, made at once when it can be.

    When every part has rows and the same columns, and each column of all their
    rows together is of one type that :func:`_typed` builds directly (all
    ``str``, all floats, all ints or all None), each part's column is of that
    type too, so the parts' tables put end to end are the table of all the rows:
    it is made once (~0.3 ms per pair less for the batch's chunks of pairs).
    Otherwise (a part without rows, other columns, mixed values) the parts'
    tables are concatenated, as pandas does it.
    """
    first = parts[0]
    if all(p.rows and p.columns == first.columns for p in parts):
        rows = [r for p in parts for r in p.rows]
        cols = first._columns_of(rows)
        arrays = [_typed(cols[c]) for c in first.columns]
        if _all_typed(arrays):
            return frame_from_arrays(arrays, first.columns, len(rows))
    return pd.concat([p.table() for p in parts], ignore_index=True)


#: estimators whose result depends on the SNPs' values only (neither the parameters nor the
#: random stream, not even its seed): :func:`run_mr`'s fit is the one :func:`_fit` would make
_SNPS_ONLY = frozenset({basic.mr_wald_ratio, basic.mr_ivw, basic.mr_ivw_mre, basic.mr_ivw_fe,
                        basic.mr_egger_regression})


def _mr_pair_rows(one: _Pair, specs, params: Params, stream, fits: dict) -> list[dict]:
    """:func:`run_mr`'s rows of one pair.

    A result that :func:`_fit` would compute again (an estimator of
    :data:`_SNPS_ONLY`) is kept in ``fits``.
    """
    share = stream.kind == "numpy"
    pair, k = one.pair, one.k
    bx, by, sx, sy = one.vectors
    joint: dict = {}        # joint function -> {name: result}, computed at the first member
    n = _min_samplesize(one) if any(s.needs_samplesize for s in specs) else None
    out = []
    for spec in specs:
        if spec.key == "mr_wald_ratio" and k > 1 and len(specs) > 1:
            continue
        row = dict(pair, method_key=spec.key, method=spec.name, nsnp=k,
                   b=np.nan, se=np.nan, pval=np.nan, ci_low=np.nan, ci_upp=np.nan,
                   status="ok", reason=None)
        why = _not_run_reason(spec, k)
        if why is None and spec.needs_samplesize and n is None:
            why = ("needs the GWAS sample size (samplesize.exposure or samplesize.outcome), "
                   "which the table does not give")
        if why is None:
            if share and spec.joint is not None:
                if spec.joint not in joint:
                    names = [s.name for s in specs
                             if s.joint is spec.joint and _not_run_reason(s, k) is None]
                    joint[spec.joint] = spec.joint(bx, by, sx, sy, params, stream, names)
                res = joint[spec.joint][spec.name]
            elif spec.needs_samplesize:
                res = spec.func(bx, by, sx, sy, params, stream, n=n)
            else:
                res = spec.func(bx, by, sx, sy, params, stream)
                if spec.func in _SNPS_ONLY:
                    fits[spec.key] = res
            row.update(b=float(res["b"]), se=float(res["se"]), pval=float(res["pval"]))
            if spec.interval:
                row.update(ci_low=float(res.get("ci_low", np.nan)),
                           ci_upp=float(res.get("ci_upp", np.nan)))
            row.update({c: float(res[c]) for c in MR_OPTIONAL_COLUMNS if c in res})
            if res.get("note"):          # e.g. robustbase's warning about a fit's covariance
                row["reason"] = str(res["note"])
            if np.isnan(row["b"]) and np.isnan(row["se"]):
                why = (str(res["note"]) if res.get("note") else
                       "could not be estimated from these SNPs (collinear or degenerate data)")
        if why is not None:
            row.update(status="not run", reason=why)
        out.append(row)
    return out


def _fit(spec, one: _Pair, fits: dict) -> dict:
    """``spec``'s result on the pair with the default parameters and no random stream
    (how :func:`heterogeneity` and :func:`pleiotropy` fit), computed once per pair."""
    if spec.key not in fits:
        fits[spec.key] = spec.func(*one.vectors, Params(), None)
    return fits[spec.key]


def _het_pair_rows(one: _Pair, specs, fits: dict) -> list[dict]:
    """:func:`heterogeneity`'s rows of one pair."""
    out = []
    if one.k < 2:
        return out
    for spec in specs:
        res = _fit(spec, one, fits)
        if np.isnan(res.get("Q", np.nan)):
            continue
        out.append(dict(one.pair, method=spec.name, q=res["Q"], q_df=res["Q_df"],
                        q_pval=res["Q_pval"]))
    return out


def _pleio_pair_rows(one: _Pair, fits: dict) -> list[dict]:
    """:func:`pleiotropy`'s row of one pair (none with fewer than two SNPs)."""
    if one.k < 2:
        return []
    res = _fit(METHODS["mr_egger_regression"], one, fits)
    return [dict(one.pair, nsnp=one.k, egger_intercept=res["b_i"], se=res["se_i"],
                 pval=res["pval_i"])]


def mr_rows(dat: pd.DataFrame, tables=MR_TABLES, methods=None, params: Params | None = None,
            seed: int = 1234, rng: str = "numpy", het_methods=HET_METHODS,
            names=None) -> dict[str, Rows]:
    """The rows of :func:`run_mr`, :func:`heterogeneity` and :func:`pleiotropy`, in one pass.

    Each pair is split from ``dat`` once (:func:`_pairs`), and a fit that
    :func:`run_mr` made is not made again for the heterogeneity and pleiotropy
    rows when it is the same computation (:func:`_fit`).

    Parameters
    ----------
    dat : DataFrame
        Harmonised data (TwoSampleMR column names, ``mr_keep``).
    tables : sequence of str
        Which of :data:`MR_TABLES` ("results", "heterogeneity", "pleiotropy") to make.
    methods, params, seed, rng
        :func:`run_mr`'s arguments (for "results").
    het_methods : sequence of str
        :func:`heterogeneity`'s ``methods``.
    names : (str, str), optional
        Exposure and outcome trait names for the rows, instead of the table's
        ``exposure`` and ``outcome`` columns: the rows are those of ``dat`` with
        these columns set to them (``mrbook batch`` names a pair as its manifest does).

    Returns
    -------
    dict
        Table name -> :class:`Rows`; ``rows.table()`` is the function's table.
    """
    if "results" in tables:
        params = params or Params()
        specs = resolve_methods(methods)
        stream = make_rng(seed, rng)
    if "heterogeneity" in tables:
        het_specs = [METHODS[m] for m in het_methods]
    out: dict[str, list] = {name: [] for name in tables}
    for one in _pairs(dat, names):
        fits: dict = {}          # method key -> result of _fit's computation
        if "results" in tables:
            out["results"] += _mr_pair_rows(one, specs, params, stream, fits)
        if "heterogeneity" in tables:
            out["heterogeneity"] += _het_pair_rows(one, het_specs, fits)
        if "pleiotropy" in tables:
            out["pleiotropy"] += _pleio_pair_rows(one, fits)
    columns = {"heterogeneity": HET_COLUMNS, "pleiotropy": PLEIO_COLUMNS}
    if "results" in tables:
        columns["results"] = MR_COLUMNS + [c for c in MR_OPTIONAL_COLUMNS
                                           if any(c in r for r in out["results"])]
    return {name: Rows(rows, columns[name]) for name, rows in out.items()}


def run_mr(dat: pd.DataFrame, methods=None, params: Params | None = None, seed: int = 1234,
           rng: str = "numpy") -> pd.DataFrame:
    r"""Run MR methods on every exposure-outcome pair (TwoSampleMR's ``mr()``).

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
        nsnp, b, se, pval, ci_low, ci_upp, status ("ok" or "not run") and reason
        (why not run, or the method's own note about a result, e.g. that its fit
        did not converge), then any of :data:`MR_OPTIONAL_COLUMNS` that a
        requested method gives (NaN in the other rows). ``ci_low`` and ``ci_upp``
        hold the interval of a method that gives its own (``MethodSpec.interval``,
        e.g. the contamination mixture, at level ``1 - params.alpha``) and are NaN
        for every other method, whose interval is :math:`b \pm z\,se`
        (:func:`add_odds_ratios`).
        A single-SNP pair gets the Wald ratio; with more SNPs the Wald ratio is
        left out (it is in :func:`singlesnp`), as TwoSampleMR does. A method that
        needs the sample size (``MethodSpec.needs_samplesize``) gets the smallest
        value of the pair's ``samplesize.exposure`` and ``samplesize.outcome``
        and is reported as not run, with the reason, when the table has none.
    """
    return mr_rows(dat, ("results",), methods, params, seed, rng)["results"].table()


def mr_tables(dat: pd.DataFrame, methods=None, params: Params | None = None, seed: int = 1234,
              rng: str = "numpy") -> dict[str, pd.DataFrame]:
    """:func:`run_mr`, :func:`heterogeneity` and :func:`pleiotropy` of ``dat`` together.

    The same tables as the three functions (``"results"`` is ``run_mr(dat, methods,
    params, seed, rng)``), computed in one pass over the pairs (:func:`mr_rows`).
    ``mrbook mr`` and :func:`analyse` use it.

    Returns
    -------
    dict
        ``{"results": ..., "heterogeneity": ..., "pleiotropy": ...}`` (DataFrames).
    """
    rows = mr_rows(dat, MR_TABLES, methods, params, seed, rng)
    return {name: r.table() for name, r in rows.items()}


def add_odds_ratios(table: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    r"""Add confidence limits and odds ratios (TwoSampleMR's ``generate_odds_ratios``).

    Adds ``lo_ci``, ``up_ci`` (:math:`b \mp z_{(1+level)/2}\,se`) and ``or``,
    ``or_lci95``, ``or_uci95`` (their exponentials), as numbers; formatting is
    the display's job. A row with its own interval (``ci_low``, ``ci_upp`` not
    NaN: a method such as the contamination mixture, whose interval is not
    :math:`b \pm z\,se`) takes its limits from there; those intervals are at
    the level the method computed them (95 %, ``Params.alpha = 0.05``), so for
    another ``level`` such rows get NaN limits rather than a wrong interval.
    """
    t = table.copy()
    z = special.ndtri(0.5 + level / 2)   # stats.norm.ppf
    t["lo_ci"] = t["b"] - z * t["se"]
    t["up_ci"] = t["b"] + z * t["se"]
    if {"ci_low", "ci_upp"} <= set(t.columns):
        own = t["ci_low"].notna() | t["ci_upp"].notna()
        if own.any():
            same = math.isclose(level, 0.95)
            t.loc[own, "lo_ci"] = t.loc[own, "ci_low"] if same else np.nan
            t.loc[own, "up_ci"] = t.loc[own, "ci_upp"] if same else np.nan
    t["or"] = np.exp(t["b"])
    t["or_lci95"] = np.exp(t["lo_ci"])
    t["or_uci95"] = np.exp(t["up_ci"])
    return t


def heterogeneity(dat: pd.DataFrame, methods=HET_METHODS) -> pd.DataFrame:
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
    return mr_rows(dat, ("heterogeneity",), het_methods=methods)["heterogeneity"].table()


_STRINGS: list = []


def _strings():
    """A function making, from a list of ``str``, the column pandas infers for it.

    pandas infers ``str`` (pandas >= 3: an ``ArrowStringArray`` of Arrow
    ``large_string``) or object (before). The Arrow array is then built directly,
    ~7 us instead of ~15 us for ``pd.array``; where that does not give
    ``pd.array``'s very array (another pandas or pyarrow), ``pd.array`` itself.
    """
    if not _STRINGS:
        dtype = pd.Series(["a"]).dtype
        if isinstance(dtype, np.dtype):                 # object: pandas < 3
            def make(values):
                return np.array(values, dtype=object)
        else:
            def make(values):
                return pd.array(values, dtype=dtype)
            try:
                import pyarrow as pa
                from pandas.arrays import ArrowStringArray

                def arrow(values):
                    return ArrowStringArray(pa.array(values, type=pa.large_string()), dtype=dtype)
                probe = ["a", "bc"]
                ref, got = make(probe), arrow(probe)
                if (type(got) is type(ref) and got.dtype == ref.dtype
                        and got._pa_array.equals(ref._pa_array)):
                    make = arrow
            except Exception:                           # noqa: BLE001 - any doubt: pandas' path
                pass
        _STRINGS.append(make)
    return _STRINGS[0]


def _typed(values):
    """``values`` (a list) as the array ``pd.DataFrame`` would infer for it, built directly.

    A list of ``str`` becomes the string column of :func:`_strings`, one of Python or
    numpy floats a float64 array, one of ints an int64 array, one of None only an
    object array of None (each ~10 us instead of pandas' general inference, ~30 us
    per column); anything else (bools, mixed values) is returned as it is, for
    pandas to infer.
    """
    if isinstance(values, np.ndarray) or not values:
        return values
    kinds = {type(v) for v in values}
    if kinds == {str}:
        return _strings()(values)
    if kinds <= {float, np.float64}:
        return np.array(values, dtype=np.float64)
    if kinds == {int} and all(-(1 << 63) <= v < (1 << 63) for v in values):
        return np.array(values, dtype=np.int64)
    if kinds == {type(None)}:
        return np.empty(len(values), dtype=object)   # filled with None
    return values


def _frame(cols: dict, columns: list[str]) -> pd.DataFrame:
    """``pd.DataFrame(cols, columns=columns)`` for a dict of equal-length lists or arrays.

    The same columns, dtypes and values as pandas' inference from the lists
    (:func:`_typed`), at about a fifth of the cost for the analyses' few-row
    tables: when every column is typed (a numpy or pandas array) the frame is made
    from the arrays as they are (:func:`mrbook.data.frames.frame_from_arrays`,
    ~35 us for 14 columns instead of ~100 us); otherwise by ``pd.DataFrame``.
    (The float columns then share one block, as in a frame pandas has
    consolidated; the values are the same.)
    """
    arrays = [_typed(cols[c]) for c in columns]
    if _all_typed(arrays):
        return frame_from_arrays(arrays, columns, len(arrays[0]))
    return pd.DataFrame(dict(zip(columns, arrays)), copy=False)


def _all_typed(arrays: list) -> bool:
    """Whether these :func:`_typed` columns are all arrays of one length (not lists left to
    pandas' inference)."""
    n = len(arrays[0]) if arrays else 0
    return bool(arrays and all(isinstance(a, (np.ndarray, pd.api.extensions.ExtensionArray))
                               and a.ndim == 1 and len(a) == n for a in arrays))


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
    return mr_rows(dat, ("pleiotropy",))["pleiotropy"].table()


SNP_COLUMNS = PAIR_COLUMNS + ["samplesize", "snp", "b", "se", "pval"]


def _snp_table(parts: list[tuple]) -> pd.DataFrame:
    """The SNP_COLUMNS table from ``(pair, samplesize, snps, b, se, pval)`` blocks.

    Built column by column (a list of per-row dicts costs ~1 ms for 80 rows);
    the values and dtypes are those of ``pd.DataFrame(list_of_row_dicts)``.
    """
    if not parts:
        return pd.DataFrame([], columns=SNP_COLUMNS)
    cols: dict = {c: [] for c in PAIR_COLUMNS + ["samplesize", "snp"]}
    nums: dict[str, list] = {"samplesize": [], "b": [], "se": [], "pval": []}
    for pair, n, snps, b, se, pval in parts:
        m = len(snps)
        for c in PAIR_COLUMNS:
            cols[c].extend([pair[c]] * m)
        nums["samplesize"].append(np.full(m, n, dtype=float))
        cols["snp"].extend(snps)
        nums["b"].append(np.asarray(b, dtype=float).ravel())
        nums["se"].append(np.asarray(se, dtype=float).ravel())
        nums["pval"].append(np.asarray(pval, dtype=float).ravel())
    # float columns as float64 arrays (what the lists of floats gave, without the lists)
    for c, v in nums.items():
        cols[c] = np.concatenate(v)
    return _frame(cols, SNP_COLUMNS)


#: rows of the (rows x k-1) leave-one-out matrices processed together
_LOO_BLOCK_ELEMENTS = 1 << 20


#: above this many SNPs the leave-one-out IVW fits use running sums (O(k) instead of O(k^2))
_LOO_DIRECT_MAX = 1000


def _ivw_leave_one_out(bx, by, sy):
    """``mr_ivw``'s b, se and pval without each SNP in turn, for all SNPs at once.

    Up to :data:`_LOO_DIRECT_MAX` SNPs every fit is computed from its own k - 1 SNPs
    (below); beyond, from running sums (:func:`_ivw_leave_one_out_sums`).
    """
    if bx.size > _LOO_DIRECT_MAX:
        return _ivw_leave_one_out_sums(bx, by, sy)
    return _ivw_leave_one_out_direct(bx, by, sy)


def _but_one(v) -> np.ndarray:
    """``sum(v[-i])`` for every i: the sums before and after i, in long double."""
    v = np.asarray(v, dtype=np.longdouble)
    before = np.concatenate([[0], np.cumsum(v[:-1])])
    after = np.concatenate([np.cumsum(v[:0:-1])[::-1], [0]])
    return before + after


def _ivw_leave_one_out_sums(bx, by, sy):
    r"""Leave-one-out IVW fits from running sums: O(k) for many SNPs.

    With :math:`w = \sigma_Y^{-2}`, the fit without SNP i has
    :math:`S_{xx} = \sum_{j \ne i} w_j x_j^2`, :math:`\hat\beta_i = \sum_{j\ne i}
    w_j x_j y_j / S_{xx}` and, written with the residuals :math:`r_j = y_j -
    \hat\beta x_j` of the fit on all SNPs (no large terms cancel),
    :math:`Q_i = \sum_{j \ne i} w_j r_j^2 - B_i^2/S_{xx}`,
    :math:`B_i = \sum_{j \ne i} w_j r_j x_j`. Every "all but one" sum is the sum before
    i plus the sum after i, accumulated in long double, so the results agree with
    the direct fits (:func:`_ivw_leave_one_out_direct`) to ~1e-15 relative.
    """
    k = bx.size
    w = 1.0 / sy**2
    sxx_all = np.sum(w * bx * bx)
    b_all = np.sum(w * bx * by) / sxx_all
    r = by - b_all * bx
    sxx = _but_one(w * bx * bx)
    sxy = _but_one(w * bx * by)
    bsum = _but_one(w * r * bx)
    q = _but_one(w * r * r) - bsum * bsum / sxx
    sxx = sxx.astype(float)
    b = sxy.astype(float) / sxx
    q = np.maximum(q.astype(float), 0.0)
    se_fe = np.sqrt(1.0 / sxx)
    sigma = np.sqrt(q / (k - 2))
    se = se_fe * np.where(sigma > 1.0, sigma, 1.0)
    return b, se, p_normal(b / se)


def _ivw_leave_one_out_direct(bx, by, sy):
    """``mr_ivw``'s b, se and pval without each SNP in turn, each fit on its own SNPs.

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
    for one in _pairs(dat):
        pair, k = one.pair, one.k
        bx, by, sx, sy = one.vectors
        n = one.samplesize()
        snps = one.snps()
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
    for one in _pairs(dat):
        pair = one.pair
        bx, by, sx, sy = one.vectors
        n = one.samplesize()
        snps = one.snps()
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
    tables = mr_tables(dat, methods=methods, params=params, seed=seed, rng=rng)
    mr = add_odds_ratios(tables["results"])
    out = MRAnalysis(harmonised=dat, mr=mr, heterogeneity=tables["heterogeneity"],
                     pleiotropy=tables["pleiotropy"], leaveoneout=leaveoneout(dat),
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
