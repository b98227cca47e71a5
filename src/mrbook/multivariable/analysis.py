"""Multivariable layer: run every multivariable method on an MVData, and the one call from data sources.

:func:`run_mvmr` runs the methods of
:data:`mrbook.estimators.multivariable.MV_METHODS`, the conditional F statistics
and the Q statistic (:mod:`mrbook.sensitivity.multivariable`), the MR-Egger
intercept, and, for comparison, each exposure's univariable IVW on the same SNPs.
:func:`mvmr_from_sources` is the one call for a batch row with several
exposures: sources in, :class:`MVResult` out (``.to_json()`` is what
``mrbook mvmr`` writes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError, ParameterError
from ..estimators.basic import mr_ivw
from ..estimators.multivariable import (MVMEDIAN_SEED, mr_mvegger, mr_mvivw, mr_mvmedian,
                                        mv_multiple, resolve_mv_methods)
from ..output import VERSION, _clean
from ..rmath.rng import make_rng
from ..sensitivity.multivariable import conditional_f, mv_q_statistic
from .data import MVData

#: the run parameters (mrbook.params.SCHEMA) that :func:`mvmr_from_sources` takes as they are
MV_RUN_KEYS = ("p_threshold", "clump_r2", "clump_kb", "ld_ref", "clump", "palindrome_action",
               "confounder_table", "confounder_traits", "rng")
MV_COLUMNS = ["exposure", "id_exposure", "method_key", "method", "nsnp", "b", "se", "pval",
              "status", "reason"]
#: the rule of thumb for instrument strength (conditional F above it: not weak)
F_THRESHOLD = 10.0


@dataclass
class MVResult:
    """Everything a multivariable analysis gives.

    Attributes
    ----------
    data : MVData
        The harmonised data analysed (with its exclusions).
    mvmr : DataFrame
        One row per exposure and method: ``exposure``, ``id_exposure``,
        ``method_key``, ``method``, ``nsnp``, ``b``, ``se``, ``pval``, ``status``
        ("ok" or "not run"), ``reason``.
    strength : DataFrame
        ``exposure``, ``id_exposure``, ``conditional_f``, ``weak`` (F <= 10).
    heterogeneity : dict
        ``Q``, ``Q_df``, ``Q_pval`` (MVMR ``pleiotropy_mvmr``).
    pleiotropy : dict
        The multivariable MR-Egger intercept: ``egger_intercept``, ``se``,
        ``pval``, ``orientate`` (the exposure the SNPs were oriented on).
    univariable : DataFrame
        Each exposure alone on the same SNPs (TwoSampleMR's random-effects IVW):
        ``exposure``, ``id_exposure``, ``method``, ``nsnp``, ``b``, ``se``, ``pval``.
    settings : dict
        Methods, iterations, seed, rng, pval_threshold, orientate.
    """

    data: MVData
    mvmr: pd.DataFrame
    strength: pd.DataFrame
    heterogeneity: dict
    pleiotropy: dict
    univariable: pd.DataFrame
    settings: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """The JSON object ``mrbook mvmr`` writes (numbers; NaN -> null)."""
        d = self.data
        ok = self.mvmr[self.mvmr["status"] == "ok"]
        rows = [{"exposure": r.exposure, "id.exposure": r.id_exposure, "method": r.method,
                 "nsnp": int(r.nsnp), "b": _clean(r.b), "se": _clean(r.se), "pval": _clean(r.pval)}
                for r in ok.itertuples(index=False)]
        not_run = [{"exposure": r.exposure, "method": r.method, "reason": r.reason}
                   for r in self.mvmr[self.mvmr["status"] != "ok"].itertuples(index=False)]
        return _json_ready({
            "mvmr": rows,
            "not_run": not_run,
            "strength": [{"exposure": r.exposure, "id.exposure": r.id_exposure,
                          "conditional_F": _clean(r.conditional_f)}
                         for r in self.strength.itertuples(index=False)],
            "heterogeneity": {k: _clean(v) for k, v in self.heterogeneity.items()},
            "pleiotropy": {k: _clean(v) for k, v in self.pleiotropy.items()},
            "univariable": [{"exposure": r.exposure, "id.exposure": r.id_exposure,
                             "method": r.method, "nsnp": int(r.nsnp), "b": _clean(r.b),
                             "se": _clean(r.se), "pval": _clean(r.pval)}
                            for r in self.univariable.itertuples(index=False)],
            "snps": list(d.snps),
            "excluded": [{"SNP": r.snp, "step": r.step, "reason": r.reason,
                          **({"exposure": r.exposure} if isinstance(r.exposure, str) else {})}
                         for r in d.exclusions.itertuples(index=False)],
            "meta": {"mrbook_version": VERSION, "outcome": d.outcome_name,
                     "id.outcome": d.outcome_id,
                     "exposures": [{"id.exposure": e, "exposure": n}
                                   for e, n in zip(d.exposures, d.exposure_names)],
                     "nsnp": d.n, "simulated": bool(d.meta.get("simulated", False)),
                     **{k: v for k, v in d.meta.items() if k not in ("selection", "simulated")},
                     **self.settings},
        })


def _json_ready(obj):
    """Plain JSON values all the way down: numpy scalars unwrapped, NaN and infinities null."""
    if isinstance(obj, dict):
        return {str(k): _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_json_ready(v) for v in obj.tolist()]
    if hasattr(obj, "__fspath__"):
        return str(obj)
    return _clean(obj)


def _row(d: MVData, j: int, spec, nsnp, b=np.nan, se=np.nan, pval=np.nan, status="ok",
         reason=None) -> dict:
    return {"exposure": d.exposure_names[j], "id_exposure": d.exposures[j], "method_key": spec.key,
            "method": spec.name, "nsnp": int(nsnp), "b": float(b), "se": float(se),
            "pval": float(pval), "status": status, "reason": reason}


def run_mvmr(data: MVData, methods=None, *, iterations: int = 10000, seed: int = MVMEDIAN_SEED,
             rng: str = "numpy", pval_threshold: float = 5e-8, orientate: int = 1) -> MVResult:
    """Run the multivariable methods, the strength and validity statistics, and the univariable IVW.

    Parameters
    ----------
    data : MVData
    methods : list of str, optional
        Keys or names of :data:`~mrbook.estimators.multivariable.MV_METHODS`;
        default all four.
    iterations : int
        Bootstrap replicates of the weighted median (10000, MendelianRandomization's).
    seed : int
        Seed of the weighted median's bootstrap (314159265: the package sets it).
    rng : {"numpy", "r"}
        ``"r"`` reproduces R's generator, so that the median's SE equals the package's.
    pval_threshold : float
        TwoSampleMR's instrument threshold for ``mv_multiple``'s ``nsnp`` (5e-8).
    orientate : int
        1-based exposure the MR-Egger SNPs are oriented on (1).

    Returns
    -------
    MVResult
        A method needing more SNPs than there are is listed as not run, with the
        reason; the others run.

    Raises
    ------
    InputError
        Fewer SNPs than exposures.
    ParameterError
        ``orientate`` is not one of the exposures.
    """
    specs = resolve_mv_methods(methods)
    d = data
    n, k = d.n, d.k
    if n < k:  # nothing is identifiable, not even the conditional F
        raise InputError(f"{n} SNP{'s' if n != 1 else ''} for {k} exposures: multivariable MR "
                         "needs at least as many SNPs as exposures (and more for each method)",
                         d.meta.get("input"))
    if isinstance(orientate, bool) or not 1 <= int(orientate) <= k:
        raise ParameterError(f"orientate must be an exposure number from 1 to {k} (the data have "
                             f"{k} exposures), got {orientate}")
    rows = []
    egger = None
    for spec in specs:
        need = k + spec.extra_snps
        if n < need:
            why = f"needs at least {need} SNPs for {k} exposures, {n} available"
            rows += [_row(d, j, spec, n, status="not run", reason=why) for j in range(k)]
            continue
        nsnp = np.full(k, n)
        if spec.key == "mv_multiple":
            res = mv_multiple(d.bx, d.by, d.sy, d.pval, pval_threshold=pval_threshold)
            nsnp = res["nsnp"]
        elif spec.key == "mr_mvivw":
            res = mr_mvivw(d.bx, d.by, d.sy)
        elif spec.key == "mr_mvegger":
            res = egger = mr_mvegger(d.bx, d.by, d.sy, orientate)
        else:
            res = mr_mvmedian(d.bx, d.by, d.sx, d.sy, iterations=iterations,
                              rng=make_rng(seed, rng))
        for j in range(k):
            b, se = res["b"][j], res["se"][j]
            if np.isnan(b):
                rows.append(_row(d, j, spec, nsnp[j], status="not run",
                                 reason="not estimable: the exposure is collinear with the others"))
            else:
                rows.append(_row(d, j, spec, nsnp[j], b, se, res["pval"][j]))
    mv = pd.DataFrame(rows, columns=MV_COLUMNS)
    if n > k + 1:
        if egger is None:
            egger = mr_mvegger(d.bx, d.by, d.sy, orientate)
        pleio = {"egger_intercept": egger["b_i"], "se": egger["se_i"], "pval": egger["pval_i"],
                 "orientate": d.exposures[egger["orientate"] - 1]}
        het = mv_q_statistic(d.bx, d.by, d.sx, d.sy)
    else:
        pleio = {"egger_intercept": np.nan, "se": np.nan, "pval": np.nan, "orientate": None}
        het = {"Q": np.nan, "Q_df": n - k - 1, "Q_pval": np.nan}
    f = conditional_f(d.bx, d.sx) if n > k - 1 else np.full(k, np.nan)
    strength = pd.DataFrame({"exposure": d.exposure_names, "id_exposure": d.exposures,
                             "conditional_f": f, "weak": f <= F_THRESHOLD})
    uni = []
    for j in range(k):
        r = mr_ivw(d.bx[:, j], d.by, d.sx[:, j], d.sy) if n >= 2 else {"b": np.nan, "se": np.nan,
                                                                        "pval": np.nan}
        uni.append({"exposure": d.exposure_names[j], "id_exposure": d.exposures[j],
                    "method": "Inverse variance weighted", "nsnp": n, "b": float(r["b"]),
                    "se": float(r["se"]), "pval": float(r["pval"])})
    settings = {"methods": [s.key for s in specs], "iterations": int(iterations), "seed": int(seed),
                "rng": rng, "pval_threshold": pval_threshold, "orientate": int(orientate)}
    return MVResult(data=d, mvmr=mv, strength=strength, heterogeneity=het, pleiotropy=pleio,
                    univariable=pd.DataFrame(uni), settings=settings)


def mvmr_from_sources(exposure_sources, outcome_source, *, methods=None, p_threshold: float = 5e-8,
                      clump_r2: float = 0.01, clump_kb: float = 10000, ld_ref=None, clump: bool = True,
                      palindrome_action: int = 2, confounder_table=None, confounder_traits=(),
                      confounder_p: float = 5e-8, iterations: int = 10000,
                      seed: int = MVMEDIAN_SEED, rng: str = "numpy", clump_engine: str = "auto",
                      demo_seed: int | None = None, cache_dir=None) -> MVResult:
    """Multivariable MR from data sources: select the instruments, harmonise, run every method.

    The function a batch calls for a manifest row that names several exposures
    (``"demo-mv:hypothyroidism+demo-mv:hyperthyroidism+demo-mv:hashimoto"`` split
    on ``+``). Its keyword names are those of the run parameters
    (:data:`mrbook.params.SCHEMA`), so a run's values pass straight through:
    ``mvmr_from_sources(srcs, outcome, **{k: run[k] for k in MV_RUN_KEYS})``.

    Parameters
    ----------
    exposure_sources : sequence of str or mapping of str to str
        Two or more sources (files, ``demo:``/``demo-mv:<trait>``, OpenGWAS IDs),
        or display name -> source.
    outcome_source : str
        The outcome's source.
    methods, iterations, seed, rng
        As :func:`run_mvmr`.
    p_threshold, clump_r2, clump_kb, ld_ref, clump, palindrome_action, confounder_table,
    confounder_traits, confounder_p, clump_engine, demo_seed, cache_dir
        As :func:`mrbook.multivariable.sources.mv_select_instruments` (the book's
        parameters of the same names).

    Returns
    -------
    MVResult
        ``.data.exclusions`` lists every SNP dropped with its step and reason;
        ``.data.meta["selection"]`` has one row per SNP that passed the threshold.

    Examples
    --------
    >>> res = mvmr_from_sources(["demo-mv:hypothyroidism", "demo-mv:hyperthyroidism",
    ...                          "demo-mv:hashimoto"], "demo-mv:osteoporosis")  # doctest: +SKIP
    >>> res.to_json()["mvmr"][0]["method"]  # doctest: +SKIP
    'Multivariable IVW'
    """
    from .sources import mv_select_instruments

    data = mv_select_instruments(exposure_sources, outcome_source, p=p_threshold, r2=clump_r2,
                                 kb=clump_kb, ld_ref=ld_ref or None, palindrome_action=palindrome_action,
                                 confounder_table=confounder_table, confounder_traits=confounder_traits,
                                 confounder_p=confounder_p, clump=clump, clump_engine=clump_engine,
                                 demo_seed=demo_seed, cache_dir=cache_dir)
    return run_mvmr(data, methods, iterations=iterations, seed=seed, rng=rng,
                    pval_threshold=p_threshold)
