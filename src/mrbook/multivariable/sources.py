"""Multivariable layer: instruments of several exposures from their data sources, as the book takes them.

:func:`mv_select_instruments` does for several exposures what
:func:`mrbook.instruments.select_instruments` does for one, with the same
readers, clumping, harmonisation and confounder look-up (it calls them; it has
no copy of them), in the order of TwoSampleMR's ``mv_extract_exposures`` +
``mv_harmonise_data``:

1. **P threshold**: each exposure's SNPs with P < ``p``;
2. **clumping**: their union, each SNP ranked by its smallest P over the
   exposures, clumped once (r² ``r2`` within ``kb``) on the LD panel (or on the
   OpenGWAS server);
3. **look-up**: every exposure's association with every kept SNP (a SNP missing
   from one exposure's data is dropped: *missing_in_exposure*);
4. **exposure alleles**: the other exposures harmonised to the first one's
   alleles (``harmonise_data(exposure 1, exposure j)``, as ``mv_extract_exposures``
   does); a SNP whose alleles do not match (*exposure_alleles*), or a palindrome
   whose strand the allele frequencies cannot tell (*palindromic*), is dropped;
5. **outcome**: the first exposure harmonised with the outcome
   (``mv_harmonise_data``): SNPs absent from the outcome (*missing_in_outcome*; LD
   proxies are not sought), ambiguous palindromes (*palindromic*) and
   incompatible alleles (*harmonise*) are dropped;
6. **confounders** (as the univariable selection): SNPs associated with a
   confounder trait in the association table are dropped.

Every SNP lost after the P threshold is listed with its step and reason.

TwoSampleMR's ``mv_extract_exposures`` clumps each exposure's instruments before
clumping their union; the union is clumped once here, which keeps the same SNPs
unless two exposures' top SNPs are in LD with each other, when the one with the
smaller P wins. TwoSampleMR's ``mv_extract_exposures`` also keeps the rows that
fail step 4 (with their unaligned betas); they are dropped here, with the reason.

Sources: a summary-statistics file, ``demo:<trait>`` (the simulated demo study),
``demo-mv:<trait>`` (its multivariable extension, :mod:`mrbook.data.demo_mv`,
SIMULATED, in which the thyroid traits share loci) or an OpenGWAS ID.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, ParameterError
from ..harmonise import harmonise_with_exclusions, r_collation_key
from ..instruments import (Source, _check_settings, _norm_cols, _read_exposure,
                           _read_outcome, confounder_hits, read_confounder_table, resolve_source)
from .data import MVData, exclusions_frame

#: the steps of the multivariable selection, in order (the ``step`` of the exclusions)
MV_STEPS = ("clumping", "missing_in_exposure", "exposure_alleles", "missing_in_outcome",
            "palindromic", "harmonise", "confounder")
DEMO_MV_PREFIX = "demo-mv:"


def resolve_mv_source(spec, *, demo_seed: int | None = None, cache_dir=None) -> Source:
    """A data source: :func:`mrbook.instruments.resolve_source`, which knows ``demo-mv:<trait>``.

    Kept as this layer's name for it.

    Raises
    ------
    ParameterError
        Unknown demo trait.
    InputError
        A path that does not exist and is not an OpenGWAS ID.
    """
    return resolve_source(spec, demo_seed=demo_seed, cache_dir=cache_dir)


def _opengwas():
    from ..data.opengwas import OpenGWAS

    return OpenGWAS()


def _hits(src: Source, p: float, server_clump: bool, r2: float, kb: float) -> pd.DataFrame:
    """One exposure's SNPs with P < p, normalised columns."""
    if src.kind == "opengwas":
        hits = _opengwas().tophits(src.id, pval=p, clump=server_clump, r2=r2, kb=int(kb))
        if not hits.empty and "trait" in hits.columns and hits["trait"].notna().any():
            src.trait = str(hits["trait"].dropna().iloc[0])
        df = hits[list(_norm_cols())].copy()
    else:
        df = _read_exposure(src, p)
    df = df[df["p"] < p] if len(df) else df
    no_id = df["rsid"].isna() | df["rsid"].astype(str).isin(["", "nan", "<NA>", "None"])
    return df[~no_id]


def _lookup(src: Source, snps: list[str]) -> pd.DataFrame:
    """The source's rows for ``snps`` (normalised columns), one per rsID."""
    if not snps:
        return pd.DataFrame(columns=list(_norm_cols()))
    if src.kind == "opengwas":
        df = _opengwas().associations(snps, src.id, proxies=False)
        df = df[list(_norm_cols())] if len(df) else pd.DataFrame(columns=list(_norm_cols()))
    else:
        df = _read_outcome(src, snps)
    return df.drop_duplicates("rsid").reset_index(drop=True)


def _as_role(df: pd.DataFrame, role: str, src: Source) -> pd.DataFrame:
    from ..data.readers import to_tsmr

    return to_tsmr(df, role, id=src.id, trait=src.trait)


def mv_select_instruments(exposures, outcome, *, p: float = 5e-8, r2: float = 0.01,
                          kb: float = 10000, ld_ref=None, palindrome_action: int = 2,
                          confounder_table=None, confounder_traits=(), confounder_p: float = 5e-8,
                          clump: bool = True, clump_engine: str = "auto",
                          demo_seed: int | None = None, cache_dir=None) -> MVData:
    """Select, look up and harmonise the instruments of several exposures (see the module notes).

    Parameters
    ----------
    exposures : sequence of str or mapping of str to str
        Two or more data sources (files, ``demo:<trait>``, ``demo-mv:<trait>``,
        OpenGWAS IDs), or display name -> source. The first is the one the others
        and the outcome are harmonised to.
    outcome : str
        The outcome's data source.
    p, r2, kb, ld_ref, palindrome_action, confounder_table, confounder_traits,
    confounder_p, clump, clump_engine, demo_seed, cache_dir
        As :func:`mrbook.instruments.select_instruments`: the book's parameters of
        the same meaning (the confounder table, None or "", defaults to the demo's
        for demo sources; ``False`` skips the step).

    Returns
    -------
    MVData
        Exposures in the order given; SNPs in R's string order (as
        ``mv_harmonise_data``); ``exclusions`` (step in :data:`MV_STEPS`);
        ``meta`` with the sources, the settings, the counts of every step
        (``flow``), per-SNP ``selection`` rows and ``simulated``.

    Raises
    ------
    ParameterError
        Fewer than two exposures, bad settings, no LD reference for clumping.
    InputError
        Unreadable inputs, or no SNP left.
    """
    from ..data import demo as demo_mod
    from ..data import ld as ld_mod

    _check_settings(p, r2, kb, palindrome_action, confounder_p, 0.8)
    if isinstance(exposures, dict):
        names = [str(k) for k in exposures]
        specs = list(exposures.values())
    else:
        specs = list(exposures)
        names = None
    if len(specs) < 2:
        raise ParameterError(f"multivariable MR needs at least two exposures, got {len(specs)}")
    srcs = [resolve_mv_source(s, demo_seed=demo_seed, cache_dir=cache_dir) for s in specs]
    out_src = resolve_mv_source(outcome, demo_seed=demo_seed, cache_dir=cache_dir)
    ids = [s.id for s in srcs]
    if len(set(ids)) < len(ids):
        raise ParameterError(f"the same exposure is given twice: {', '.join(ids)}")
    demo_folder = next((s.demo_dir for s in (*srcs, out_src) if s.demo_dir is not None), None)

    panel, ld_desc = None, None
    if ld_ref:
        panel, ld_desc = ld_mod.read_panel(ld_ref), str(ld_ref)
    elif demo_folder is not None:
        man = demo_mod.load_manifest(demo_folder)
        panel = ld_mod.read_panel(demo_folder / man["files"]["panel"])
        ld_desc = f"demo panel ({man['files']['panel']}, SIMULATED)"
    server = panel is None and clump and all(s.kind == "opengwas" for s in srcs)

    # 1. P threshold, per exposure
    hits = [_hits(s, p, server, r2, kb) for s in srcs]
    from ..data.readers import effective_p

    union = pd.concat([h.assign(p_eff=effective_p(h), _x=j) for j, h in enumerate(hits) if len(h)],
                      ignore_index=True) if any(len(h) for h in hits) else pd.DataFrame()
    if union.empty:
        raise InputError("no SNP reaches the P threshold "
                         f"{p:g} in any exposure ({', '.join(s.spec for s in srcs)})")
    union = union.sort_values(["p_eff", "rsid"], kind="stable").drop_duplicates("rsid")
    union = union.reset_index(drop=True)
    excl: list[tuple] = []

    # 2. clumping of the union
    engine = None
    if not clump:
        kept = union["rsid"].tolist()
        engine = "none (clump=False: the exposures' SNPs were taken as independent)"
    elif panel is not None:
        res = ld_mod.clump(union[["rsid", "p_eff"]].rename(columns={"p_eff": "p"}), panel, r2=r2,
                           kb=kb, p1=1.0, p2=1.0, engine=clump_engine)
        kept = res.kept
        engine = res.exclusions.attrs.get("engine")
        for r in res.exclusions.itertuples(index=False):
            excl.append((r.snp, "clumping", r.reason, None))
    elif server or os.environ.get("OPENGWAS_JWT"):
        # as mv_extract_exposures: each exposure clumped on the server (tophits), then the union
        kept = _opengwas().ld_clump(union["rsid"].tolist(), union["p_eff"].tolist(), r2=r2,
                                    kb=int(kb), pthresh=1.0)
        engine = "opengwas"
        kset = set(kept)
        for s in union["rsid"]:
            if s not in kset:
                excl.append((s, "clumping", "removed by OpenGWAS ld/clump (LD with a stronger "
                                            "SNP, or absent from the reference)", None))
    else:
        raise ParameterError("clumping needs an LD reference: pass ld_ref=PREFIX (a PLINK binary "
                             "fileset), use OpenGWAS exposures, or set OPENGWAS_JWT (or clump=False "
                             "for files that hold independent instruments)")
    kept = [s for s in union["rsid"] if s in set(kept)]

    # 3. every exposure's association with every kept SNP
    looked = []
    for j, s in enumerate(srcs):
        d = _lookup(s, kept)
        have = set(d["rsid"].astype(str))
        for snp in kept:
            if snp not in have:
                excl.append((snp, "missing_in_exposure", f"absent from the {s.trait} data", s.id))
        looked.append(d)
    gone = {e[0] for e in excl if e[1] == "missing_in_exposure"}
    kept = [s for s in kept if s not in gone]
    tsmr = [_as_role(d[d["rsid"].isin(set(kept))], "exposure", s) for d, s in zip(looked, srcs)]

    # 4. the other exposures on the first one's alleles
    aligned = {}
    first = tsmr[0]
    for j in range(1, len(srcs)):
        other = tsmr[j].rename(columns=lambda c: c.replace(".exposure", ".outcome")
                               if c.endswith(".exposure") else ("outcome" if c == "exposure" else c))
        harm, hx = harmonise_with_exclusions(first, other, action=palindrome_action,
                                             include_outcome_only=False)
        ok = harm[harm["mr_keep"].astype(bool)]
        aligned[j] = ok.drop_duplicates("SNP").set_index("SNP")
        listed = {e[0] for e in excl if e[1] in ("exposure_alleles", "palindromic")}
        for r in harm[~harm["mr_keep"].astype(bool)].itertuples(index=False):
            if str(r.SNP) in listed:
                continue  # one row per SNP: the first exposure that fails it
            pal_amb = bool(r.palindromic) and bool(r.ambiguous) and not bool(r.remove)
            why = str(r.mr_keep_reason).replace("eaf.exposure", f"eaf {srcs[0].trait}")
            why = why.replace("eaf.outcome", f"eaf {srcs[j].trait}")
            excl.append((str(r.SNP), "palindromic" if pal_amb else "exposure_alleles",
                         f"{srcs[j].trait} on {srcs[0].trait}'s alleles: {why}", srcs[j].id))
        for r in hx.itertuples(index=False):
            if r.reason == "absent from outcome data":
                continue  # already listed as missing_in_exposure
            if r.snp not in set(harm["SNP"].astype(str)) and str(r.snp) not in listed:
                excl.append((str(r.snp), "exposure_alleles", str(r.reason), srcs[j].id))
    bad = {e[0] for e in excl if e[1] in ("exposure_alleles", "palindromic")}
    kept = [s for s in kept if s not in bad]

    # 5. the first exposure with the outcome
    outc = _lookup(out_src, kept)
    out_t = _as_role(outc, "outcome", out_src)
    first = first[first["SNP"].isin(set(kept))]
    harm, hx = harmonise_with_exclusions(first, out_t, action=palindrome_action,
                                         include_outcome_only=False)
    pal = dict(zip(harm["SNP"].astype(str), harm["palindromic"].astype(bool))) if len(harm) else {}
    for r in hx.itertuples(index=False):
        reason = str(r.reason)
        step = ("missing_in_outcome" if reason == "absent from outcome data"
                else "palindromic" if pal.get(str(r.snp), False) else "harmonise")
        if step == "missing_in_outcome":
            reason = f"absent from the {out_src.trait} data (LD proxies are not sought)"
        excl.append((str(r.snp), step, reason, None))
    final = harm[harm["mr_keep"].astype(bool)].drop_duplicates("SNP")
    final.index = final["SNP"].astype(str)

    # 6. confounders
    table_path, traits = None, tuple(t for t in (confounder_traits or ()) if str(t).strip())
    if confounder_table == "":
        confounder_table = None            # the book's "empty": the demo's table for demo data
    if confounder_table is None and demo_folder is not None:
        table_path = demo_folder / demo_mod.load_manifest(demo_folder)["files"]["confounders"]
        traits = traits or demo_mod.DEFAULT_CONFOUNDER_TRAITS
    elif confounder_table not in (None, False):
        table_path = Path(confounder_table)
        if not traits:
            raise ParameterError("a confounder table needs confounder_traits (e.g. "
                                 "'body mass index,smoking')")
    conf = {}
    if table_path is not None:
        conf = confounder_hits(read_confounder_table(table_path), final.index.tolist(), traits,
                               confounder_p)
        for s in final.index:
            if s in conf:
                parts = [f"{h['trait']} (P={h['p']:.2g})" for h in conf[s]]
                excl.append((s, "confounder", "associated with " + "; ".join(parts)
                             + f" at P < {confounder_p:g} in {Path(table_path).name}", None))
        final = final[~final.index.isin(set(conf))]
    snps = sorted(final.index, key=r_collation_key)
    if not snps:
        raise InputError("no SNP is left for the multivariable analysis after harmonisation "
                         f"({len(union)} SNPs passed the P threshold)")

    # the matrices, on the first exposure's effect allele
    k = len(srcs)
    bx, sx, pv = (np.empty((len(snps), k)) for _ in range(3))
    f0 = tsmr[0].drop_duplicates("SNP").set_index("SNP")
    bx[:, 0] = f0.loc[snps, "beta.exposure"].to_numpy(float)
    sx[:, 0] = f0.loc[snps, "se.exposure"].to_numpy(float)
    pv[:, 0] = f0.loc[snps, "pval.exposure"].to_numpy(float)
    for j in range(1, k):
        a = aligned[j]
        bx[:, j] = a.loc[snps, "beta.outcome"].to_numpy(float)
        sx[:, j] = a.loc[snps, "se.outcome"].to_numpy(float)
        pv[:, j] = a.loc[snps, "pval.outcome"].to_numpy(float)
    from ..estimators.multivariable import p_from_z

    pv = np.where(np.isnan(pv) | (pv <= 0), p_from_z(bx, sx), pv)  # P = 0 is an underflow
    exclusions = exclusions_frame(excl)
    order = {s: i for i, s in enumerate(MV_STEPS)}
    exclusions = exclusions.sort_values("step", key=lambda c: c.map(order), kind="stable")
    exclusions = exclusions.reset_index(drop=True)
    clumped_out = {e[0] for e in excl if e[1] == "clumping"}
    selection = _selection_table(union, hits, srcs, set(union["rsid"]) - clumped_out, set(snps),
                                 exclusions)
    flow = [{"step": "p_threshold", "removed": None, "remaining": int(len(union))}]
    left = int(len(union))
    at = selection["excluded_at"].value_counts().to_dict()
    for st in MV_STEPS:
        n = int(at.get(st, 0))
        left -= n
        flow.append({"step": st, "removed": n, "remaining": left})
    simulated = any(s.simulated for s in (*srcs, out_src))
    meta = {
        "layout": "data sources", "simulated": bool(simulated),
        "sources": {"exposures": [s.describe() for s in srcs], "outcome": out_src.describe()},
        "settings": {"p": p, "r2": r2, "kb": kb, "ld_ref": ld_desc, "clump_engine": engine,
                     "palindrome_action": int(palindrome_action),
                     "confounder_table": None if table_path is None else str(table_path),
                     "confounder_traits": list(traits) if table_path is not None else [],
                     "confounder_p": confounder_p, "proxies": False},
        "p_threshold_hits": {s.id: int(len(h)) for s, h in zip(srcs, hits)},
        "union": int(len(union)), "flow": flow, "final": len(snps),
        "harmonised_to": srcs[0].id, "selection": selection, "notes": [],
    }
    al = pd.DataFrame({"effect_allele": final.loc[snps, "effect_allele.exposure"].to_numpy(),
                       "other_allele": final.loc[snps, "other_allele.exposure"].to_numpy(),
                       "eaf": final.loc[snps, "eaf.exposure"].to_numpy(float)})
    return MVData(snps=snps, exposures=ids,
                  exposure_names=names or [s.trait for s in srcs], bx=bx, sx=sx, pval=pv,
                  by=final.loc[snps, "beta.outcome"].to_numpy(float),
                  sy=final.loc[snps, "se.outcome"].to_numpy(float), outcome_id=out_src.id,
                  outcome_name=out_src.trait, exclusions=exclusions, meta=meta, alleles=al)


def _selection_table(union, hits, srcs, kept_clumped, final_snps, exclusions) -> pd.DataFrame:
    """One row per SNP that passed the P threshold in any exposure: where it went."""
    first = {}
    for r in exclusions.itertuples(index=False):
        first.setdefault(r.snp, (r.step, r.reason))
    out = pd.DataFrame({"snp": union["rsid"].astype(str), "chr": union["chr"], "pos": union["pos"],
                        "min_p": union["p_eff"].astype(float)})
    for s, h in zip(srcs, hits):
        pm = dict(zip(h["rsid"].astype(str), h["p"].astype(float)))
        out[f"p.{s.id}"] = out["snp"].map(pm).astype(float)
    out["instrument_for"] = [", ".join(s.trait for s, h in zip(srcs, hits)
                                       if snp in set(h["rsid"].astype(str)))
                             for snp in out["snp"]]
    out["candidate"] = out["snp"].isin(kept_clumped)
    out["final"] = out["snp"].isin(final_snps)
    out["excluded_at"] = out["snp"].map(lambda x: first.get(x, ("", ""))[0])
    out["reason"] = out["snp"].map(lambda x: first.get(x, ("", ""))[1])
    return out
