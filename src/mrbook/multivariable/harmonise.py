"""Multivariable layer: TwoSampleMR's ``mv_harmonise_data`` on its long exposure table and an outcome.

The input is what ``mv_extract_exposures`` returns (one row per SNP and
exposure, all exposures already on the first exposure's alleles) and an outcome
table (``extract_outcome_data`` or any TwoSampleMR-format outcome file). As
TwoSampleMR 0.7.9 (``R/multivariable_mr.R``):

1. keep the SNPs that have a row for every exposure;
2. harmonise the *first* exposure (the ``id.exposure`` of the first remaining
   row) with the outcome by :func:`mrbook.harmonise.harmonise_with_exclusions`
   (``harmonise_data`` with ``action``: palindromes, strand flips, swapped alleles)
   and keep the rows with ``mr_keep``;
3. the exposure matrices (``reshape2::dcast``): one row per SNP in R's string
   order, one column per exposure ID in R's string order.

What R does silently is made visible: every SNP lost gets its step and reason.
One check is added: TwoSampleMR trusts that the other exposures are on the first
exposure's alleles (``mv_extract_exposures`` harmonised them); here a row whose
alleles are the first exposure's swapped is turned (beta negated), and a row
whose alleles do not match at all drops the SNP with its reason, where R would
use the misaligned beta. On a table from ``mv_extract_exposures`` both are no-ops.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.tsmr import REQUIRED_EXPOSURE, coerce_tsmr, read_table, read_tsmr
from ..errors import InputError
from ..estimators.multivariable import p_from_z
from ..harmonise import harmonise_with_exclusions, r_collation_key
from .data import MVData, exclusions_frame

_COMPLEMENT = str.maketrans("ACGT", "TGCA")


def read_mv_exposures(path) -> pd.DataFrame:
    """Read TwoSampleMR's long multivariable exposure table (``mv_extract_exposures`` output).

    Raises
    ------
    InputError
        As :func:`mrbook.data.tsmr.read_tsmr` (one line naming file, row, column: a
        missing column, text that is not a number, a SNP listed twice for one exposure),
        or when the table has no ``id.exposure`` column.
    """
    raw = read_table(path)
    if "id.exposure" not in raw.columns:
        raise InputError("needs an id.exposure column naming each row's exposure (the long table "
                         "of TwoSampleMR's mv_extract_exposures)", path, column="id.exposure")
    df = coerce_tsmr(raw, path, REQUIRED_EXPOSURE)
    dup = df[["id.exposure", "SNP"]].duplicated().to_numpy()
    if dup.any():
        i = int(np.argmax(dup))
        raise InputError(f"SNP {df['SNP'].iloc[i]} appears twice for exposure "
                         f"{df['id.exposure'].iloc[i]}", path, df.index[i], "SNP")
    return df


def _allele(v) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    s = str(v).strip().upper()
    return s or None


def _align(ea, oa, ea1, oa1) -> int | None:
    """+1 if (ea, oa) are the first exposure's alleles, -1 if swapped, None if they do not match.

    The other strand is tried too; a palindromic SNP is taken on the forward strand.
    """
    if ea is None or ea1 is None:
        return None
    cands = [(ea, oa), (ea.translate(_COMPLEMENT), oa.translate(_COMPLEMENT) if oa else None)]
    for a, b in cands:
        if a == ea1 and (b is None or oa1 is None or b == oa1):
            return 1
        if a == oa1 and (b == ea1 or (b is None and oa1 is not None)):
            return -1
    return None


def _step_of(reason: str, palindromic: bool) -> str:
    if reason == "absent from outcome data":
        return "missing_in_outcome"
    return "palindromic" if palindromic else "harmonise"


def mv_harmonise(exposure: pd.DataFrame, outcome: pd.DataFrame, action: int = 2, *,
                 exposure_path=None, outcome_path=None) -> MVData:
    """Harmonise a long multivariable exposure table with an outcome (``mv_harmonise_data``).

    Parameters
    ----------
    exposure : DataFrame
        TwoSampleMR exposure format with one row per SNP and exposure: ``SNP``,
        ``id.exposure``, ``exposure``, ``effect_allele.exposure``, ``beta.exposure``,
        ``se.exposure``, ``pval.exposure`` (computed from beta/se when absent, with a
        note), ``other_allele.exposure`` and ``eaf.exposure`` optionally.
    outcome : DataFrame
        TwoSampleMR outcome format (one ``id.outcome``).
    action : {1, 2, 3}
        ``harmonise_data``'s action (2: drop ambiguous palindromes).
    exposure_path, outcome_path : str, optional
        File names for messages and the record.

    Returns
    -------
    MVData
        SNPs and exposure columns in R's order; ``exclusions`` with the steps
        ``missing_in_exposure``, ``missing_value``, ``exposure_alleles``,
        ``missing_in_outcome``, ``palindromic``, ``harmonise``.

    Raises
    ------
    InputError
        Fewer than two exposures, or no SNP left.
    """
    exp = exposure.copy()
    if "id.exposure" not in exp.columns:
        raise InputError("needs an id.exposure column naming each row's exposure", exposure_path,
                         column="id.exposure")
    exp["id.exposure"] = exp["id.exposure"].astype(str)
    if "exposure" not in exp.columns:
        exp["exposure"] = exp["id.exposure"]
    if "other_allele.exposure" not in exp.columns:
        exp["other_allele.exposure"] = None
    ids = list(dict.fromkeys(exp["id.exposure"]))
    if len(ids) < 2:
        raise InputError(f"multivariable MR needs at least two exposures (id.exposure); this table has "
                         f"{len(ids)}: {', '.join(ids)}", exposure_path, column="id.exposure")
    notes = []
    if "pval.exposure" not in exp.columns or exp["pval.exposure"].isna().any():
        z = p_from_z(exp["beta.exposure"].to_numpy(float), exp["se.exposure"].to_numpy(float))
        old = exp["pval.exposure"].to_numpy(float) if "pval.exposure" in exp.columns else \
            np.full(len(exp), np.nan)
        exp["pval.exposure"] = np.where(np.isnan(old), z, old)
        notes.append("pval.exposure computed as 2*Phi(-|beta/se|) where missing "
                     "(TwoSampleMR requires it)")
    excl: list[tuple] = []

    # 1. SNPs with a row for every exposure (TwoSampleMR: table(SNP) == nexp)
    counts = exp["SNP"].value_counts()
    partial = [s for s in dict.fromkeys(exp["SNP"]) if counts[s] != len(ids)]
    for s in partial:
        have = set(exp.loc[exp["SNP"] == s, "id.exposure"])
        lacking = [i for i in ids if i not in have]
        excl.append((s, "missing_in_exposure",
                     f"no row for {', '.join(lacking)} (present for {len(have)} of {len(ids)} "
                     "exposures)", lacking[0] if lacking else None))
    exp = exp[~exp["SNP"].isin(set(partial))]
    miss = exp[exp["beta.exposure"].isna() | exp["se.exposure"].isna()]
    for s, ide, b in zip(miss["SNP"], miss["id.exposure"], miss["beta.exposure"]):
        col = "beta.exposure" if pd.isna(b) else "se.exposure"
        excl.append((s, "missing_value", f"missing {col} for {ide}", ide))
    exp = exp[~exp["SNP"].isin(set(miss["SNP"]))]
    if exp.empty:
        raise InputError("no SNP has a complete row for every exposure", exposure_path)
    first = str(exp["id.exposure"].iloc[0])

    # 2. the other exposures on the first exposure's alleles (a check TwoSampleMR leaves out)
    ref = exp[exp["id.exposure"] == first].set_index("SNP")
    sign = np.ones(len(exp))
    bad: dict[str, tuple] = {}
    turned = 0
    for pos, (s, ide, ea, oa) in enumerate(zip(exp["SNP"], exp["id.exposure"],
                                                exp["effect_allele.exposure"],
                                                exp["other_allele.exposure"])):
        if ide == first:
            continue
        ea1, oa1 = ref.at[s, "effect_allele.exposure"], ref.at[s, "other_allele.exposure"]
        d = _align(_allele(ea), _allele(oa), _allele(ea1), _allele(oa1))
        if d is None:
            bad.setdefault(s, (ide, f"alleles {_allele(ea)}/{_allele(oa)} of {ide} do not match "
                                    f"{_allele(ea1)}/{_allele(oa1)} of {first}"))
        elif d < 0:
            sign[pos] = -1.0
            turned += 1
    exp = exp.assign(**{"beta.exposure": exp["beta.exposure"].to_numpy(float) * sign})
    for s, (ide, why) in bad.items():
        excl.append((s, "exposure_alleles", why, ide))
    exp = exp[~exp["SNP"].isin(set(bad))]
    if turned:
        notes.append(f"{turned} exposure rows had the first exposure's alleles swapped and were "
                     "turned to its effect allele (TwoSampleMR would not check)")

    # 3. the first exposure against the outcome (harmonise_data), mr_keep rows only
    first_rows = exp[exp["id.exposure"] == first]
    out = outcome.copy()
    if "other_allele.outcome" not in out.columns:
        out["other_allele.outcome"] = None
    if "id.outcome" not in out.columns:
        out["id.outcome"] = "outcome"
    harm, hexcl = harmonise_with_exclusions(first_rows, out, action=action,
                                            include_outcome_only=False,
                                            exposure_path=exposure_path, outcome_path=outcome_path)
    keep = harm[harm["mr_keep"].astype(bool)] if len(harm) else harm
    pal = dict(zip(harm["SNP"].astype(str), harm["palindromic"].astype(bool))) if len(harm) else {}
    for r in hexcl.itertuples(index=False):
        excl.append((str(r.snp), _step_of(str(r.reason), pal.get(str(r.snp), False)),
                     str(r.reason), None))
    kept = sorted(dict.fromkeys(keep["SNP"].astype(str)), key=r_collation_key)
    if not kept:
        raise InputError("no SNP is left after harmonising the first exposure with the outcome",
                         outcome_path)
    cols = sorted(ids, key=r_collation_key)
    names = dict(zip(exp["id.exposure"], exp["exposure"].astype(str)))
    piv = {c: exp.pivot(index="SNP", columns="id.exposure", values=c).loc[kept, cols]
           for c in ("beta.exposure", "se.exposure", "pval.exposure")}
    hk = keep.drop_duplicates("SNP")
    hk.index = hk["SNP"].astype(str)
    al = pd.DataFrame({"effect_allele": hk.loc[kept, "effect_allele.exposure"].to_numpy(),
                       "other_allele": hk.loc[kept, "other_allele.exposure"].to_numpy(),
                       "eaf": hk.loc[kept, "eaf.exposure"].to_numpy(float)
                       if "eaf.exposure" in hk.columns else np.nan})
    oid = str(out["id.outcome"].iloc[0])
    oname = str(out["outcome"].iloc[0]) if "outcome" in out.columns else oid
    return MVData(snps=kept, exposures=cols, exposure_names=[names[c] for c in cols],
                  bx=piv["beta.exposure"].to_numpy(float), sx=piv["se.exposure"].to_numpy(float),
                  pval=piv["pval.exposure"].to_numpy(float),
                  by=hk.loc[kept, "beta.outcome"].to_numpy(float),
                  sy=hk.loc[kept, "se.outcome"].to_numpy(float), outcome_id=oid, outcome_name=oname,
                  exclusions=exclusions_frame(excl),
                  meta={"layout": "TwoSampleMR long exposure table + outcome",
                        "exposure_input": None if exposure_path is None else str(exposure_path),
                        "outcome_input": None if outcome_path is None else str(outcome_path),
                        "harmonised_to": first, "action": int(action), "notes": notes},
                  alleles=al)


def read_mv_harmonised(exposure_path, outcome_path, action: int = 2) -> MVData:
    """Read a long exposure table and an outcome table and harmonise them (:func:`mv_harmonise`)."""
    exposure = read_mv_exposures(exposure_path)
    outcome = read_tsmr(outcome_path, "outcome")
    return mv_harmonise(exposure, outcome, action, exposure_path=str(exposure_path),
                        outcome_path=str(outcome_path))
