"""Multivariable layer: the harmonised multivariable data set, and reading it from a wide table.

:class:`MVData` is what every multivariable estimator runs on: one row per SNP,
one column per exposure (all aligned to the same effect allele), the outcome
associations, and every SNP that was dropped on the way with its reason. It is
TwoSampleMR's ``mv_harmonise_data()`` result (``exposure_beta``,
``exposure_se``, ``exposure_pval``, ``outcome_beta``, ``outcome_se``,
``expname``, ``outname``) plus the exclusions.

:func:`read_mv_table` reads the wide layout: ``SNP``, ``beta.<exposure>`` and
``se.<exposure>`` for each exposure (``pval.<exposure>`` optional), ``beta.outcome``,
``se.outcome`` (e.g. ``../shared/reference/lipids_mv/lipids_mv.csv``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.tsmr import NA_STRINGS, parse_numeric, read_table
from ..errors import InputError
from ..estimators.multivariable import p_from_z

#: columns of the exclusions table of an MVData
EXCLUSION_COLUMNS = ["snp", "step", "reason", "exposure"]


@dataclass
class MVData:
    """A harmonised multivariable MR data set.

    Attributes
    ----------
    snps : list of str
        The SNPs analysed, in row order.
    exposures : list of str
        Exposure IDs, in column order (``id.exposure``; the column stems of a
        wide table).
    exposure_names : list of str
        Display names of the exposures.
    bx, sx, pval : ndarray, shape (n, k)
        SNP-exposure associations (aligned to one effect allele per SNP), their
        SEs and P-values.
    by, sy : ndarray, shape (n,)
        SNP-outcome associations (the same allele) and their SEs.
    outcome_id, outcome_name : str
    exclusions : DataFrame
        ``snp``, ``step``, ``reason``, ``exposure`` (the exposure concerned, or
        None): every SNP that did not reach the analysis.
    meta : dict
        Where the data come from (``input``, ``simulated``, sources, settings,
        counts) and ``notes`` (e.g. "P-values computed from beta/se").
    alleles : DataFrame, optional
        ``effect_allele``, ``other_allele``, ``eaf`` per SNP (the first
        exposure's), when known.
    """

    snps: list
    exposures: list
    exposure_names: list
    bx: np.ndarray
    sx: np.ndarray
    pval: np.ndarray
    by: np.ndarray
    sy: np.ndarray
    outcome_id: str = "outcome"
    outcome_name: str = "outcome"
    exclusions: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=EXCLUSION_COLUMNS))
    meta: dict = field(default_factory=dict)
    alleles: pd.DataFrame | None = None

    @property
    def n(self) -> int:
        """Number of SNPs."""
        return len(self.snps)

    @property
    def k(self) -> int:
        """Number of exposures."""
        return len(self.exposures)

    def name_of(self, exposure_id: str) -> str:
        """Display name of an exposure ID."""
        return self.exposure_names[self.exposures.index(exposure_id)]

    def to_frame(self) -> pd.DataFrame:
        """The data as a wide table (``SNP``, ``beta.<id>``, ``se.<id>``, ``pval.<id>``, outcome)."""
        out = pd.DataFrame({"SNP": list(self.snps)})
        if self.alleles is not None:
            for c in self.alleles.columns:
                out[c] = self.alleles[c].to_numpy()
        for j, e in enumerate(self.exposures):
            out[f"beta.{e}"] = self.bx[:, j]
            out[f"se.{e}"] = self.sx[:, j]
            out[f"pval.{e}"] = self.pval[:, j]
        out["beta.outcome"] = self.by
        out["se.outcome"] = self.sy
        return out


def exclusions_frame(rows) -> pd.DataFrame:
    """The exclusions table from ``(snp, step, reason, exposure)`` tuples or dicts."""
    recs = [r if isinstance(r, dict) else dict(zip(EXCLUSION_COLUMNS, r)) for r in rows]
    df = pd.DataFrame(recs, columns=EXCLUSION_COLUMNS)
    for c in EXCLUSION_COLUMNS:
        df[c] = df[c].astype(object)
    return df


def _is_missing(values: pd.Series) -> np.ndarray:
    return values.isna().to_numpy() | values.astype(str).str.strip().isin(NA_STRINGS).to_numpy()


def mv_from_frame(df: pd.DataFrame, path=None, exposure_names: dict | None = None,
                  outcome_name: str = "outcome") -> MVData:
    """Validate a wide multivariable table (text or numbers) and build :class:`MVData`.

    Parameters
    ----------
    df : DataFrame
        Columns ``SNP``, ``beta.<x>`` and ``se.<x>`` per exposure x (two or more),
        ``pval.<x>`` optionally, ``beta.outcome``, ``se.outcome``; ``effect_allele``,
        ``other_allele``, ``eaf`` optionally. The index gives the row numbers used in
        errors (1 = first data row).
    path : str, optional
        The file, for error messages.
    exposure_names : dict, optional
        Exposure stem -> display name (default: the stem).
    outcome_name : str
        Display name of the outcome.

    Raises
    ------
    InputError
        Missing columns, fewer than two exposures, text that is not a number,
        non-positive SEs, P outside [0, 1], a SNP listed twice, or no SNP with every
        value present. A missing value (empty or NA) drops that SNP with its reason,
        as TwoSampleMR's ``mr_keep`` does.
    """
    df = df.copy()
    if df.index.dtype.kind not in "iu" or (len(df) and df.index.min() < 1):
        df.index = pd.RangeIndex(1, len(df) + 1)
    cols = list(df.columns)
    need = [c for c in ("SNP", "beta.outcome", "se.outcome") if c not in cols]
    if need:
        raise InputError(f"missing required column(s) {', '.join(need)}; a multivariable table needs "
                         "SNP, beta.<exposure> and se.<exposure> for each exposure, beta.outcome and "
                         "se.outcome", path, column=need[0])
    stems = [c[5:] for c in cols if c.startswith("beta.") and c != "beta.outcome" and len(c) > 5]
    for s in stems:
        if f"se.{s}" not in cols:
            raise InputError(f"column beta.{s} has no se.{s} beside it", path, column=f"beta.{s}")
    orphans = [c for c in cols if c.startswith("se.") and c != "se.outcome" and c[3:] not in stems]
    if orphans:
        raise InputError(f"column {orphans[0]} has no {orphans[0].replace('se.', 'beta.', 1)} beside it",
                         path, column=orphans[0])
    if len(stems) < 2:
        raise InputError(f"a multivariable table needs at least two exposures (beta.<x>, se.<x>); "
                         f"found {len(stems)}: {', '.join(stems) or 'none'}", path,
                         column=f"beta.{stems[0]}" if stems else "SNP")
    snp_missing = _is_missing(df["SNP"])
    if snp_missing.any():
        i = int(np.argmax(snp_missing))
        raise InputError("expected a SNP identifier, got an empty cell", path, df.index[i], "SNP")
    snps = df["SNP"].astype(str).str.strip()
    dup = snps.duplicated().to_numpy()
    if dup.any():
        i = int(np.argmax(dup))
        raise InputError(f"SNP {snps.iloc[i]} appears twice; each SNP may appear once", path,
                         df.index[i], "SNP")
    num = {}
    for s in stems:
        num[f"beta.{s}"] = parse_numeric(df, f"beta.{s}", path)
        num[f"se.{s}"] = parse_numeric(df, f"se.{s}", path, positive=True)
        if f"pval.{s}" in cols:
            num[f"pval.{s}"] = parse_numeric(df, f"pval.{s}", path, probability=True)
    num["beta.outcome"] = parse_numeric(df, "beta.outcome", path)
    num["se.outcome"] = parse_numeric(df, "se.outcome", path, positive=True)
    order = [f"{w}.{s}" for s in stems for w in ("beta", "se")] + ["beta.outcome", "se.outcome"]
    keep = np.ones(len(df), dtype=bool)
    excl = []
    for i in range(len(df)):
        gone = [c for c in order if np.isnan(num[c][i])]
        if gone:
            keep[i] = False
            excl.append((snps.iloc[i], "missing_value", f"missing {gone[0]}",
                         gone[0].split(".", 1)[1] if gone[0].split(".", 1)[1] != "outcome" else None))
    if not keep.any():
        raise InputError("no usable SNP: every row has a missing beta or SE", path)
    bx = np.column_stack([num[f"beta.{s}"][keep] for s in stems])
    sx = np.column_stack([num[f"se.{s}"][keep] for s in stems])
    notes = []
    pcols = []
    for j, s in enumerate(stems):
        p = num.get(f"pval.{s}")
        if p is None or np.isnan(p[keep]).any():
            pz = p_from_z(bx[:, j], sx[:, j])
            if p is not None:
                pz = np.where(np.isnan(p[keep]), pz, p[keep])
            pcols.append(pz)
            notes.append(f"P-values of {s} computed as 2*Phi(-|beta/se|) where the table has none")
        else:
            pcols.append(p[keep])
    names = dict(exposure_names or {})
    alleles = None
    al_cols = [c for c in ("effect_allele", "other_allele", "eaf") if c in cols]
    if al_cols:
        alleles = df.loc[keep, al_cols].reset_index(drop=True)
    return MVData(snps=snps[keep].tolist(), exposures=list(stems),
                  exposure_names=[names.get(s, s) for s in stems], bx=bx, sx=sx,
                  pval=np.column_stack(pcols), by=num["beta.outcome"][keep],
                  sy=num["se.outcome"][keep], outcome_id="outcome", outcome_name=outcome_name,
                  exclusions=exclusions_frame(excl),
                  meta={"input": None if path is None else str(path), "layout": "wide table",
                        "notes": notes}, alleles=alleles)


def read_mv_table(path: str | Path, exposure_names: dict | None = None,
                  outcome_name: str = "outcome") -> MVData:
    """Read a wide multivariable table (CSV/TSV, gzip or not) into :class:`MVData`.

    Parameters
    ----------
    path : str or Path
        ``SNP``, ``beta.<x>`` and ``se.<x>`` for each exposure x (at least two;
        ``pval.<x>`` optional), ``beta.outcome``, ``se.outcome``; all associations
        already aligned to the same effect allele.
    exposure_names : dict, optional
        Column stem -> display name.
    outcome_name : str
        Display name of the outcome.

    Returns
    -------
    MVData
        Exposures in column order. Without ``pval.<x>`` the exposure P-values are
        :math:`2\\Phi(-|\\beta/se|)` (TwoSampleMR's ``mv_multiple`` counts its
        ``nsnp`` from them), and ``meta["notes"]`` says so.

    Raises
    ------
    InputError
        See :func:`mv_from_frame`; also a missing or unreadable file.
    """
    raw = read_table(path)
    return mv_from_frame(raw, path, exposure_names, outcome_name)
