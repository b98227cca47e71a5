"""Report layer: the tables a page shows, pure builders from results, and one number format.

Table builders are pure functions from result tables to tidy DataFrames with
stable snake_case columns (numbers stay numbers): :func:`mr_results_table`
(Tables 2 and 4), :func:`sensitivity_table` (Tables 3 and 5), ...
:func:`format_table` turns a tidy table into text for display, with one
formatting rule for every table: P values as journals print them (:func:`fmt_p`),
other numbers to a column's decimals (:func:`fmt_num`) or significant digits
(:func:`fmt_sig`), and whatever is too small for that in the P values' journal
style ``m × 10⁻ⁿ`` (:func:`fmt_sci`), never in computer notation (``8.3e-09``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from ..params import SCHEMA, source_kind
from .study import (PUBLISHED_INSTRUMENTS, PUBLISHED_IVW, STUDY_GWAS, DirectionResult, Pair,
                    data_source_kinds, trait_key)

def data_sources_table(run: Mapping[str, Any]) -> pd.DataFrame:
    """Table 1: the GWAS of each trait, with the study's published metadata.

    Returns
    -------
    DataFrame
        role (forward MR | reverse MR: "exposure → | → outcome" for a thyroid
        trait, "→ outcome | exposure →" for the outcome), trait, data_source,
        kind ("simulated demo", "OpenGWAS", "file"),
        opengwas_id, ncase, ncontrol, n, gwas (the published study's source);
        the metadata are the paper's for the study's traits (for the demo they
        are what the simulation mirrors) and empty otherwise.
    """
    rows = []
    roles = [("exposure → | → outcome", t, s) for t, s in run["exposures"].items()]
    roles.append(("→ outcome | exposure →", run["outcome_trait"], run["outcome_source"]))
    for role, trait, src in roles:
        kind = {"demo": "simulated demo", "opengwas": "OpenGWAS", "file": "file"}[source_kind(src)]
        meta = STUDY_GWAS.get(trait_key(trait, src) or "", {})
        if kind == "file":
            meta = {}
        rows.append(dict(role=role, trait=trait, data_source=src, kind=kind,
                         opengwas_id=meta.get("opengwas_id", ""),
                         ncase=meta.get("ncase", np.nan), ncontrol=meta.get("ncontrol", np.nan),
                         n=meta.get("n", np.nan), gwas=meta.get("source", "")))
    return pd.DataFrame(rows)

def instrument_summary_table(result: DirectionResult) -> pd.DataFrame:
    """Counts of the instrument-selection steps per exposure, next to the paper's.

    Returns
    -------
    DataFrame
        exposure, outcome, candidates, missing_in_outcome, palindromic,
        confounder, final, f_min, f_max, and published_final (the paper's
        count, NaN when the trait is not one of the study's).
    """
    rows = []
    for pair in result.pairs:
        s = dict(result.instruments[pair.label].summary)
        key = trait_key(pair.exposure, pair.exposure_source)
        pub = PUBLISHED_INSTRUMENTS.set_index("trait_key")
        rows.append(dict(exposure=pair.exposure, outcome=pair.outcome,
                         candidates=s.get("candidates"), missing_in_outcome=s.get("missing_in_outcome"),
                         palindromic=s.get("palindromic"), confounder=s.get("confounder"),
                         final=s.get("final"), f_min=s.get("f_min"), f_max=s.get("f_max"),
                         published_final=pub.loc[key, "final"] if key in pub.index else np.nan))
    return pd.DataFrame(rows)

def instrument_table(result: DirectionResult, pair: Pair) -> pd.DataFrame:
    """Every SNP of a pair that passed the P threshold: used or excluded, at which step and why.

    Returns
    -------
    DataFrame
        snp, status ("used" or "excluded"), step (the selection step that
        excluded it: clumping, missing_in_outcome, harmonise, palindromic,
        confounder, steiger; empty when used), reason, f_stat, then the SNP's
        position, alleles and exposure association (chr, pos, effect_allele,
        other_allele, eaf, beta, se, p, n, rsq) and proxy_snp, confounder_hits.
    """
    snps = result.instruments[pair.label].snps.copy()
    out = pd.DataFrame({
        "snp": snps["snp"].astype(str),
        "status": np.where(snps["final"].astype(bool), "used", "excluded"),
        "step": snps["excluded_at"].fillna("").astype(str),
        "reason": snps["reason"].fillna("").astype(str),
        "f_stat": snps["f_stat"].astype(float),
    })
    for col in ("chr", "pos", "effect_allele", "other_allele", "eaf", "beta", "se", "p", "n", "rsq",
                "proxy_snp", "confounder_hits"):
        if col in snps.columns:
            out[col] = snps[col].to_numpy()
    return out

def mr_results_table(mr: pd.DataFrame) -> pd.DataFrame:
    """Tables 2 and 4: each exposure-outcome pair by each MR method.

    Returns
    -------
    DataFrame
        exposure, outcome, method, nsnp, b, se, or, or_lci95, or_uci95, pval,
        status, reason (why a method did not run).
    """
    cols = ["exposure", "outcome", "method", "nsnp", "b", "se", "or", "or_lci95", "or_uci95", "pval",
            "status", "reason"]
    t = mr.copy()
    if "or" not in t.columns:
        t["or"], t["or_lci95"], t["or_uci95"] = (np.exp(t["b"]), np.exp(t["b"] - 1.96 * t["se"]),
                                                 np.exp(t["b"] + 1.96 * t["se"]))
        if {"ci_low", "ci_upp"} <= set(t.columns):     # a method's own interval (ConMix)
            own = t["ci_low"].notna() | t["ci_upp"].notna()
            t.loc[own, "or_lci95"] = np.exp(t.loc[own, "ci_low"])
            t.loc[own, "or_uci95"] = np.exp(t.loc[own, "ci_upp"])
    for c in ("status", "reason"):
        if c not in t.columns:
            t[c] = ""
    t["reason"] = t["reason"].fillna("")
    return t[cols].reset_index(drop=True)


def sensitivity_table(heterogeneity: pd.DataFrame, pleiotropy: pd.DataFrame) -> pd.DataFrame:
    """Tables 3 and 5: Cochran's Q of IVW and MR-Egger, and the MR-Egger intercept.

    Returns
    -------
    DataFrame
        One row per pair: exposure, outcome, ivw_q, ivw_q_df, ivw_q_pval,
        egger_q, egger_q_df, egger_q_pval, egger_intercept, egger_intercept_se,
        egger_intercept_pval.
    """
    keys = ["exposure", "outcome"]
    out = (pleiotropy if len(pleiotropy) else heterogeneity)[keys].drop_duplicates()
    for method, prefix in (("Inverse variance weighted", "ivw"), ("MR Egger", "egger")):
        h = heterogeneity[heterogeneity["method"] == method][keys + ["q", "q_df", "q_pval"]]
        h = h.rename(columns={"q": f"{prefix}_q", "q_df": f"{prefix}_q_df",
                              "q_pval": f"{prefix}_q_pval"})
        out = out.merge(h, on=keys, how="left")
    p = pleiotropy[keys + ["egger_intercept", "se", "pval"]].rename(
        columns={"se": "egger_intercept_se", "pval": "egger_intercept_pval"})
    return out.merge(p, on=keys, how="left").reset_index(drop=True)

def steiger_table(directionality: pd.DataFrame | None) -> pd.DataFrame:
    """Steiger directionality test per pair (variance explained in exposure vs outcome)."""
    cols = ["exposure", "outcome", "snp_r2_exposure", "snp_r2_outcome", "correct_causal_direction",
            "steiger_pval"]
    if directionality is None or not len(directionality):
        return pd.DataFrame(columns=cols)
    d = directionality.rename(columns={"snp_r2.exposure": "snp_r2_exposure",
                                       "snp_r2.outcome": "snp_r2_outcome"})
    return d[[c for c in cols if c in d.columns]].reset_index(drop=True)

def presso_table(result: DirectionResult) -> pd.DataFrame:
    """MR-PRESSO per pair: raw and outlier-corrected estimates, global and distortion tests.

    Returns
    -------
    DataFrame
        exposure, outcome, nsnp, raw_b, raw_se, raw_pval, corrected_b,
        corrected_se, corrected_pval, global_rss_obs, global_pval, n_outliers,
        outliers, distortion_pval, note (why it did not run, or MR-PRESSO's note).
    """
    rows = []
    for pair in result.pairs:
        ana = result.analyses[pair.label]
        for _key, res in ana.presso.items():
            row = dict(exposure=pair.exposure, outcome=pair.outcome)
            if "error" in res:
                row["note"] = f"not run: {res['error']}"
                rows.append(row)
                continue
            main = res["main"].set_index("analysis") if "analysis" in res["main"].columns \
                else res["main"]
            row["nsnp"] = res.get("nsnp", np.nan)
            for label, prefix in (("Raw", "raw"), ("Outlier-corrected", "corrected")):
                if label in main.index:
                    for c in ("b", "se", "pval"):
                        row[f"{prefix}_{c}"] = float(main.loc[label, c])
            g = res.get("global_test") or {}
            row["global_rss_obs"] = g.get("rss_obs", np.nan)
            row["global_pval"] = g.get("pval", np.nan)
            d = res.get("distortion_test") or {}
            outl = list(d.get("outliers") or [])
            row["n_outliers"] = len(outl)
            row["outliers"] = ", ".join(map(str, outl))
            row["distortion_pval"] = d.get("pval", np.nan)
            row["note"] = d.get("note") or ""
            rows.append(row)
    cols = ["exposure", "outcome", "nsnp", "raw_b", "raw_se", "raw_pval", "corrected_b",
            "corrected_se", "corrected_pval", "global_rss_obs", "global_pval", "n_outliers",
            "outliers", "distortion_pval", "note"]
    return pd.DataFrame(rows, columns=cols)

def comparison_table(mr: pd.DataFrame, run: Mapping[str, Any]) -> pd.DataFrame:
    """This run's IVW estimate next to the published one, per forward exposure.

    Returns
    -------
    DataFrame
        exposure, outcome, data (the kind of data of this run), published_or,
        published_or_lci95, published_or_uci95, published_pval, this_or,
        this_or_lci95, this_or_uci95, this_pval, diff_b (this ln OR minus the
        published ln OR), z_diff (diff_b over the root sum of the two squared
        SEs; the published SE is back-calculated from its CI), nsnp.
        Exposures that are not the study's traits have no published numbers (NaN).
    """
    ivw = mr[mr["method"] == "Inverse variance weighted"]
    rows = []
    pub = PUBLISHED_IVW.set_index("trait_key")
    for trait, src in run["exposures"].items():
        key = trait_key(trait, src)
        kind = {"demo": "simulated demo", "opengwas": "OpenGWAS", "file": "file"}[source_kind(src)]
        r = ivw[ivw["exposure"] == trait]
        row = dict(exposure=trait, outcome=run["outcome_trait"], data=kind)
        if key in pub.index:
            p = pub.loc[key]
            row.update(published_or=p["or"], published_or_lci95=p["or_lci95"],
                       published_or_uci95=p["or_uci95"], published_pval=p["pval"])
        if len(r):
            r = r.iloc[0]
            row.update(this_or=float(np.exp(r["b"])),
                       this_or_lci95=float(np.exp(r["b"] - 1.96 * r["se"])),
                       this_or_uci95=float(np.exp(r["b"] + 1.96 * r["se"])),
                       this_pval=float(r["pval"]), nsnp=int(r["nsnp"]))
            if key in pub.index:
                p = pub.loc[key]
                row["diff_b"] = float(r["b"] - p["b"])
                row["z_diff"] = float(row["diff_b"] / np.hypot(r["se"], p["se"]))
        rows.append(row)
    cols = ["exposure", "outcome", "data", "published_or", "published_or_lci95",
            "published_or_uci95", "published_pval", "this_or", "this_or_lci95", "this_or_uci95",
            "this_pval", "diff_b", "z_diff", "nsnp"]
    return pd.DataFrame(rows, columns=cols)

def mv_results_table(result) -> pd.DataFrame:
    """Every multivariable method's estimate per exposure (a :class:`~mrbook.multivariable.MVResult`).

    Returns
    -------
    DataFrame
        exposure, outcome, method, nsnp, b, se, or, or_lci95, or_uci95, pval,
        status, reason. ``nsnp`` follows each package: TwoSampleMR's
        ``mv_multiple`` counts the exposure's own instruments (P below the
        threshold), the others every SNP in the regression.
    """
    t = result.mvmr.assign(outcome=result.data.outcome_name)
    return mr_results_table(t)

def mv_comparison_table(result) -> pd.DataFrame:
    """Each exposure alone (univariable IVW) next to all exposures together (multivariable IVW).

    Returns
    -------
    DataFrame
        exposure, nsnp, uni_b, uni_se, uni_pval (TwoSampleMR's IVW of the exposure
        alone on the same SNPs), mv_b, mv_se, mv_pval (``mv_multiple``),
        conditional_f (MVMR's strength of the exposure given the others).
    """
    uni = result.univariable.set_index("id_exposure")
    mv = result.mvmr[result.mvmr["method_key"] == "mv_multiple"].set_index("id_exposure")
    f = result.strength.set_index("id_exposure")["conditional_f"]
    rows = []
    for e, name in zip(result.data.exposures, result.data.exposure_names):
        rows.append(dict(exposure=name, nsnp=result.data.n, uni_b=uni.loc[e, "b"],
                         uni_se=uni.loc[e, "se"], uni_pval=uni.loc[e, "pval"],
                         mv_b=mv["b"].get(e, np.nan), mv_se=mv["se"].get(e, np.nan),
                         mv_pval=mv["pval"].get(e, np.nan), conditional_f=f.get(e, np.nan)))
    return pd.DataFrame(rows, columns=["exposure", "nsnp", "uni_b", "uni_se", "uni_pval", "mv_b",
                                       "mv_se", "mv_pval", "conditional_f"])

def mv_forest_table(result, methods=("mv_multiple", "mr_mvegger", "mr_mvmedian")) -> pd.DataFrame:
    """The tidy table of the univariable-versus-multivariable forest plot.

    Parameters
    ----------
    result : MVResult
    methods : sequence of str
        The multivariable methods to draw (keys); by default all but the
        random-effects IVW, whose estimate is the IVW's.

    Returns
    -------
    DataFrame
        exposure, analysis ("Univariable IVW" and each multivariable method that
        ran), b, se, pval, in the order the figure draws them.
    """
    rows = [dict(exposure=r.exposure, analysis="Univariable IVW", b=r.b, se=r.se, pval=r.pval)
            for r in result.univariable.itertuples(index=False)]
    ok = result.mvmr[(result.mvmr["status"] == "ok") & result.mvmr["method_key"].isin(list(methods))]
    rows += [dict(exposure=r.exposure, analysis=r.method, b=r.b, se=r.se, pval=r.pval)
             for r in ok.itertuples(index=False)]
    return pd.DataFrame(rows, columns=["exposure", "analysis", "b", "se", "pval"])

def mv_strength_table(result) -> pd.DataFrame:
    """Conditional F per exposure with the rule of thumb, and the tests of the whole fit.

    Returns
    -------
    DataFrame
        One row per exposure: exposure, conditional_f, strong (F > 10), then the
        same values on every row: q, q_df, q_pval (MVMR's Q for instrument
        validity), egger_intercept, egger_intercept_se, egger_intercept_pval
        (multivariable MR-Egger, SNPs oriented on the first exposure).
    """
    s = result.strength
    h, pl = result.heterogeneity, result.pleiotropy
    return pd.DataFrame(dict(exposure=s["exposure"], conditional_f=s["conditional_f"],
                             strong=s["conditional_f"] > 10, q=h["Q"], q_df=h["Q_df"],
                             q_pval=h["Q_pval"], egger_intercept=pl["egger_intercept"],
                             egger_intercept_se=pl["se"], egger_intercept_pval=pl["pval"]))

def mv_selection_table(result) -> pd.DataFrame:
    """The multivariable instrument selection step by step (data sources only).

    Returns
    -------
    DataFrame
        step, removed, remaining (empty for a table that came harmonised).
    """
    flow = result.data.meta.get("flow") or []
    return pd.DataFrame(flow, columns=["step", "removed", "remaining"])

def mv_exclusions_table(result) -> pd.DataFrame:
    """Every SNP that did not reach the multivariable analysis: snp, step, reason, exposure."""
    return result.data.exclusions[["snp", "step", "reason", "exposure"]].reset_index(drop=True)

def methods_table() -> pd.DataFrame:
    """The MR methods of the registry: key, name, fewest SNPs, default, citation."""
    from ..estimators import METHODS

    return pd.DataFrame([dict(key=k, method=m.name, min_snps=m.min_snps, default=m.default,
                              bootstrap_se=m.stochastic, citation=m.citation)
                         for k, m in METHODS.items()])

def _param_value(value) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) if value else "(none)"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)

def run_parameters_table(run: Mapping[str, Any]) -> pd.DataFrame:
    """The run parameters as a table: parameter, value, meaning."""
    return pd.DataFrame([dict(parameter=k, value=_param_value(v),
                              meaning=SCHEMA[k].help if k in SCHEMA else "")
                         for k, v in run.items()])

def comparison_caveat(run: Mapping[str, Any]) -> tuple[str, str, str]:
    """What a comparison with the paper can show on this run's data: (title, kind, markdown)."""
    kinds = data_source_kinds(run)
    if "demo" in kinds:
        return ("Simulated data: this comparison is not evidence", "warning",
                "This run used the **simulated demo study**. Its instrument counts are the paper's, "
                "its planted causal effects are the paper's published ln OR, and each outcome "
                "association is that truth plus sampling noise drawn with the outcome GWAS's "
                "standard error. So the published column is the known truth and Δ is this run's "
                "sampling error (of the order of this run's SE; z, which also counts the published "
                "SE, is about √2 smaller than Δ / SE of this run). Agreement is **by construction**: "
                "it shows that the software recovers a planted effect to within sampling error, "
                "and says **nothing** about whether thyroid dysfunction causes osteoporosis; a "
                "difference is not a failed reproduction. Re-run the book on the real GWAS "
                "(`params/opengwas.yaml`) to reproduce the paper.")
    paper_ids = {m["opengwas_id"] for m in STUDY_GWAS.values()}
    sources = set(run["exposures"].values()) | {run["outcome_source"]}
    if sources <= paper_ids:
        return ("A reproduction on the paper's GWAS", "note",
                "This run used the **same OpenGWAS studies as the paper**. Agreement supports "
                "the reproducibility of the published numbers (not their causal interpretation, "
                "which rests on the MR assumptions); differences point to data versions, "
                "instrument-selection details or software.")
    return ("Different data from the paper", "note",
            "This run used data other than the paper's GWAS (files or other OpenGWAS studies). "
            "Published numbers are shown only for traits that match the study's; differences are "
            "expected and are not a failed reproduction.")

_SUP = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")

def _missing(x) -> bool:
    return x is None or (not isinstance(x, str) and pd.isna(x))

def fmt_sci(x, sig: int = 2) -> str:
    """A number in journal style, ``m × 10ⁿ`` with ``sig`` significant digits: 8.3 × 10⁻⁹.

    The one notation of every table for a number too small (or too large) for the
    decimals its column shows; P values use it below 0.001 (:func:`fmt_p`).
    """
    mant, exp = f"{float(x):.{max(sig, 1) - 1}e}".split("e")
    return f"{mant} × 10{str(int(exp)).translate(_SUP)}"

def fmt_p(p) -> str:
    """A P-value as a journal prints it: 0.017, 0.0012, 3.4 × 10⁻⁵."""
    if _missing(p) or not np.isfinite(float(p)):
        return "–"
    p = float(p)
    if p == 0:  # an underflow: smaller than the smallest double
        return "< 10⁻³⁰⁰"
    if p >= 0.001:
        return f"{p:.3f}" if p >= 0.01 else f"{p:.4f}"
    return fmt_sci(p, 2)

def _fmt_special(x) -> str | None:
    """The text of a value that is not a finite float (missing, bool, int, ±inf), else None."""
    if _missing(x):
        return "–"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if not np.isfinite(float(x)):
        return "∞" if float(x) > 0 else "−∞"
    return None

def fmt_num(x, digits: int = 3) -> str:
    """A number with ``digits`` decimals; a non-zero number that would round to zero
    there (``|x| < 10^-digits``) in journal style with two significant digits, as
    P values are: ``fmt_num(-8.3e-9, 4)`` is ``-8.3 × 10⁻⁹``, never ``-8.30e-09``
    or ``-0.0000``."""
    special = _fmt_special(x)
    if special is not None:
        return special
    x = float(x) + 0.0  # -0.0 prints as 0
    if x != 0 and abs(x) < 10 ** (-digits):
        return fmt_sci(x, 2)
    if x.is_integer() and abs(x) < 1e6 and digits <= 0:
        return str(int(x))
    return f"{x:.{max(digits, 0)}f}"

def fmt_sig(x, sig: int = 3) -> str:
    """A number to ``sig`` significant digits (for R², whose scale varies by orders of
    magnitude): 0.146, 0.0123; below 0.001 in journal style, ``8.09 × 10⁻⁵``."""
    special = _fmt_special(x)
    if special is not None:
        return special
    x = float(x) + 0.0
    if x == 0:
        return "0"
    mag = int(np.floor(np.log10(abs(x))))
    if mag < -3 or mag >= 6:
        return fmt_sci(x, sig)
    return f"{x:.{max(sig - 1 - mag, 0)}f}"

#: display label and format of the tables' columns
COLUMNS: dict[str, tuple[str, Any]] = {
    "exposure": ("Exposure", str), "outcome": ("Outcome", str), "method": ("Method", str),
    "nsnp": ("SNPs", "int"), "b": ("β", 4), "se": ("SE", 4), "or": ("OR", 3),
    "or_lci95": ("OR 95% CI, lower", 3), "or_uci95": ("OR 95% CI, upper", 3), "pval": ("P", "p"),
    "status": ("Status", str), "reason": ("Note", str), "ci_low": ("95% CI, lower", 4),
    "ci_upp": ("95% CI, upper", 4), "group": ("Methods", str),
    "ivw_q": ("IVW Q", 2), "ivw_q_df": ("IVW Q df", "int"), "ivw_q_pval": ("IVW Q P", "p"),
    "egger_q": ("MR-Egger Q", 2), "egger_q_df": ("MR-Egger Q df", "int"),
    "egger_q_pval": ("MR-Egger Q P", "p"), "egger_intercept": ("Egger intercept", 4),
    "egger_intercept_se": ("Intercept SE", 4), "egger_intercept_pval": ("Intercept P", "p"),
    "snp_r2_exposure": ("R² exposure", "g"), "snp_r2_outcome": ("R² outcome", "g"),
    "correct_causal_direction": ("Direction exposure → outcome", "bool"),
    "steiger_pval": ("Steiger P", "p"), "snp": ("SNP", str), "step": ("Step", str),
    "f_stat": ("F", 1), "rsq": ("R²", "g"), "eaf": ("EAF", 3), "p": ("P", "p"),
    "proxy_snp": ("Proxy", str), "confounder_hits": ("Confounder associations", str),
    "candidates": ("Candidates", "int"),
    "missing_in_outcome": ("Missing in outcome", "int"), "palindromic": ("Palindromic", "int"),
    "confounder": ("Confounder", "int"), "final": ("Final", "int"), "f_min": ("F min", 2),
    "f_max": ("F max", 2), "published_final": ("Final (paper)", "int"),
    "role": ("Role", str), "trait": ("Trait", str), "data_source": ("Data source", str),
    "kind": ("Kind", str), "opengwas_id": ("OpenGWAS ID (paper)", str), "ncase": ("Cases", "int"),
    "ncontrol": ("Controls", "int"), "n": ("N", "int"), "gwas": ("GWAS", str),
    "raw_b": ("Raw β", 4), "raw_se": ("Raw SE", 4), "raw_pval": ("Raw P", "p"),
    "corrected_b": ("Corrected β", 4), "corrected_se": ("Corrected SE", 4),
    "corrected_pval": ("Corrected P", "p"), "global_rss_obs": ("Global RSSobs", 3),
    "global_pval": ("Global test P", "p"), "n_outliers": ("Outliers", "int"),
    "outliers": ("Outliers", str), "distortion_pval": ("Distortion P", "p"), "note": ("Note", str),
    "data": ("Data of this run", str), "published_or": ("OR (paper)", 3),
    "published_or_lci95": ("lower (paper)", 3), "published_or_uci95": ("upper (paper)", 3),
    "published_pval": ("P (paper)", "p"), "this_or": ("OR (this run)", 3),
    "this_or_lci95": ("lower (this run)", 3), "this_or_uci95": ("upper (this run)", 3),
    "this_pval": ("P (this run)", "p"), "diff_b": ("Δ ln OR", 4), "z_diff": ("z of Δ", 2),
    "key": ("Key", str), "min_snps": ("Fewest SNPs", "int"), "default": ("Default", "bool"),
    "bootstrap_se": ("Bootstrap SE", "bool"), "citation": ("Reference", str),
    "beta": ("β exposure", 4), "beta.exposure": ("β exposure", 4), "se.exposure": ("SE exposure", 4),
    "beta.outcome": ("β outcome", 4), "se.outcome": ("SE outcome", 4),
    "pval.exposure": ("P exposure", "p"), "eaf.exposure": ("EAF exposure", 3),
    "effect_allele": ("Effect allele", str), "other_allele": ("Other allele", str),
    "chr": ("Chr", str), "pos": ("Position", "int"),
    "uni_b": ("β alone", 4), "uni_se": ("SE alone", 4), "uni_pval": ("P alone", "p"),
    "mv_b": ("β together", 4), "mv_se": ("SE together", 4), "mv_pval": ("P together", "p"),
    "conditional_f": ("Conditional F", 2), "strong": ("F > 10", "bool"), "analysis": ("Analysis", str),
    "removed": ("Removed", "int"), "remaining": ("Remaining", "int"), "q": ("Q", 2), "q_df": ("Q df", "int"),
    "q_pval": ("Q P", "p"),
}

def _fmt_cell(value, how) -> str:
    if how is str:
        return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
    if how == "p":
        return fmt_p(value)
    if how == "int":
        if _missing(value):
            return "–"
        try:
            x = float(value)
        except (TypeError, ValueError):
            return str(value)
        if not np.isfinite(x):
            return "∞" if x > 0 else "−∞"
        n = int(round(x))
        return f"{n:,}" if abs(n) >= 10000 else str(n)
    if how == "bool":
        if value is None or (not isinstance(value, (bool, np.bool_)) and pd.isna(value)):
            return "–"
        return "yes" if bool(value) else "no"
    if how == "g":
        return fmt_sig(value, 3)
    if isinstance(how, int):
        return fmt_num(value, how)
    return str(value)

#: odds ratio columns shown as one "OR (95% CI)" column: prefix → label
_OR_GROUPS = {"": "OR (95% CI)", "published_": "OR (95% CI), paper",
              "this_": "OR (95% CI), this run"}
#: estimate and SE shown as one "β (SE)" column (MR-PRESSO): prefix → label
_ESTIMATE_GROUPS = {"raw_": "Raw β (SE)", "corrected_": "Corrected β (SE)"}
#: columns holding a comma-separated SNP list; format_table lists their labels in
#: ``attrs["snp_lists"]`` so that a page can fold a long list (display.py)
SNP_LIST_COLUMNS = ("outliers", "confounder_hits")
#: readable names of the instrument-selection steps (instruments.STEPS)
STEP_LABELS = {"clumping": "LD clumping", "missing_in_outcome": "missing in outcome",
               "harmonise": "harmonisation", "palindromic": "palindromic",
               "confounder": "confounder", "steiger": "Steiger filtering"}

#: columns not shown when every row is empty (or "ok")
_QUIET_COLUMNS = ("status", "reason", "note")

def _or_ci(or_, lo, hi) -> str:
    if pd.isna(or_):
        return "–"
    return f"{fmt_num(or_, 3)} ({fmt_num(lo, 3)}, {fmt_num(hi, 3)})"

def _estimate_se(b, se, digits: int) -> str:
    if _missing(b):
        return "–"
    return f"{fmt_num(b, digits)} ({fmt_num(se, digits)})"

def _status_step(status, step) -> str:
    """The fate of a candidate SNP in one cell: "used", or "excluded: <step>"."""
    status = "" if _missing(status) else str(status)
    step = "" if _missing(step) else str(step)
    if not step:
        return status
    return f"{status}: {STEP_LABELS.get(step, step.replace('_', ' '))}" if status else step

def _alleles(effect, other) -> str:
    if _missing(effect) and _missing(other):
        return "–"
    return f"{'' if _missing(effect) else effect}/{'' if _missing(other) else other}"

def format_table(table: pd.DataFrame, columns: Mapping[str, tuple] | None = None,
                 drop: Iterable[str] = ()) -> pd.DataFrame:
    """The table with every cell formatted as text and readable column labels.

    Numbers follow the one rule of :func:`fmt_p`, :func:`fmt_num` and
    :func:`fmt_sig`. Related columns are shown together, so that a table fits the
    page width:

    - an odds ratio and its limits (``or``, ``or_lci95``, ``or_uci95``, also with
      the prefixes ``published_`` and ``this_``) become one column "OR (95% CI)";
    - an estimate and its SE with the prefix ``raw_`` or ``corrected_`` become one
      column "Raw β (SE)" or "Corrected β (SE)";
    - ``status`` and ``step`` (the candidate-SNP tables) become one "Status" column,
      "used" or "excluded: palindromic";
    - ``effect_allele`` and ``other_allele`` become one column "Alleles", "T/C";
    - ``n_outliers`` is not shown beside the ``outliers`` list.

    The labels of SNP-list columns (:data:`SNP_LIST_COLUMNS`) are in
    ``attrs["snp_lists"]`` of the result.
    """
    spec = dict(COLUMNS)
    spec.update(columns or {})
    drop = set(drop)
    present = set(table.columns)
    if "outliers" in present and "outliers" not in drop:
        drop.add("n_outliers")
    out = {}
    snp_lists = []
    for col in table.columns:
        if col in drop:
            continue
        prefix = next((p for p in _OR_GROUPS if col == f"{p}or"), None)
        if prefix is not None and {f"{prefix}or_lci95", f"{prefix}or_uci95"} <= present:
            out[_OR_GROUPS[prefix]] = [_or_ci(*v) for v in zip(
                table[col], table[f"{prefix}or_lci95"], table[f"{prefix}or_uci95"])]
            drop |= {f"{prefix}or_lci95", f"{prefix}or_uci95"}
            continue
        prefix = next((p for p in _ESTIMATE_GROUPS if col == f"{p}b"), None)
        if prefix is not None and f"{prefix}se" in present and f"{prefix}se" not in drop:
            digits = spec.get(col, (col, 4))[1]
            digits = digits if isinstance(digits, int) else 4
            out[_ESTIMATE_GROUPS[prefix]] = [_estimate_se(b, se, digits) for b, se in zip(
                table[col], table[f"{prefix}se"])]
            drop.add(f"{prefix}se")
            continue
        if col == "status" and "step" in present and "step" not in drop:
            out[spec["status"][0]] = [_status_step(a, b) for a, b in zip(table["status"],
                                                                          table["step"])]
            drop.add("step")
            continue
        if col == "effect_allele" and "other_allele" in present and "other_allele" not in drop:
            out["Alleles"] = [_alleles(a, b) for a, b in zip(table["effect_allele"],
                                                            table["other_allele"])]
            drop.add("other_allele")
            continue
        if col in _QUIET_COLUMNS and all(
                v is None or (not isinstance(v, str) and pd.isna(v)) or str(v) in ("", "ok")
                for v in table[col]):
            continue  # a status or note column with nothing to say
        label, how = spec.get(col, (col, None))
        if how is None:
            how = 3 if pd.api.types.is_float_dtype(table[col]) else str
        out[label] = [_fmt_cell(v, how) for v in table[col]]
        if col == "outliers" and "n_outliers" in present:  # the count says none or not run
            out[label] = [cell if cell else ("–" if _missing(n) else "none" if n == 0 else cell)
                          for cell, n in zip(out[label], table["n_outliers"])]
        if col in SNP_LIST_COLUMNS:
            snp_lists.append(label)
    shown = pd.DataFrame(out)
    shown.attrs["snp_lists"] = snp_lists
    return shown

def write_csv(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a table as CSV, byte-identical for identical numbers.

    Floats are written as Python's shortest round-trip text (``repr``), with ``\\n``
    line ends, UTF-8, no index.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = table.to_csv(index=False, lineterminator="\n")
    path.write_text(text, encoding="utf-8", newline="")
    return path
