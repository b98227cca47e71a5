"""Report layer: the study a book reports, its pairs, their analysis (cached), the published numbers.

:func:`pairs` lists the exposure-outcome pairs of a direction (the reverse MR is
the same list with the roles swapped) and :func:`analyse_pairs` runs instrument
selection and the MR analysis on each pair, returning one
:class:`DirectionResult` of stacked tidy tables. The study's published numbers
(:data:`PUBLISHED_IVW`, :data:`PUBLISHED_INSTRUMENTS`, :data:`STUDY_GWAS`) are
what the comparison page checks against.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from ..output import VERSION
from ..params import resolve_path, source_kind

# The published study (SPEC section 1): what the comparison page checks against

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
    pkg = Path(__file__).resolve().parent.parent  # the mrbook package
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
    blob = json.dumps({
        "pairs": [[p.exposure, _source_fingerprint(p.exposure_source), p.outcome,
                   _source_fingerprint(p.outcome_source)] for p in pair_list],
        "run": {k: run.get(k) for k in _RESULT_PARAMETERS},
    "files": [_source_fingerprint(run[k]) for k in ("ld_ref", "confounder_table") if run.get(k)],
        "version": VERSION, "code": _code_fingerprint(),
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

def split_methods(keys: Iterable[str]) -> tuple[list[str], list[str]]:
    """The method keys this mrbook has (registered), and the ones it has not (yet).

    Issue 18's estimators may be listed in the ``extended_methods`` run parameter
    before they are implemented: they are then reported, not run.
    """
    from ..estimators import METHODS

    keys = list(dict.fromkeys(keys))
    return [k for k in keys if k in METHODS], [k for k in keys if k not in METHODS]


def extended_mr(result: DirectionResult, run: Mapping[str, Any], *, cache: bool = True) -> pd.DataFrame:
    """The section "Beyond the paper": the ``extended_methods`` on each pair of a direction.

    Runs :func:`mrbook.analysis.run_mr` on each pair's harmonised SNPs (the
    instruments of the paper's analysis) with the registered keys of
    ``run["extended_methods"]`` (:func:`split_methods`), the run's seed,
    bootstrap generator and ``nboot``. Kept in ``<output_dir>/.cache/`` as
    :func:`analyse_pairs` keeps its result.

    Returns
    -------
    DataFrame
        ``run_mr``'s columns for every pair, with the book's trait names:
        exposure, outcome, method_key, method, nsnp, b, se, pval, status,
        reason, and the optional ones (``intercept``..., ``ci_low``/``ci_upp``
        for a method with its own interval) when a method gives them.
    """
    from ..analysis import run_mr
    from ..estimators import Params

    keys, _ = split_methods(run.get("extended_methods", []))
    blob = json.dumps([cache_key(result.pairs, run), keys], sort_keys=True)
    path = (resolve_path(run["output_dir"]) / ".cache"
            / f"extended-{hashlib.sha256(blob.encode()).hexdigest()[:20]}.pkl")
    if cache and path.is_file():
        try:
            with open(path, "rb") as fh:
                return pickle.load(fh)
        except Exception:  # noqa: BLE001 - an unreadable cache entry is recomputed
            pass
    frames = []
    for pair in result.pairs:
        rows = result.pair_rows("harmonised", pair)
        if not keys or not len(rows):
            continue
        res = run_mr(rows, methods=keys, params=Params(nboot=run["nboot"]), seed=run["seed"],
                     rng=run.get("rng", "numpy"))
        frames.append(_rename(res, pair))
    out = _stack(frames)
    if out is None:
        from ..analysis import MR_COLUMNS
        out = pd.DataFrame(columns=MR_COLUMNS)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(out, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    return out


def _file_or_id(source: str) -> str:
    """A file source as an absolute path (relative ones are taken from the project root)."""
    return str(resolve_path(source)) if source_kind(source) == "file" else source

def _analyse_pairs(pair_list: list[Pair], run: Mapping[str, Any]) -> DirectionResult:
    from ..analysis import analyse
    from ..instruments import select_instruments

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

def data_source_kinds(run: Mapping[str, Any]) -> set[str]:
    """The kinds of data ("demo", "opengwas", "file") this run uses."""
    sources = list(run.get("exposures", {}).values())
    if "outcome_source" in run:
        sources.append(run["outcome_source"])
    return {source_kind(s) for s in sources}

def uses_demo(run: Mapping[str, Any]) -> bool:
    """Whether any trait of this run comes from the simulated demo study."""
    return "demo" in data_source_kinds(run)
