"""What the book's pages show: tables, figures and notes, built from mrbook's results.

The notebooks of the book call these functions and nothing else computes in
them. There are three groups:

* **Study helpers** -- :func:`pairs` lists the exposure-outcome pairs of a
  direction (the reverse MR is the same list with the roles swapped) and
  :func:`analyse_pairs` runs instrument selection and the MR analysis on each
  pair, returning one :class:`DirectionResult` of stacked tidy tables.
* **Table builders** -- pure functions from result tables to tidy DataFrames
  with stable snake_case columns (numbers stay numbers): :func:`mr_results_table`
  (Tables 2 and 4), :func:`sensitivity_table` (Tables 3 and 5), ... and the
  study's published numbers (:data:`PUBLISHED_IVW`, :data:`PUBLISHED_INSTRUMENTS`).
* **Display** -- :func:`show_table` writes the table as CSV next to the page and
  shows it formatted with a download link; :func:`show_figure` shows a plotly
  figure that renders in the book (plotly.js from ``_static/``) and in JupyterLab
  (plotly's mimetype), with SVG/PNG download buttons, and :func:`show_figures`
  shows several, written first as SVG and PNG files with download links when
  the ``export_figures`` parameter is on; :func:`show_run_parameters` and
  :func:`show_data_source` are the card and the note at the top of each page.

Display bundles carry MyST markdown for the book and HTML for JupyterLab; the
book prefers the markdown (``nb_mime_priority_overrides`` in ``_config.yml``).
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from .params import SCHEMA, resolve_path, source_kind

# --------------------------------------------------------------------------------------
# The published study (SPEC section 1): what the comparison page checks against
# --------------------------------------------------------------------------------------

#: the GWAS of the paper (Table 1), keyed by the demo trait name
STUDY_GWAS = {
    "hypothyroidism": dict(trait="Hypothyroidism", opengwas_id="ebi-a-GCST90018862", ncase=30155,
                           ncontrol=379986, n=410141, source="Sakaue 2021 (PMID 34594039), European"),
    "hyperthyroidism": dict(trait="Hyperthyroidism", opengwas_id="ebi-a-GCST90018860", ncase=3557,
                            ncontrol=456942, n=460499, source="Sakaue 2021 (PMID 34594039), European"),
    "hashimoto": dict(trait="Hashimoto thyroiditis", opengwas_id="ebi-a-GCST90018855",
                      ncase=15654, ncontrol=379986, n=395640,
                      source="Sakaue 2021 (PMID 34594039), European"),
    "osteoporosis": dict(trait="Osteoporosis", opengwas_id="finn-b-M13_OSTEOPOROSIS", ncase=3203,
                         ncontrol=209575, n=212778, source="FinnGen R5 (2021)"),
}

#: the paper's IVW results (abstract; Tables 2-5 of the paper are not available)
PUBLISHED_IVW = pd.DataFrame([
    dict(trait_key="hypothyroidism", exposure="Hypothyroidism", outcome="Osteoporosis",
         or_=1.097, or_lci95=1.017, or_uci95=1.183, pval=0.017, b=0.0926, se=0.0386),
    dict(trait_key="hyperthyroidism", exposure="Hyperthyroidism", outcome="Osteoporosis",
         or_=1.089, or_lci95=1.000, or_uci95=1.186, pval=0.049, b=0.0853, se=0.0435),
    dict(trait_key="hashimoto", exposure="Hashimoto thyroiditis", outcome="Osteoporosis",
         or_=1.190, or_lci95=1.054, or_uci95=1.343, pval=0.005, b=0.1740, se=0.0618),
]).rename(columns={"or_": "or"})

#: the paper's instrument counts per exposure (its instrument-selection table)
PUBLISHED_INSTRUMENTS = pd.DataFrame([
    dict(trait_key="hypothyroidism", candidates=90, missing_in_outcome=4, palindromic=8,
         confounder=9, final=69, f_min=31.17, f_max=124.85),
    dict(trait_key="hyperthyroidism", candidates=20, missing_in_outcome=2, palindromic=3,
         confounder=0, final=15, f_min=30.37, f_max=194.78),
    dict(trait_key="hashimoto", candidates=18, missing_in_outcome=1, palindromic=4, confounder=3,
         final=10, f_min=32.38, f_max=173.77),
    dict(trait_key="osteoporosis", candidates=np.nan, missing_in_outcome=np.nan, palindromic=np.nan,
         confounder=np.nan, final=22, f_min=10.0, f_max=np.nan),
])

_KEY_PATTERNS = [("hypothyroidism", r"hypothyroid"), ("hyperthyroidism", r"hyperthyroid|graves"),
                 ("hashimoto", r"hashimoto"), ("osteoporosis", r"osteopor")]


def trait_key(name: str, source: str | None = None) -> str | None:
    """The study trait a data source or trait name stands for (key of :data:`STUDY_GWAS`).

    ``demo:<trait>`` and the paper's OpenGWAS IDs map exactly; other sources
    by the trait name (``"Hypothyroidism"`` → ``"hypothyroidism"``); None if
    the trait is not one of the study's.
    """
    if source:
        if source.startswith("demo:"):
            return source[5:]
        for key, meta in STUDY_GWAS.items():
            if meta["opengwas_id"] == source:
                return key
    for key, pattern in _KEY_PATTERNS:
        if re.search(pattern, str(name), re.IGNORECASE):
            return key
    return None


# --------------------------------------------------------------------------------------
# Study helpers: the pairs of a direction, and their analysis
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pair:
    """One exposure-outcome pair: trait names and data sources."""

    exposure: str
    exposure_source: str
    outcome: str
    outcome_source: str

    @property
    def label(self) -> str:
        return f"{self.exposure} → {self.outcome}"


def pairs(run: Mapping[str, Any], reverse: bool = False) -> list[Pair]:
    """The exposure-outcome pairs of the forward or the reverse MR.

    Forward: each of ``run["exposures"]`` on ``run["outcome_trait"]``.
    Reverse: the same pairs with exposure and outcome swapped.
    """
    out = [Pair(trait, src, run["outcome_trait"], run["outcome_source"])
           for trait, src in run["exposures"].items()]
    if reverse:
        out = [Pair(p.outcome, p.outcome_source, p.exposure, p.exposure_source) for p in out]
    return out


@dataclass
class DirectionResult:
    """Results of the pairs of one direction, stacked.

    Attributes
    ----------
    pairs : list of Pair
    instruments : dict
        Pair label → :class:`mrbook.instruments.Instruments`.
    analyses : dict
        Pair label → :class:`mrbook.analysis.MRAnalysis`.
    mr, heterogeneity, pleiotropy, leaveoneout, singlesnp, directionality, harmonised : DataFrame
        The per-pair tables stacked (``exposure`` and ``outcome`` are the
        book's trait names).
    """

    pairs: list
    instruments: dict = field(default_factory=dict)
    analyses: dict = field(default_factory=dict)
    mr: pd.DataFrame | None = None
    heterogeneity: pd.DataFrame | None = None
    pleiotropy: pd.DataFrame | None = None
    leaveoneout: pd.DataFrame | None = None
    singlesnp: pd.DataFrame | None = None
    directionality: pd.DataFrame | None = None
    harmonised: pd.DataFrame | None = None

    def pair_rows(self, table: str, pair: Pair) -> pd.DataFrame:
        """Rows of one stacked table (``"mr"``, ``"singlesnp"`` ...) for one pair."""
        t = getattr(self, table)
        if t is None or not len(t):
            return pd.DataFrame(columns=[] if t is None else t.columns)
        return t[(t["exposure"] == pair.exposure) & (t["outcome"] == pair.outcome)]


def _stack(frames: Iterable[pd.DataFrame | None]) -> pd.DataFrame | None:
    frames = [f for f in frames if f is not None and len(f.columns)]
    if not frames:
        return None
    frames = [f for f in frames if len(f)] or frames[:1]
    return pd.concat(frames, ignore_index=True)


def _rename(df: pd.DataFrame | None, pair: Pair) -> pd.DataFrame | None:
    if df is None:
        return None
    df = df.copy()
    if "exposure" in df.columns:
        df["exposure"] = pair.exposure
    if "outcome" in df.columns:
        df["outcome"] = pair.outcome
    return df


#: run parameters that change the results (``output_dir`` does not)
_RESULT_PARAMETERS = ("ld_ref", "clump", "confounder_table", "p_threshold", "clump_r2", "clump_kb",
                      "palindrome_action", "confounder_traits", "methods", "nboot", "seed", "rng",
                      "presso_n_distribution")


def _code_fingerprint() -> str:
    """Hash of mrbook's own source files, so that a cache never outlives a code change."""
    h = hashlib.sha256()
    pkg = Path(__file__).resolve().parent
    for f in sorted(pkg.glob("**/*.py")):
        h.update(f.relative_to(pkg).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def _source_fingerprint(source: str) -> Any:
    path = resolve_path(source)
    files = [path] if path.is_file() else sorted(path.parent.glob(path.name + ".*"))
    if not source.startswith("demo:") and files:
        return [source] + [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files]
    return source


def cache_key(pair_list: list[Pair], run: Mapping[str, Any]) -> str:
    """Key of an analysis: its pairs, sources, result parameters and mrbook's code."""
    from . import __version__

    blob = json.dumps({
        "pairs": [[p.exposure, _source_fingerprint(p.exposure_source), p.outcome,
                   _source_fingerprint(p.outcome_source)] for p in pair_list],
        "run": {k: run.get(k) for k in _RESULT_PARAMETERS},
    "files": [_source_fingerprint(run[k]) for k in ("ld_ref", "confounder_table") if run.get(k)],
        "version": __version__, "code": _code_fingerprint(),
    }, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def analyse_pairs(pair_list: list[Pair], run: Mapping[str, Any], *,
                  cache: bool = True) -> DirectionResult:
    """Select instruments and run the MR analysis for each pair.

    Calls :func:`mrbook.instruments.select_instruments` with the run's
    instrument settings and :func:`mrbook.analysis.analyse` with its method
    settings, per pair; the tables are stacked with the book's trait names.

    Parameters
    ----------
    pair_list : list of Pair
        From :func:`pairs`.
    run : mapping
        Validated run parameters (:func:`mrbook.params.from_namespace`).
    cache : bool
        Keep the result in ``<output_dir>/.cache/`` under :func:`cache_key`, so
        that the pages of one build analyse each direction once. The key covers
        the pairs, their sources (file size and time), every parameter that
        changes a result and mrbook's source code; any page recomputes what is
        not cached, so the pages do not depend on the order they run in.

    Returns
    -------
    DirectionResult
    """
    path = resolve_path(run["output_dir"]) / ".cache" / f"{cache_key(pair_list, run)}.pkl"
    if cache and path.is_file():
        try:
            with open(path, "rb") as fh:
                return pickle.load(fh)
        except Exception:  # noqa: BLE001 - an unreadable cache entry is recomputed
            pass
    res = _analyse_pairs(pair_list, run)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(res, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    return res


def _file_or_id(source: str) -> str:
    """A file source as an absolute path (relative ones are taken from the project root)."""
    return str(resolve_path(source)) if source_kind(source) == "file" else source


def _analyse_pairs(pair_list: list[Pair], run: Mapping[str, Any]) -> DirectionResult:
    from .analysis import analyse
    from .instruments import select_instruments

    options = dict(p=run["p_threshold"], r2=run["clump_r2"], kb=run["clump_kb"],
                   palindrome_action=run["palindrome_action"],
                   confounder_traits=tuple(run["confounder_traits"]))
    if run.get("ld_ref"):
        options["ld_ref"] = str(resolve_path(run["ld_ref"]))
    if run.get("confounder_table"):
        options["confounder_table"] = str(resolve_path(run["confounder_table"]))
    if not run.get("clump", True):
        options["clump"] = False
    res = DirectionResult(pairs=list(pair_list))
    for pair in pair_list:
        inst = select_instruments(_file_or_id(pair.exposure_source),
                                  _file_or_id(pair.outcome_source), **options)
        dat = inst.harmonised.copy()
        dat["exposure"] = pair.exposure
        dat["outcome"] = pair.outcome
        ana = analyse(dat, methods=run["methods"], seed=run["seed"], nboot=run["nboot"],
                      rng=run.get("rng", "numpy"),
                      presso=run.get("presso_n_distribution", 0) > 0,
                      n_distribution=run.get("presso_n_distribution", 1000))
        res.instruments[pair.label] = inst
        res.analyses[pair.label] = ana
    for name in ("mr", "heterogeneity", "pleiotropy", "leaveoneout", "singlesnp",
                 "directionality", "harmonised"):
        setattr(res, name, _stack(_rename(getattr(a, name), p)
                                  for p, a in zip(pair_list, res.analyses.values())))
    return res


def slug(text: str) -> str:
    """A file-name-safe lower-case form of a name: "Hashimoto thyroiditis" → "hashimoto-thyroiditis"."""
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "x"


#: the plots of a pair: plot function and the stacked tables it takes
PLOT_KINDS = ("scatter", "forest", "leaveoneout", "funnel")


def pair_figures(result: DirectionResult, kind: str, prefix: str) -> list[tuple[str, Any]]:
    """One figure of the given kind per pair of a direction, with a unique name.

    Parameters
    ----------
    result : DirectionResult
    kind : {"scatter", "forest", "leaveoneout", "funnel"}
        Which plot of :mod:`mrbook.plots`.
    prefix : str
        Start of the figure names (e.g. ``"forward"``).

    Returns
    -------
    list of (name, plotly Figure)
    """
    from . import plots

    if kind not in PLOT_KINDS:
        raise ValueError(f"unknown plot kind {kind!r}; known: {', '.join(PLOT_KINDS)}")
    out = []
    for pair in result.pairs:
        if kind == "scatter":
            fig = plots.scatter_plot(result.pair_rows("mr", pair), result.pair_rows("harmonised", pair),
                                     pleiotropy=result.pair_rows("pleiotropy", pair))
        elif kind == "forest":
            fig = plots.forest_plot(result.pair_rows("singlesnp", pair))
        elif kind == "leaveoneout":
            fig = plots.leaveoneout_plot(result.pair_rows("leaveoneout", pair))
        else:
            fig = plots.funnel_plot(result.pair_rows("singlesnp", pair))
        out.append((f"{prefix}-{kind}-{slug(pair.exposure)}-{slug(pair.outcome)}", fig))
    return out


# --------------------------------------------------------------------------------------
# Table builders (numbers stay numbers)
# --------------------------------------------------------------------------------------

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


def show_instrument_table(result: DirectionResult, pair: Pair, prefix: str, *,
                          output_dir: str | os.PathLike) -> None:
    """Show a pair's candidate instruments (all SNPs past the P threshold in the CSV).

    The table shows the SNPs left after LD clumping, used or excluded with the
    step and reason; the CSV ``instruments_<prefix>_<exposure>_<outcome>.csv``
    also has every SNP that clumping removed.
    """
    table = instrument_table(result, pair)
    clumped = table["step"] == "clumping"
    name = f"instruments_{prefix}_{slug(pair.exposure)}_{slug(pair.outcome)}"
    used = int((table["status"] == "used").sum())
    show_table(table, name, f"Candidate instruments: {pair.label} ({used} used)",
                      output_dir=output_dir, rows=~clumped,
                      drop=("rsq", "n", "chr", "pos", "proxy_snp", "confounder_hits"),
                      note=f"{int(clumped.sum())} further SNPs passed the P threshold but were "
                           "removed by LD clumping (listed in the CSV).")


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


def methods_table() -> pd.DataFrame:
    """The MR methods of the registry: key, name, fewest SNPs, default, citation."""
    from .estimators import METHODS

    return pd.DataFrame([dict(key=k, method=m.name, min_snps=m.min_snps, default=m.default,
                              bootstrap_se=m.stochastic, citation=m.citation)
                         for k, m in METHODS.items()])


# --------------------------------------------------------------------------------------
# Formatting (display only)
# --------------------------------------------------------------------------------------

_SUP = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def fmt_p(p) -> str:
    """A P-value as a journal prints it: 0.017, 0.0012, 3.4 × 10⁻⁵."""
    if p is None or (isinstance(p, float) and not np.isfinite(p)) or pd.isna(p):
        return "–"
    p = float(p)
    if p == 0:  # an underflow: smaller than the smallest double
        return "< 10⁻³⁰⁰"
    if p >= 0.001:
        return f"{p:.3f}" if p >= 0.01 else f"{p:.4f}"
    mant, exp = f"{p:.1e}".split("e")
    return f"{mant} × 10{str(int(exp)).translate(_SUP)}"


def fmt_num(x, digits: int = 3) -> str:
    """A number with ``digits`` decimals (more significant digits when it is tiny)."""
    if x is None or pd.isna(x):
        return "–"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if not np.isfinite(x):
        return "∞" if x > 0 else ("−∞" if x < 0 else "–")
    if x != 0 and abs(x) < 10 ** (-digits):
        return f"{x:.2e}"
    if x.is_integer() and abs(x) < 1e6 and digits <= 0:
        return str(int(x))
    return f"{x:.{digits}f}"


#: display label and format of the tables' columns
COLUMNS: dict[str, tuple[str, Any]] = {
    "exposure": ("Exposure", str), "outcome": ("Outcome", str), "method": ("Method", str),
    "nsnp": ("SNPs", "int"), "b": ("β", 4), "se": ("SE", 4), "or": ("OR", 3),
    "or_lci95": ("OR 95% CI, lower", 3), "or_uci95": ("OR 95% CI, upper", 3), "pval": ("P", "p"),
    "status": ("Status", str), "reason": ("Note", str),
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
    "outliers": ("Outlier SNPs", str), "distortion_pval": ("Distortion P", "p"), "note": ("Note", str),
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
}


def _fmt_cell(value, how) -> str:
    if how is str:
        return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
    if how == "p":
        return fmt_p(value)
    if how == "int":
        if value is None or pd.isna(value):
            return "–"
        try:
            n = int(round(float(value)))
            return f"{n:,}" if abs(n) >= 10000 else str(n)
        except (TypeError, ValueError):
            return str(value)
    if how == "bool":
        if value is None or (not isinstance(value, (bool, np.bool_)) and pd.isna(value)):
            return "–"
        return "yes" if bool(value) else "no"
    if how == "g":
        return "–" if value is None or pd.isna(value) else f"{float(value):.3g}"
    if isinstance(how, int):
        return fmt_num(value, how)
    return str(value)


#: odds ratio columns shown as one "OR (95% CI)" column: prefix → label
_OR_GROUPS = {"": "OR (95% CI)", "published_": "OR (95% CI), paper",
              "this_": "OR (95% CI), this run"}


#: columns not shown when every row is empty (or "ok")
_QUIET_COLUMNS = ("status", "reason", "note")


def _or_ci(or_, lo, hi) -> str:
    if pd.isna(or_):
        return "–"
    return f"{fmt_num(or_, 3)} ({fmt_num(lo, 3)}, {fmt_num(hi, 3)})"


def format_table(table: pd.DataFrame, columns: Mapping[str, tuple] | None = None,
                 drop: Iterable[str] = ()) -> pd.DataFrame:
    """The table with every cell formatted as text and readable column labels.

    An odds ratio and its limits (``or``, ``or_lci95``, ``or_uci95``, also with
    the prefixes ``published_`` and ``this_``) become one column "OR (95% CI)".
    """
    spec = dict(COLUMNS)
    spec.update(columns or {})
    drop = set(drop)
    out = {}
    for col in table.columns:
        if col in drop:
            continue
        prefix = next((p for p in _OR_GROUPS if col == f"{p}or"), None)
        if prefix is not None and {f"{prefix}or_lci95", f"{prefix}or_uci95"} <= set(table.columns):
            out[_OR_GROUPS[prefix]] = [_or_ci(*v) for v in zip(
                table[col], table[f"{prefix}or_lci95"], table[f"{prefix}or_uci95"])]
            drop |= {f"{prefix}or_lci95", f"{prefix}or_uci95"}
            continue
        if col in _QUIET_COLUMNS and all(
                v is None or (not isinstance(v, str) and pd.isna(v)) or str(v) in ("", "ok")
                for v in table[col]):
            continue  # a status or note column with nothing to say
        label, how = spec.get(col, (col, None))
        if how is None:
            how = 3 if pd.api.types.is_float_dtype(table[col]) else str
        out[label] = [_fmt_cell(v, how) for v in table[col]]
    return pd.DataFrame(out)


# --------------------------------------------------------------------------------------
# Display
# --------------------------------------------------------------------------------------

def _display(bundle: dict) -> None:
    from IPython.display import display

    display(bundle, raw=True)


def _out_dir(output_dir: str | os.PathLike) -> Path:
    d = resolve_path(output_dir)
    d.mkdir(parents=True, exist_ok=True)
    return d


def _rel_link(path: Path) -> str:
    """``path`` relative to the working directory (the page's folder), with forward slashes."""
    return Path(os.path.relpath(path, Path.cwd())).as_posix()


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


def _html_table(shown: pd.DataFrame) -> str:
    text = shown.to_html(index=False, border=0, classes=["mrbook-table"], escape=True, na_rep="–")
    # no blank lines, so that the whole table is one raw-HTML block in MyST
    return "\n".join(line for line in text.splitlines() if line.strip())


def show_table(table: pd.DataFrame, name: str, caption: str, *, output_dir: str | os.PathLike,
               columns: Mapping[str, tuple] | None = None, drop: Iterable[str] = (),
               note: str | None = None, max_rows: int | None = None,
               rows: Any = None) -> None:
    """Write ``table`` as ``<output_dir>/<name>.csv`` and show it formatted with a download link.

    Parameters
    ----------
    table : DataFrame
        The tidy table (numbers as numbers); written as it is.
    name : str
        File name stem, unique within the book (e.g. ``"table2_forward_mr"``).
    caption : str
        Caption shown above the table (markdown).
    output_dir : path
        Folder of the CSV files (the ``output_dir`` run parameter).
    columns : mapping, optional
        Extra column labels and formats (``{"col": ("Label", 3)}``).
    drop : iterable of str
        Columns not shown (still in the CSV).
    note : str, optional
        A line under the table (markdown).
    max_rows : int, optional
        Show at most this many rows (the CSV has all).
    rows : boolean array, optional
        Which rows to show (the CSV has all).

    The CSV is written with :func:`write_csv`; its link is relative to the
    working directory (the page's folder), so it works in the book (a Sphinx
    download) and in JupyterLab.
    """
    path = write_csv(table, _out_dir(output_dir) / f"{name}.csv")
    shown = format_table(table if rows is None else table[np.asarray(rows, dtype=bool)],
                         columns, drop)
    more = ""
    if rows is not None and len(shown) < len(table):
        more = f" Showing {len(shown)} of {len(table)} rows; the CSV has all."
    if max_rows is not None and len(shown) > max_rows:
        more = f" Showing {max_rows} of {len(table)} rows; the CSV has all."
        shown = shown.head(max_rows)
    table_html = _html_table(shown)
    link = _rel_link(path)
    md = [f"**{caption}**", "", f'<div class="mrbook-table-wrap">\n{table_html}\n</div>', "",
          f"[Download {path.name} (CSV)]({link}){more}"]
    if note:
        md += ["", note]
    htm = [f"<p><strong>{html.escape(caption)}</strong></p>",
           f'<div class="mrbook-table-wrap">{table_html}</div>',
           f'<p><a href="{html.escape(link)}" download>Download {html.escape(path.name)} (CSV)</a>'
           f"{html.escape(more)}</p>"]
    if note:
        htm.append(f"<p>{html.escape(note)}</p>")
    _display({"text/markdown": "\n".join(md), "text/html": "\n".join(htm),
              "text/plain": f"{caption}\n{shown.to_string(index=False)}"})


#: plotly config of every figure: no logo, PNG export at twice the size
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True,
                 "toImageButtonOptions": {"format": "png", "scale": 2}}

_EXPORT_JS = """
(function () {
  var gd = document.getElementById('{plot_id}');
  if (!gd || gd.getAttribute('data-mrbook-export')) { return; }
  gd.setAttribute('data-mrbook-export', '1');
  var bar = document.createElement('div');
  bar.className = 'mrbook-export';
  ['svg', 'png'].forEach(function (fmt) {
    var b = document.createElement('button');
    b.type = 'button';
    b.textContent = 'Download ' + fmt.toUpperCase();
    b.onclick = function () {
      Plotly.downloadImage(gd, {format: fmt, filename: '__NAME__', scale: fmt === 'png' ? 2 : 1});
    };
    bar.appendChild(b);
  });
  // plotly's wrapper div has the figure's fixed height: put the buttons after it
  var box = gd.closest('.mrbook-figure');
  if (box) { box.appendChild(bar); } else { gd.parentNode.insertBefore(bar, gd.nextSibling); }
})();
"""


def figure_bundle(fig, name: str) -> dict:
    """The display bundle of a figure: plotly's mimetype (JupyterLab) and HTML (the book).

    The HTML does not include plotly.js: the book loads it once from
    ``_static/plotly.min.js``. The figure's div has the id ``mrbook-fig-<name>``
    and is followed by "Download SVG" and "Download PNG" buttons.
    """
    import plotly.io as pio

    safe = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")
    config = dict(PLOTLY_CONFIG, toImageButtonOptions=dict(PLOTLY_CONFIG["toImageButtonOptions"],
                                                           filename=safe))
    fig_json = json.loads(pio.to_json(fig, validate=False, remove_uids=True))
    fig_html = pio.to_html(fig, include_plotlyjs=False, include_mathjax=False, full_html=False,
                           div_id=f"mrbook-fig-{safe}", config=config, validate=False,
                           default_width="100%",
                           post_script=_EXPORT_JS.replace("__NAME__", safe))
    fig_html = "\n".join(line for line in fig_html.splitlines() if line.strip())
    title = fig.layout.title.text or name
    return {"application/vnd.plotly.v1+json": {"data": fig_json.get("data", []),
                                               "layout": fig_json.get("layout", {}),
                                               "config": config},
            "text/html": f'<div class="mrbook-figure">{fig_html}</div>',
            "text/plain": f"<Figure: {title}>"}


#: static image files written next to the CSVs when figures are exported, in link order
FIGURE_FORMATS = ("svg", "png")


def figure_files_bundle(paths: Iterable[Path]) -> dict:
    """The display bundle of a figure's "Image files: SVG | PNG" download links.

    As a table's CSV link: the links are relative to the working directory (the
    page's folder), so the markdown becomes Sphinx downloads in the book and the
    HTML works in JupyterLab.
    """
    paths = list(paths)
    links = [(p.suffix.lstrip(".").upper(), _rel_link(p)) for p in paths]
    md = "Image files: " + " | ".join(f"[{label}]({link})" for label, link in links)
    htm = ('<p class="mrbook-figure-files">Image files: '
           + " | ".join(f'<a href="{html.escape(link)}" download>{label}</a>'
                        for label, link in links) + "</p>")
    return {"text/markdown": md, "text/html": htm,
            "text/plain": "Image files: " + ", ".join(p.name for p in paths)}


def show_figures(figures, *, output_dir: str | os.PathLike | None = None,
                 export: bool = False) -> None:
    """Show plotly figures, and with ``export`` write them as SVG and PNG with links.

    Parameters
    ----------
    figures : mapping or iterable of (name, Figure)
        The figures in display order, by unique name (:func:`pair_figures`).
    output_dir : path, optional
        Folder of the image files (the ``output_dir`` run parameter, where the
        CSVs go); needed with ``export``.
    export : bool
        The ``export_figures`` run parameter: write every figure as
        ``<output_dir>/<name>.svg`` and ``.png`` (the name's slug) with
        :func:`mrbook.plots.export_figures` (one browser, kept open for the
        page's next figures) and
        show "Image files: SVG | PNG" under each figure. Either way each figure
        has its in-browser "Download SVG/PNG" buttons.
    """
    items = list(figures.items() if isinstance(figures, Mapping) else figures)
    files: dict[str, list[Path]] = {}
    if export:
        if output_dir is None:
            raise ValueError("show_figures(export=True) needs output_dir")
        from .plots import export_figures, figure_stem

        written = export_figures(dict(items), _out_dir(output_dir), formats=FIGURE_FORMATS,
                                 keep_browser=True)
        for name, fig in items:
            stem = figure_stem(name, fig)
            files[name] = [p for p in written if p.stem == stem]
    for name, fig in items:
        _display(figure_bundle(fig, name))
        if files.get(name):
            _display(figure_files_bundle(files[name]))


def show_figure(fig, name: str, *, output_dir: str | os.PathLike | None = None,
                export: bool = False) -> None:
    """Show one plotly figure in the book and in JupyterLab (see :func:`figure_bundle`).

    With ``export`` it is also written as SVG and PNG (see :func:`show_figures`,
    which exports several figures through one browser).
    """
    show_figures([(name, fig)], output_dir=output_dir, export=export)


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


def show_run_parameters(run: Mapping[str, Any]) -> None:
    """Show the small "Run parameters" table at the top of a page.

    Two parameter-value pairs per row; each parameter's meaning is its tooltip
    (and in the CSV-free plain-text form). An empty value reads "(automatic)".
    """
    t = run_parameters_table(run)

    def cell(r, span=""):
        value = html.escape(r.value) if r.value else "<em>(automatic)</em>"
        return (f'<td title="{html.escape(r.meaning)}"><code>{html.escape(r.parameter)}</code></td>'
                f"<td{span}>{value}</td>")

    rows, pending = [], []
    for r in t.itertuples():
        if isinstance(run[r.parameter], (dict, list)):  # long values get a row of their own
            rows.append(f'<tr>{cell(r, " colspan=3")}</tr>')
            continue
        pending.append(cell(r))
        if len(pending) == 2:
            rows.append(f"<tr>{''.join(pending)}</tr>")
            pending = []
    if pending:
        rows.append(f"<tr>{pending[0]}<td></td><td></td></tr>")
    rows = "\n".join(rows)
    table_html = ('<table class="mrbook-table mrbook-params">\n<thead><tr><th>Parameter</th>'
                  "<th>Value</th><th>Parameter</th><th>Value</th></tr></thead>\n<tbody>\n"
                  f"{rows}\n</tbody>\n</table>")
    md = ("```{admonition} Run parameters\n:class: tip mrbook-run-parameters\n\n"
          f'<div class="mrbook-table-wrap">\n{table_html}\n</div>\n\n'
          "Hover over a parameter for its meaning; `mrbook build --params FILE` sets them.\n```")
    htm = f"<details open><summary><strong>Run parameters</strong></summary>{table_html}</details>"
    _display({"text/markdown": md, "text/html": htm, "text/plain": t.to_string(index=False)})


def _source_line(trait: str, src: str) -> str:
    kind = source_kind(src)
    if kind == "demo":
        return f"{trait}: simulated demo GWAS `{src}`"
    if kind == "opengwas":
        when = _retrieval_date(src)
        return f"{trait}: OpenGWAS `{src}`" + (f", retrieved {when}" if when else "")
    p = resolve_path(src)
    import datetime

    stamp = datetime.datetime.fromtimestamp(p.stat().st_mtime, datetime.timezone.utc)
    return f"{trait}: file `{p.name}` (modified {stamp:%Y-%m-%d})"


def _retrieval_date(opengwas_id: str) -> str | None:
    """When the cached OpenGWAS data of a study were retrieved, if mrbook.opengwas tells."""
    try:
        from . import opengwas
    except ImportError:
        return None
    fn = getattr(opengwas, "retrieval_date", None)
    if fn is None:
        return None
    try:
        value = fn(opengwas_id)
    except Exception:  # noqa: BLE001 - a missing cache entry only drops the date
        return None
    return None if value is None else str(value)


def data_source_kinds(run: Mapping[str, Any]) -> set[str]:
    """The kinds of data ("demo", "opengwas", "file") this run uses."""
    sources = list(run.get("exposures", {}).values())
    if "outcome_source" in run:
        sources.append(run["outcome_source"])
    return {source_kind(s) for s in sources}


def uses_demo(run: Mapping[str, Any]) -> bool:
    """Whether any trait of this run comes from the simulated demo study."""
    return "demo" in data_source_kinds(run)


DEMO_WARNING = ("These are **simulated** data (the offline demo study generated by mrbook from a "
                "fixed seed), not real GWAS. The simulation was built to mirror the paper: its true "
                "effects are the published estimates, so any agreement with the paper is by "
                "construction and is **not evidence** for the paper's findings.")


def show_data_source(run: Mapping[str, Any]) -> None:
    """Show the note on where this page's data come from (simulated demo or real GWAS)."""
    lines = [_source_line(t, s) for t, s in run.get("exposures", {}).items()]
    if "outcome_source" in run:
        lines.append(_source_line(run["outcome_trait"], run["outcome_source"]))
    demo = uses_demo(run)
    title = "Data: simulated demo study" if demo else "Data source"
    head = DEMO_WARNING if demo else "Real summary statistics:"
    md = (f"```{{admonition}} {title}\n:class: {'warning' if demo else 'note'} mrbook-data-source\n\n"
          f"{head}\n\n" + "\n".join(f"- {ln}" for ln in lines) + "\n```")
    items = "".join(f"<li>{html.escape(ln.replace('`', ''))}</li>" for ln in lines)
    head_html = html.escape(head.replace("**", ""))
    htm = (f'<div style="border-left:4px solid {"#D55E00" if demo else "#0072B2"};'
           f'padding:0.4em 0.8em;background:#f7f7f7"><strong>{html.escape(title)}</strong>'
           f"<p>{head_html}</p><ul>{items}</ul></div>")
    _display({"text/markdown": md, "text/html": htm,
              "text/plain": title + "\n" + "\n".join(lines)})


def show_note(markdown: str, title: str = "Note", kind: str = "note") -> None:
    """Show an admonition whose text depends on the run (e.g. the demo warning)."""
    md = f"```{{admonition}} {title}\n:class: {kind}\n\n{markdown}\n```"
    htm = (f'<div style="border-left:4px solid #0072B2;padding:0.4em 0.8em;background:#f7f7f7">'
           f"<strong>{html.escape(title)}</strong>"
           f"<p>{html.escape(markdown.replace('**', ''))}</p></div>")
    _display({"text/markdown": md, "text/html": htm, "text/plain": f"{title}: {markdown}"})


def comparison_caveat(run: Mapping[str, Any]) -> tuple[str, str, str]:
    """What a comparison with the paper can show on this run's data: (title, kind, markdown)."""
    kinds = data_source_kinds(run)
    if "demo" in kinds:
        return ("Simulated data: this comparison is not evidence", "warning",
                "This run used the **simulated demo study**. Its true causal effects were *set* to the "
                "paper's published estimates and its instrument counts to the paper's, so agreement "
                "between the two columns below is **by construction**. It shows that the software "
                "recovers a known effect from data shaped like the study's; it says **nothing** about "
                "whether thyroid dysfunction causes osteoporosis. Re-run the book on the real GWAS "
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


def show_comparison_caveat(run: Mapping[str, Any]) -> None:
    """Show what the comparison with the paper can and cannot show on this run's data."""
    title, kind, text = comparison_caveat(run)
    show_note(text, title=title, kind=kind)
