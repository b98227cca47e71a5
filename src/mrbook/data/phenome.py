"""Data layer: a SIMULATED phenome (many exposures x outcomes with a known truth), for ``mrbook batch``.

``mrbook demo-phenome DIR`` (or :func:`generate`) writes, offline and in seconds,
what a phenome-scale MR run reads, in the real file formats, so that the batch
exercises exactly the code path of real data:

* ``ld_panel/phenome.{bed,bim,fam}``: a synthetic genome with LD blocks genotyped
  in 1,000 simulated individuals (PLINK 1 binary), the LD reference;
* ``sumstats/x01.vcf.gz`` ...: one GWAS per exposure (quantitative traits), in turn
  IEU GWAS VCF, GWAS-SSF TSV (with its ``-meta.yaml`` sample-size sidecar) and
  TwoSampleMR-format CSV;
* ``sumstats/y1.tsv.gz`` ...: one GWAS per outcome (case-control diseases), in turn
  FinnGen R5 TSV and GWAS-SSF;
* ``confounders/gwas_catalog_associations.tsv``: SNP-trait associations in the GWAS
  Catalog layout (the confounder step);
* ``manifest.csv``: every exposure-outcome pair (``exposure,outcome,exposure_name,
  outcome_name``; paths relative to the manifest), the input of ``mrbook batch``;
* ``truth.csv``: per pair, whether the exposure causes the outcome and the true
  effect ``theta`` (log odds of the outcome per unit of the exposure);
* ``phenome.json`` (seed, sizes, files, design) and ``README.txt``.

Every file says it is simulated, and ``phenome.json`` marks the folder
``"simulated": true``: ``mrbook batch`` then uses its panel and association table
as the defaults of ``ld_ref`` and ``confounder_table``. The same arguments give
byte-identical files.

Design
------
The genome, the panel and the LD blocks come from :mod:`mrbook.data.demo`
(``_build_genome``): every lead SNP sits in its own block with neighbours that
copy its haplotypes (r between 0.35 and 0.97) and unlinked SNPs, so LD clumping
at r² = 0.01 has real work. Each exposure has ``loci`` lead loci of its own, with
``F = z²`` drawn uniformly in [32, 200] (all pass P < 5e-8). Exposures are standardised
quantitative traits measured in 15,000-60,000 people (as in a protein GWAS), with
the SEs of a linear GWAS, ``1 / sqrt(2 f (1-f) N)``;
outcome SEs those of a logistic GWAS (:func:`mrbook.data.demo._se`).

About 15% of the pairs are causal (at least one per outcome), with
``|theta|`` uniform in [0.04, 0.2] and a random sign; every other pair has
``theta = 0``. Each SNP's outcome effect is ``theta * beta_exposure`` plus
normal noise with the outcome's SE. Some instruments are invalid on purpose:
about 8% carry a balanced pleiotropic effect on every outcome (heterogeneity),
two per exposure are also associated with body mass index in the association
table and carry a pleiotropic effect (the confounder step removes them), and about 5% are
palindromic with an allele frequency in 0.47-0.53 (harmonisation drops them).
Per outcome about 4% of the leads are absent from its file: half of them with
their whole LD block (no proxy), half alone (an LD proxy may replace them). In
the outcome files about 30% of the alleles are swapped and 12% of
non-palindromic SNPs are on the other strand.

None of this is real: no exposure, outcome or effect exists outside this
simulation, and the truth table is what lets a reader check what MR recovers.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ParameterError
from . import demo

#: bump when the design changes
PHENOME_VERSION = 1
#: the defaults of ``mrbook demo-phenome``
DEFAULT_EXPOSURES, DEFAULT_OUTCOMES, DEFAULT_SEED, DEFAULT_LOCI = 40, 5, 1, 50
#: file formats the exposures and outcomes take in turn
EXPOSURE_FORMATS = ("vcf", "gwas-ssf", "tsmr")
OUTCOME_FORMATS = ("finngen", "gwas-ssf")
#: the confounder trait planted in the association table (a default confounder trait
#: of :data:`mrbook.params.SCHEMA`)
CONFOUNDER_TRAIT = "Body mass index"
CAUSAL_FRACTION = 0.15
_SLOT_STEP = 150_000      # lead loci on a 150 kb grid (a locus spans at most +-40 kb)
_SLOT_JITTER = 20_000
_BACKGROUND_PER_FILE = 1500
_SUFFIX = {"vcf": ".vcf.gz", "gwas-ssf": ".tsv.gz", "tsmr": ".csv.gz", "finngen": ".tsv.gz"}


def _note(seed: int) -> str:
    return (f"SIMULATED demo phenome (mrbook demo-phenome, seed={seed}): not real data; "
            "every exposure, outcome and effect is invented")


def _check(name: str, value, lo: int, hi: int) -> int:
    try:
        v = int(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be an integer, got {value!r}") from None
    if isinstance(value, bool) or v != value or not lo <= v <= hi:
        raise ParameterError(f"{name} must be an integer from {lo} to {hi}, got {value!r}")
    return v


# --------------------------------------------------------------------------- design

def _traits(n_exp: int, n_out: int, rng) -> tuple[pd.DataFrame, pd.DataFrame]:
    w_e = max(2, len(str(n_exp)))
    exposures = pd.DataFrame({
        "id": [f"x{i + 1:0{w_e}d}" for i in range(n_exp)],
        "name": [f"Exposure {i + 1:0{w_e}d}" for i in range(n_exp)],
        "format": [EXPOSURE_FORMATS[i % len(EXPOSURE_FORMATS)] for i in range(n_exp)],
        "n": rng.integers(15_000, 60_001, n_exp),
    })
    w_o = len(str(n_out))
    ncase = rng.integers(5_000, 40_001, n_out)
    ncontrol = rng.integers(100_000, 400_001, n_out)
    outcomes = pd.DataFrame({
        "id": [f"y{i + 1:0{w_o}d}" for i in range(n_out)],
        "name": [f"Disease {i + 1:0{w_o}d}" for i in range(n_out)],
        "format": [OUTCOME_FORMATS[i % len(OUTCOME_FORMATS)] for i in range(n_out)],
        "ncase": ncase, "ncontrol": ncontrol, "n": ncase + ncontrol,
    })
    for t in (exposures, outcomes):
        t["file"] = [f"sumstats/{i}{_SUFFIX[f]}" for i, f in zip(t["id"], t["format"])]
    return exposures, outcomes


def _truth(n_exp: int, n_out: int, rng) -> np.ndarray:
    causal = rng.random((n_exp, n_out)) < CAUSAL_FRACTION
    for o in range(n_out):  # at least one causal exposure per outcome
        if not causal[:, o].any():
            causal[rng.integers(n_exp), o] = True
    theta = rng.uniform(0.04, 0.2, (n_exp, n_out)) * rng.choice([-1.0, 1.0], (n_exp, n_out))
    return np.where(causal, theta, 0.0)


def _loci(n_exp: int, loci: int, rng) -> pd.DataFrame:
    slots = []
    for c, length in enumerate(demo.CHROM_LENGTHS, start=1):
        pos = 1_000_000
        while pos < length - 1_000_000:
            slots.append((c, pos))
            pos += _SLOT_STEP
    need = n_exp * loci
    if need > len(slots):
        raise ParameterError(f"{n_exp} exposures x {loci} loci need {need} LD blocks; the "
                             f"synthetic genome has room for {len(slots)}")
    chosen = np.sort(rng.choice(len(slots), size=need, replace=False))
    order = rng.permutation(need)  # which exposure owns which block
    rows = []
    for k, si in enumerate(chosen):
        c, p = slots[si]
        rows.append({"exposure": int(order[k] % n_exp), "chr": c,
                     "pos": int(p + rng.integers(-_SLOT_JITTER, _SLOT_JITTER + 1))})
    df = pd.DataFrame(rows)
    df["role"] = "valid"
    for e in range(n_exp):
        idx = df.index[df["exposure"] == e].to_numpy()
        idx = idx[rng.permutation(len(idx))]
        n_conf = min(2, len(idx) // 10)
        n_pal = int(round(0.05 * len(idx)))
        n_pleio = int(round(0.08 * len(idx)))
        k = 0
        for role, m in (("confounder", n_conf), ("palindromic", n_pal), ("pleiotropic", n_pleio)):
            df.loc[idx[k:k + m], "role"] = role
            k += m
    df["F"] = rng.uniform(32.0, 200.0, len(df))
    df["sign"] = rng.choice([-1, 1], size=len(df))
    df["f_target"] = np.where(df["role"] == "palindromic", rng.uniform(0.47, 0.53, len(df)),
                              rng.uniform(0.1, 0.9, len(df)))
    return df


# --------------------------------------------------------------------------- writers

def _vcf(path: Path, sid: str, name: str, seed: int, n: int, rows: pd.DataFrame) -> None:
    lines = [
        "##fileformat=VCFv4.2",
        f"##SIMULATED={_note(seed)}",
        *demo.VCF_FORMAT_LINES,
        f"##META=<ID={sid},Trait=\"{name}\",Source=\"SIMULATED\">",
        f"##SAMPLE=<ID={sid},TotalVariants={len(rows)},StudyType=Continuous,"
        f"TotalControls={n}>",
    ]
    for c, length in enumerate(demo.CHROM_LENGTHS, start=1):
        lines.append(f"##contig=<ID={c},length={length},assembly=SIMULATED>")
    lines.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO",
                            "FORMAT", sid]))
    lp = demo._lp_from_z(rows["z"].to_numpy())
    f = demo._fmt
    for r, lpv in zip(rows.itertuples(index=False), lp):
        af = f(r.eaf, 5)
        lines.append(f"{r.chr}\t{r.pos}\t{r.rsid}\t{r.ref}\t{r.alt}\t.\tPASS\tAF={af}\t"
                     f"ES:SE:LP:AF:SS:ID\t{f(r.beta)}:{f(r.se)}:{f(lpv, 6)}:{af}:{n}:{r.rsid}")
    path.write_bytes(demo._gzip_bytes("\n".join(lines) + "\n"))


def _ssf(path: Path, seed: int, rows: pd.DataFrame, meta: dict) -> None:
    p = demo._p_from_z(rows["z"].to_numpy())
    f = demo._fmt
    out = ["\t".join(("chromosome", "base_pair_location", "effect_allele", "other_allele", "beta",
                      "standard_error", "effect_allele_frequency", "p_value", "rsid"))]
    for r, pv in zip(rows.itertuples(index=False), p):
        out.append(f"{r.chr}\t{r.pos}\t{r.alt}\t{r.ref}\t{f(r.beta)}\t{f(r.se)}\t{f(r.eaf, 5)}\t"
                   f"{f(pv, 6)}\t{r.rsid}")
    path.write_bytes(demo._gzip_bytes("\n".join(out) + "\n"))
    side = path.with_name(path.name[:-3] + "-meta.yaml")
    side.write_text("# " + _note(seed) + "\n" + "".join(f"{k}: {v}\n" for k, v in meta.items()))


def _tsmr(path: Path, rows: pd.DataFrame, n: int) -> None:
    p = demo._p_from_z(rows["z"].to_numpy())
    f = demo._fmt
    out = ["SNP,beta,se,effect_allele,other_allele,eaf,pval,samplesize,chr,pos"]
    for r, pv in zip(rows.itertuples(index=False), p):
        out.append(f"{r.rsid},{f(r.beta)},{f(r.se)},{r.alt},{r.ref},{f(r.eaf, 5)},{f(pv, 6)},"
                   f"{n},{r.chr},{r.pos}")
    path.write_bytes(demo._gzip_bytes("\n".join(out) + "\n"))


def _finngen(path: Path, rows: pd.DataFrame, phi: float) -> None:
    p = demo._p_from_z(rows["z"].to_numpy())
    lp = demo._lp_from_z(rows["z"].to_numpy())
    f = demo._fmt
    out = ["\t".join(["#chrom", "pos", "ref", "alt", "rsids", "nearest_genes", "pval", "mlogp",
                      "beta", "sebeta", "maf", "maf_cases", "maf_controls"])]
    for r, pv, lpv in zip(rows.itertuples(index=False), p, lp):
        d = r.beta * r.eaf * (1 - r.eaf)
        f_ctrl = min(max(r.eaf - phi * d, 0.0), 1.0)
        f_case = min(max(f_ctrl + d, 0.0), 1.0)
        out.append(f"{r.chr}\t{r.pos}\t{r.ref}\t{r.alt}\t{r.rsid}\tSIMULATED\t{f(pv, 6)}\t"
                   f"{f(lpv, 6)}\t{f(r.beta)}\t{f(r.se)}\t{f(r.eaf, 5)}\t{f(f_case, 5)}\t"
                   f"{f(f_ctrl, 5)}")
    path.write_bytes(demo._gzip_bytes("\n".join(out) + "\n"))


def _catalog(path: Path, seed: int, snps: pd.DataFrame, loci: pd.DataFrame, rng) -> None:
    note = f"SIMULATED association (mrbook demo-phenome, seed={seed}); not a real finding"
    rows = []

    def add(j: int, trait: str, p: float) -> None:
        r = snps.loc[j]
        ptxt = demo._catalog_p(p)
        row = {c: "" for c in demo.CATALOG_COLUMNS}
        row.update({
            "PUBMEDID": "0", "FIRST AUTHOR": "mrbook demo-phenome (simulated)",
            "JOURNAL": "SIMULATED", "STUDY": f"SIMULATED genome-wide association study of "
                                             f"{trait.lower()}",
            "DISEASE/TRAIT": trait, "INITIAL SAMPLE SIZE": "SIMULATED", "CHR_ID": str(r["chr"]),
            "CHR_POS": str(r["pos"]), "MAPPED_GENE": "SIMULATED",
            "STRONGEST SNP-RISK ALLELE": f"{r['rsid']}-{r['alt']}", "SNPS": r["rsid"],
            "RISK ALLELE FREQUENCY": demo._fmt(float(r["eaf"]), 2), "P-VALUE": ptxt,
            "PVALUE_MLOG": demo._fmt(-math.log10(float(ptxt)), 6),
            "MAPPED_TRAIT": demo._MAPPED[trait], "STUDY ACCESSION": "SIMULATED",
            "GENOTYPING TECHNOLOGY": "SIMULATED", "NOTE": note})
        rows.append(row)

    for j in loci.loc[loci["role"] == "confounder", "row"]:
        add(int(j), CONFOUNDER_TRAIT, float(10 ** -rng.uniform(8.5, 30)))
    valid = loci.loc[loci["role"] == "valid", "row"].to_numpy()
    for j in rng.choice(valid, size=min(len(valid), 10), replace=False):
        add(int(j), "Height", float(10 ** -rng.uniform(8.5, 30)))  # not a confounder trait
    rows.sort(key=lambda r: (int(r["CHR_ID"]), int(r["CHR_POS"]), r["DISEASE/TRAIT"]))
    text = ["\t".join(demo.CATALOG_COLUMNS)]
    text += ["\t".join(r[c] for c in demo.CATALOG_COLUMNS) for r in rows]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- generate

def generate(outdir: str | Path, exposures: int = DEFAULT_EXPOSURES,
             outcomes: int = DEFAULT_OUTCOMES, seed: int = DEFAULT_SEED,
             loci: int = DEFAULT_LOCI) -> dict[str, Path]:
    """Write a SIMULATED phenome of ``exposures`` x ``outcomes`` pairs into ``outdir``.

    Parameters
    ----------
    outdir : str or Path
        Folder to write (created if missing). The files are written in a hidden
        folder inside it and then moved to their places, so an error leaves no
        half-written phenome; other files in the folder are left alone (a file of
        a previous phenome is replaced).
    exposures, outcomes : int
        Numbers of exposure and outcome GWAS (1-2000 and 1-100).
    seed : int
        Seed of every random draw (``numpy.random.default_rng(seed)``); the same
        arguments give byte-identical files.
    loci : int
        Lead loci (independent instruments) per exposure (3-200).

    Returns
    -------
    dict of str to Path
        ``manifest``, ``truth``, ``phenome`` (phenome.json), ``readme``, ``panel``
        (the PLINK prefix) and ``confounders``.

    Notes
    -----
    The design is described in the module docstring; ``truth.csv`` has one row
    per pair: ``exposure``, ``outcome`` (the manifest's paths), ``id_exposure``,
    ``id_outcome``, ``exposure_name``, ``outcome_name``, ``causal`` and ``theta``.

    Examples
    --------
    >>> paths = generate("phenome", exposures=4, outcomes=2)  # doctest: +SKIP
    >>> import pandas as pd; len(pd.read_csv(paths["manifest"]))  # doctest: +SKIP
    8
    """
    n_exp = _check("exposures", exposures, 1, 2000)
    n_out = _check("outcomes", outcomes, 1, 100)
    loci = _check("loci", loci, 3, 200)
    seed = _check("seed", seed, 0, 2**63 - 1)
    from ..errors import OutputError
    from ..output import check_output_dir, make_dirs, new_dir_mode, os_reason, remove_dirs

    outdir = Path(outdir)
    check_output_dir(outdir, what="phenome folder")  # a file of that name: refused, untouched
    created = make_dirs(outdir)  # removed again if the phenome cannot be written
    # written in a hidden folder inside outdir, then every file is moved to its place: an
    # error leaves no half-written phenome, and the folder's other files are never touched
    try:
        with tempfile.TemporaryDirectory(prefix=".mrbook-phenome-", dir=outdir) as tmp:
            tmp = Path(tmp)
            paths = _generate(tmp, n_exp, n_out, seed, loci)
            demo._check_destinations(tmp, outdir)
            for f in sorted(q for q in tmp.rglob("*") if q.is_file()):
                dest = outdir / f.relative_to(tmp)
                dest.parent.mkdir(parents=True, exist_ok=True, mode=new_dir_mode())
                os.replace(f, dest)
            return {k: outdir / Path(v).relative_to(tmp) for k, v in paths.items()}
    except OSError as exc:
        remove_dirs(created)
        raise OutputError(f"cannot write the phenome ({os_reason(exc)})", outdir) from None
    except BaseException:
        remove_dirs(created)
        raise


def _generate(tmp: Path, n_exp: int, n_out: int, seed: int, loci: int) -> dict[str, Path]:
    rng = np.random.default_rng(seed)
    exps, outs = _traits(n_exp, n_out, rng)
    theta = _truth(n_exp, n_out, rng)
    locus = _loci(n_exp, loci, rng)
    genome = demo._build_genome(locus, rng)
    snps, haps = genome.snps, genome.haps
    m = len(snps)
    kind = snps["kind"].to_numpy()
    snp_locus = snps["locus"].to_numpy()
    lead_rows = np.flatnonzero(kind == "lead")
    lead_of = dict(zip(snp_locus[lead_rows], lead_rows))
    locus["row"] = [lead_of[i] for i in locus.index]
    locus["rsid"] = snps["rsid"].to_numpy()[locus["row"].to_numpy()]

    # alleles: palindromic leads where planted, 15% of the other SNPs
    is_pal = rng.random(m) < np.where(kind == "lead", 0.0, 0.15)
    is_pal[locus.loc[locus["role"] == "palindromic", "row"].to_numpy()] = True
    pick_np = rng.integers(0, len(demo._NONPAL), m)
    pick_p = rng.integers(0, len(demo._PAL), m)
    alleles = [demo._PAL[pick_p[i]] if is_pal[i] else demo._NONPAL[pick_np[i]] for i in range(m)]
    snps["ref"] = [a[0] for a in alleles]
    snps["alt"] = [a[1] for a in alleles]
    alt_count = (haps[0::2] + haps[1::2]).T  # (m, N)
    eaf = np.clip(alt_count.sum(axis=1) / (2.0 * demo.N_INDIVIDUALS) + rng.normal(0, 0.004, m),
                  0.005, 0.995)
    pal_rows = locus.loc[locus["role"] == "palindromic", "row"].to_numpy()
    eaf[pal_rows] = np.clip(eaf[pal_rows], 0.47, 0.53)
    snps["eaf"] = eaf

    # exposures: z of each exposure's own loci (lead sqrt(F), neighbours r * z_lead)
    r_lead = snps["r_lead"].to_numpy()
    owner = np.full(m, -1)
    has_locus = snp_locus >= 0
    owner[has_locus] = locus["exposure"].to_numpy()[snp_locus[has_locus]]
    z_lead = (locus["sign"] * np.sqrt(locus["F"])).to_numpy()
    z_x = np.clip(rng.normal(0.0, 1.0, m), -4.2, 4.2)
    nb = kind == "neighbour"
    zl = np.zeros(m)
    zl[has_locus] = z_lead[snp_locus[has_locus]]
    z_x[kind == "lead"] = zl[kind == "lead"]
    cap = np.abs(zl) - 0.25
    z_x[nb] = np.clip(r_lead[nb] * zl[nb] + rng.normal(0.0, 0.25, int(nb.sum())), -cap[nb], cap[nb])
    background = np.flatnonzero(kind == "background")
    jitter_x = rng.uniform(0.98, 1.06, m)

    def se_x(e: int) -> np.ndarray:
        return jitter_x / np.sqrt(2.0 * np.clip(eaf, 0.01, 0.99) * (1 - np.clip(eaf, 0.01, 0.99))
                                  * float(exps.at[e, "n"]))

    # the exposure effect of every locus SNP on its own exposure (the causal path)
    beta_own = np.zeros(m)
    for e in range(n_exp):
        own = owner == e
        beta_own[own] = z_x[own] * se_x(e)[own]

    # pleiotropic effects (per SNP, shared by every outcome in proportion to its SE)
    roles = np.full(m, "", dtype=object)
    roles[has_locus] = locus["role"].to_numpy()[snp_locus[has_locus]]
    invalid = np.isin(roles, ["pleiotropic", "confounder"]) & (kind != "unlinked")
    pleio_z = np.zeros(m)
    lead_pleio = rng.choice([-1.0, 1.0], len(locus)) * rng.uniform(2.5, 4.0, len(locus))
    pleio_z[invalid] = lead_pleio[snp_locus[invalid]] * np.where(kind[invalid] == "lead", 1.0,
                                                                  r_lead[invalid])

    note = _note(seed)
    for sub in ("ld_panel", "sumstats", "confounders"):
        (tmp / sub).mkdir()
    prefix = tmp / "ld_panel" / "phenome"
    from .ld import write_panel

    bim = pd.DataFrame({"chr": snps["chr"], "rsid": snps["rsid"], "cm": 0, "pos": snps["pos"],
                        "a1": snps["alt"], "a2": snps["ref"]})
    fam = pd.DataFrame({"fid": "SIMULATED", "iid": [f"sim{i + 1:04d}" for i in
                                                    range(demo.N_INDIVIDUALS)],
                        "pat": "0", "mat": "0", "sex": [1 + (i % 2) for i in
                                                        range(demo.N_INDIVIDUALS)], "pheno": -9})
    write_panel(prefix, (2 - alt_count).astype(np.int8), bim, fam)
    paths: dict[str, Path] = {"panel": prefix}

    base = snps[["rsid", "chr", "pos", "ref", "alt", "eaf"]]
    for e in range(n_exp):
        own = np.flatnonzero(owner == e)
        bg = np.sort(rng.choice(background, size=min(_BACKGROUND_PER_FILE, len(background)),
                                replace=False))
        rows_idx = np.union1d(own, bg)
        se = se_x(e)[rows_idx]
        rows = base.iloc[rows_idx].assign(z=z_x[rows_idx], se=se, beta=z_x[rows_idx] * se)
        info = exps.iloc[e]
        path = tmp / info["file"]
        if info["format"] == "vcf":
            _vcf(path, info["id"], info["name"], seed, int(info["n"]), rows)
        elif info["format"] == "gwas-ssf":
            _ssf(path, seed, rows, {"trait_description": info["name"],
                                    "sample_size": int(info["n"]), "is_simulated": "true"})
        else:
            _tsmr(path, rows, int(info["n"]))

    lead_block = locus["row"].to_numpy()
    for o in range(n_out):
        info = outs.iloc[o]
        se_y = demo._se(eaf, int(info["n"]), int(info["ncase"]), rng.uniform(0.98, 1.06, m))
        beta = (beta_own * theta[np.clip(owner, 0, None), o] * (owner >= 0)
                + (pleio_z + rng.normal(0.0, 1.0, m)) * se_y)
        keep = np.ones(m, dtype=bool)
        miss = rng.choice(len(locus), size=max(1, int(round(0.04 * len(locus)))), replace=False)
        for k, li in enumerate(miss):
            if k % 2 == 0:
                keep[snp_locus == li] = False          # the whole block: no proxy
            else:
                keep[lead_block[li]] = False           # the lead only: a proxy may exist
        swap = rng.random(m) < 0.30
        flip = (rng.random(m) < 0.12) & ~is_pal
        ref, alt = snps["ref"].to_numpy().copy(), snps["alt"].to_numpy().copy()
        b, f = beta.copy(), eaf.copy()
        ref[swap], alt[swap] = alt[swap], snps["ref"].to_numpy()[swap]
        b[swap], f[swap] = -b[swap], 1.0 - f[swap]
        comp = np.vectorize(demo._COMPLEMENT.get, otypes=[object])
        if flip.any():
            ref[flip], alt[flip] = comp(ref[flip]), comp(alt[flip])
        rows = pd.DataFrame({"rsid": snps["rsid"], "chr": snps["chr"], "pos": snps["pos"],
                             "ref": ref, "alt": alt, "eaf": f, "beta": b, "se": se_y,
                             "z": b / se_y})[keep]
        path = tmp / info["file"]
        if info["format"] == "finngen":
            _finngen(path, rows, float(info["ncase"]) / float(info["n"]))
        else:
            _ssf(path, seed, rows, {"trait_description": info["name"],
                                    "sample_size": int(info["n"]),
                                    "case_count": int(info["ncase"]),
                                    "control_count": int(info["ncontrol"]),
                                    "is_simulated": "true"})

    cat = tmp / "confounders" / "gwas_catalog_associations.tsv"
    _catalog(cat, seed, snps, locus, np.random.default_rng([seed, 1]))
    paths["confounders"] = cat

    # manifest and truth: every exposure x outcome pair
    pairs = [(e, o) for o in range(n_out) for e in range(n_exp)]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["exposure", "outcome", "exposure_name", "outcome_name"])
    for e, o in pairs:
        w.writerow([exps.at[e, "file"], outs.at[o, "file"], exps.at[e, "name"], outs.at[o, "name"]])
    (tmp / "manifest.csv").write_text(buf.getvalue())
    paths["manifest"] = tmp / "manifest.csv"
    truth = pd.DataFrame({
        "exposure": [exps.at[e, "file"] for e, _ in pairs],
        "outcome": [outs.at[o, "file"] for _, o in pairs],
        "id_exposure": [exps.at[e, "id"] for e, _ in pairs],
        "id_outcome": [outs.at[o, "id"] for _, o in pairs],
        "exposure_name": [exps.at[e, "name"] for e, _ in pairs],
        "outcome_name": [outs.at[o, "name"] for _, o in pairs],
        "causal": [bool(theta[e, o] != 0) for e, o in pairs],
        "theta": [float(theta[e, o]) for e, o in pairs],
    })
    truth.to_csv(tmp / "truth.csv", index=False, float_format="%.6g")
    paths["truth"] = tmp / "truth.csv"

    meta = {
        "simulated": True, "note": note, "generator": "mrbook demo-phenome",
        "phenome_version": PHENOME_VERSION, "seed": seed, "exposures": n_exp,
        "outcomes": n_out, "loci_per_exposure": loci, "pairs": len(pairs),
        "causal_pairs": int((theta != 0).sum()), "n_snps": int(m),
        "n_individuals": demo.N_INDIVIDUALS,
        "files": {"panel": "ld_panel/phenome", "confounders": str(cat.relative_to(tmp)),
                  "manifest": "manifest.csv", "truth": "truth.csv"},
        "confounder_traits": [CONFOUNDER_TRAIT.lower()],
        "exposure_traits": exps[["id", "name", "format", "file", "n"]].astype(
            {"n": int}).to_dict("records"),
        "outcome_traits": outs[["id", "name", "format", "file", "ncase", "ncontrol", "n"]].astype(
            {"ncase": int, "ncontrol": int, "n": int}).to_dict("records"),
    }
    (tmp / "phenome.json").write_text(json.dumps(meta, indent=2, default=int) + "\n")
    paths["phenome"] = tmp / "phenome.json"
    readme = [
        "SIMULATED DEMO PHENOME - NOT REAL DATA", "=" * 38, "", note, "",
        f"{n_exp} exposures x {n_out} outcomes = {len(pairs)} pairs, {int((theta != 0).sum())} "
        f"of them causal (truth.csv); {loci} lead loci per exposure; {m} SNPs in the panel of "
        f"{demo.N_INDIVIDUALS} simulated individuals.", "",
        "Run:  mrbook batch manifest.csv --out results/", "",
        "ld_panel/phenome.*  PLINK LD reference (the batch's default ld_ref for this folder)",
        "sumstats/           exposure GWAS (VCF, GWAS-SSF, TwoSampleMR CSV) and outcome GWAS "
        "(FinnGen, GWAS-SSF)",
        "confounders/        GWAS Catalog-style association table (confounder: "
        f"{CONFOUNDER_TRAIT.lower()})",
        "manifest.csv        the exposure-outcome pairs (paths relative to this folder)",
        "truth.csv           which pairs are causal, and their true effect theta", "",
        f"Re-create: mrbook demo-phenome DIR --exposures {n_exp} --outcomes {n_out} "
        f"--seed {seed}" + (f" --loci {loci}" if loci != DEFAULT_LOCI else ""), ""]
    (tmp / "README.txt").write_text("\n".join(readme))
    paths["readme"] = tmp / "README.txt"
    return paths


def load_phenome(folder: str | Path) -> dict | None:
    """The ``phenome.json`` of a folder written by :func:`generate`, or None if there is none."""
    path = Path(folder) / "phenome.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("generator") != "mrbook demo-phenome":
        return None
    return meta
