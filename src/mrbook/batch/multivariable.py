"""Batch layer: the multivariable rows of a manifest (``A+B+C``), one task per chunk of them.

A manifest row whose ``exposure`` cell joins several sources with ``+`` is one
multivariable analysis of those exposures together on the row's outcome. Its task
calls :func:`mrbook.multivariable.mvmr_from_sources`, the function ``mrbook mvmr
--exposures A+B --outcome O`` and the book's Multivariable MR chapter call (no copy
of it here), with the run's selection settings and the multivariable defaults the
command and the chapter use (every method, 10000 bootstrap replicates of the
weighted median from MendelianRandomization's seed, the run's generator): a row's
numbers are those of ``mrbook mvmr`` on the same sources.

Its tables, in the chunk (every row carries ``pair_key``) and then in the batch
folder (:mod:`mrbook.batch.store`):

* ``mvmr``: one row per pair x exposure x method (``pair_id``, the manifest
  ``row``, ``exposures`` (the IDs joined by ``+``), ``id_exposure``, ``exposure``,
  ``id_outcome``, ``outcome``, ``method_key``, ``method``, ``nsnp``, ``b``, ``se``,
  ``pval``, ``status``, ``reason``, ``conditional_f``; the store adds ``pval_fdr``);
* ``mv_heterogeneity``: one row per pair (Q, its df and P; the multivariable
  MR-Egger intercept);
* ``exclusions``: every SNP that left the pair, with its step and reason (the
  exposure concerned in ``id_exposure`` where there is one);
* its row in ``pairs`` (``candidates``: SNPs past the P threshold; ``final``: SNPs
  analysed), or in ``errors`` with the step and a one-line message.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from .plan import MV_SEPARATOR, Chunk, Settings
from .tasks import ERROR_COLUMNS, PAIR_TABLE_COLUMNS, ChunkResult, one_line

#: one row per pair x exposure x method (``pval_fdr`` is added by the store)
MV_COLUMNS = ["pair_id", "row", "exposures", "id_exposure", "exposure", "id_outcome", "outcome",
              "method_key", "method", "nsnp", "b", "se", "pval", "status", "reason",
              "conditional_f"]
#: one row per multivariable pair
MV_HETEROGENEITY_COLUMNS = ["pair_id", "row", "exposures", "id_outcome", "outcome", "nsnp", "q",
                            "q_df", "q_pval", "egger_intercept", "egger_intercept_se",
                            "egger_intercept_pval", "orientate"]


def mv_options(settings: Settings) -> dict:
    """Keyword arguments of :func:`mrbook.multivariable.mvmr_from_sources` for a batch's settings.

    The selection settings are the run's (as the chapter passes them); the methods,
    the median's bootstrap replicates and seed are the defaults of ``mrbook mvmr``.
    """
    return dict(p_threshold=settings.p, clump_r2=settings.r2, clump_kb=settings.kb,
                ld_ref=settings.ld_ref, clump=settings.clump,
                palindrome_action=settings.palindrome_action,
                confounder_table=settings.confounder_table,
                confounder_traits=settings.confounder_traits, rng=settings.rng)


def _sources(spec) -> list[str] | dict[str, str]:
    """The row's exposure sources, or display name -> source when the manifest names them."""
    names = [n.strip() for n in (spec.exposure_name or "").split(MV_SEPARATOR)]
    if spec.exposure_name and len(names) == len(spec.exposures) and all(names) \
            and len(set(names)) == len(names):
        return dict(zip(names, spec.exposures))
    return list(spec.exposures)


def mv_tables(spec, res) -> dict[str, pd.DataFrame]:
    """The tidy tables of one multivariable pair from its :class:`~mrbook.multivariable.MVResult`."""
    d = res.data
    ids = MV_SEPARATOR.join(d.exposures)
    outcome = spec.outcome_name or d.outcome_name
    f = dict(zip(res.strength["id_exposure"], res.strength["conditional_f"].astype(float)))
    mv = res.mvmr.assign(pair_id=spec.key, row=spec.row, exposures=ids, id_outcome=d.outcome_id,
                         outcome=outcome)
    mv["conditional_f"] = mv["id_exposure"].map(f).astype(float)
    mv = mv[MV_COLUMNS]
    het, ple = res.heterogeneity, res.pleiotropy
    het_row = pd.DataFrame([{
        "pair_id": spec.key, "row": spec.row, "exposures": ids, "id_outcome": d.outcome_id,
        "outcome": outcome, "nsnp": d.n, "q": float(het["Q"]), "q_df": float(het["Q_df"]),
        "q_pval": float(het["Q_pval"]), "egger_intercept": float(ple["egger_intercept"]),
        "egger_intercept_se": float(ple["se"]), "egger_intercept_pval": float(ple["pval"]),
        "orientate": ple["orientate"]}], columns=MV_HETEROGENEITY_COLUMNS)
    ex = d.exclusions
    excl = pd.DataFrame({
        "snp": ex["snp"].astype(str), "step": ex["step"].astype(str),
        "reason": ex["reason"].astype(str),
        "id_exposure": [e if isinstance(e, str) else ids for e in ex["exposure"]],
        "id_outcome": d.outcome_id,
        "exposure": " + ".join(d.exposure_names), "outcome": outcome})
    return {"mvmr": mv, "mv_heterogeneity": het_row, "exclusions": excl}


def mv_pairs_task(chunk: Chunk, settings: Settings) -> ChunkResult:
    """Run the multivariable rows of a chunk: select, harmonise and analyse each row's exposures.

    Parameters
    ----------
    chunk : Chunk
        Items ``(PairSpec, None, None)`` of multivariable rows.
    settings : Settings

    Returns
    -------
    ChunkResult
        Per row: its ``mvmr``, ``mv_heterogeneity`` and ``exclusions`` rows and its
        row in ``pairs``; or its row in ``errors`` (a row's failure never stops the
        others).
    """
    from ..multivariable import mvmr_from_sources

    t0 = time.perf_counter()
    parts: dict[str, list] = {}
    pair_rows, errors = [], []
    opts = mv_options(settings)
    for spec, _, _ in chunk.pairs:
        base = dict(pair_key=spec.key, row=spec.row, id_exposure=None, id_outcome=None,
                    exposure=spec.exposure_name, outcome=spec.outcome_name,
                    exposure_source=spec.exposure, outcome_source=spec.outcome)
        step = "multivariable"
        try:
            res = mvmr_from_sources(_sources(spec), spec.outcome, **opts)
            d = res.data
            base["id_exposure"] = MV_SEPARATOR.join(d.exposures)
            base["id_outcome"] = d.outcome_id
            base["exposure"] = spec.exposure_name or MV_SEPARATOR.join(d.exposure_names)
            base["outcome"] = spec.outcome_name or d.outcome_name
            for name, t in mv_tables(spec, res).items():
                parts.setdefault(name, []).append(t.assign(pair_key=spec.key))
            flow = {r["step"]: r for r in d.meta.get("flow", [])}
            pair_rows.append(dict(
                base, status="done", simulated=bool(d.meta.get("simulated", False)),
                candidates=int(d.meta.get("union", d.n)),
                missing_in_outcome=int(flow.get("missing_in_outcome", {}).get("removed") or 0),
                proxies_used=0,
                palindromic=int(flow.get("palindromic", {}).get("removed") or 0),
                harmonise_other=int(sum((flow.get(s, {}).get("removed") or 0) for s in
                                        ("harmonise", "exposure_alleles", "missing_in_exposure"))),
                confounder=int(flow.get("confounder", {}).get("removed") or 0),
                steiger_removed=0, final=d.n,
                f_min=np.nan, f_max=np.nan,  # per-SNP F: see conditional_f in mvmr instead
                clump_engine=str(d.meta.get("settings", {}).get("clump_engine"))))
        except Exception as exc:  # noqa: BLE001 - the row fails, the chunk goes on
            errors.append(dict(base, step=step, message=one_line(exc)))
            pair_rows.append(dict(base, status="failed"))
    out = ChunkResult(index=chunk.index,
                      pairs=pd.DataFrame(pair_rows, columns=PAIR_TABLE_COLUMNS),
                      errors=pd.DataFrame(errors, columns=ERROR_COLUMNS))
    out.tables = {k: pd.concat(v, ignore_index=True) for k, v in parts.items()}
    out.seconds = time.perf_counter() - t0
    return out
