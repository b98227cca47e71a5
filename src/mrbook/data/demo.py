"""Data layer: the offline demo study, a SIMULATED mirror of Li et al. (2024), generated from a seed.

``mrbook demo-data OUTDIR`` (or :func:`generate`) writes, in seconds, everything a
real run of the study reads, in the real formats, so that the demo exercises
exactly the code path of a real analysis:

* ``ld_panel/demo_eur.{bed,bim,fam}``: a synthetic genome (22 autosomes, a few
  thousand SNPs each, LD blocks) genotyped in 1,000 simulated individuals, PLINK 1
  binary SNP-major (the LD reference for clumping and proxies);
* ``sumstats/hypothyroidism.vcf.gz``, ``hyperthyroidism.vcf.gz``,
  ``hashimoto.vcf.gz``: the three thyroid exposures as IEU GWAS VCF (OpenGWAS's
  download format, FORMAT ``ES:SE:LP:AF:SS:ID``);
* ``sumstats/osteoporosis.tsv.gz``: the outcome as a FinnGen R5 file;
* ``confounders/gwas_catalog_associations.tsv``: SNP-trait associations in the GWAS
  Catalog "associations" TSV layout (the PhenoScanner step of the paper);
* ``manifest.json`` (seed, traits, the design: which lead SNP plays which role) and
  ``README.txt``.

Every file says it is simulated (a ``##SIMULATED`` VCF header line, the
``nearest_genes`` column of the FinnGen file, ``SIMULATED`` sample family IDs in
the ``.fam``, a ``NOTE`` column in the association table, a README in every
folder) and records the seed. The same seed gives byte-identical files.

Design (SPEC section 4)
-----------------------
Traits, N and case/control counts are those of the study (:data:`TRAITS`). Each
trait has as many independent lead loci as the study's candidate count
(90/20/18 thyroid, 22 osteoporosis), each in its own LD block, and loci are at
least 10.1 Mb apart, so no two leads share a 10,000 kb clumping window. Every
locus has neighbours whose panel haplotypes copy the lead's (r between 0.35 and
0.97, some in negative phase); their z-scores are ``r * z_lead`` (+ small noise)
so the strong loci put several SNPs below P = 5e-8, which clumping at r² = 0.01
removes. Background SNPs have ``|z| <= 4.2`` (never significant). Lead z-scores are
drawn so that F = z² spans the published range exactly (the smallest and the
largest final instrument sit 0.002 inside the published bounds).

Standard errors follow a logistic GWAS: ``se = 1 / sqrt(2 f (1-f) N phi (1-phi))``
(phi the case fraction), times a per-SNP factor in [0.98, 1.06].

Outcome (osteoporosis) associations of the final instruments follow
``beta_out = theta * beta_exp + e``, ``e ~ N(0, se_out²)`` drawn independently per
SNP, with ``theta`` the published ln OR (0.0926, 0.0853, 0.1740) as the planted
truth and ``se_out`` the outcome GWAS's standard error of that SNP (SPEC section
4). Nothing is tuned after the draw, so the demo's estimates differ from the
planted truth by ordinary sampling error: the IVW estimate is ``theta`` plus an
error of standard deviation ``se_fixed = 1 / sqrt(sum beta_exp² / se_out²)``,
Cochran's Q and the MR-Egger intercept are whatever the draw gives. The lead F
statistics are chosen so that ``se_fixed`` is close to the published IVW SE
(0.0386, 0.0435, 0.0618; up to the per-SNP SE factors it is 0.0386, 0.0422 and
0.0625 at the default seed), which the F ranges allow. Osteoporosis has
no effect on the thyroid traits: at the osteoporosis instruments the thyroid
associations are pure noise ``N(0, se²)`` (truncated at |z| = 4.2 like every
background SNP). Agreement of the demo's estimates with the paper therefore shows
only that the software recovers a planted effect to within sampling error; it is
no evidence of anything about thyroid disease.

Per forward exposure, the listed number of leads is absent from the outcome file
together with their whole LD block (so no LD proxy with r² >= 0.8 exists); the
study's palindromic rsIDs are A/T or C/G SNPs with allele frequency in 0.45-0.55
(inside TwoSampleMR's ambiguous band 0.42-0.58, so ``action = 2`` drops them); the
confounder SNPs are associated in the association table with a confounder of
osteoporosis (:data:`DEFAULT_CONFOUNDER_TRAITS`) at P < 5e-8 and carry a
pleiotropic effect on osteoporosis. Decoy rows test the rules: final instruments
associated with non-confounder traits or with a confounder at 5e-8 < P, and
confounder associations of SNPs already dropped at an earlier step. In the
outcome file about 30% of the alleles are swapped (ref/alt exchanged, beta and
frequency flipped) and about 12% of non-palindromic SNPs are on the other strand,
so harmonisation has real work.

Non-listed SNPs are named ``rs9CCNNNNNNN`` (10 digits after ``rs``: above every
rsID dbSNP has issued, so they cannot collide with a real rsID).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special

from ..errors import ParameterError
from ..output import new_dir_mode

#: Seed of the published demo (``mrbook demo-data`` without ``--seed``).
DEFAULT_SEED = 20241010
#: Bump when the design changes: cached demo folders of another version are rebuilt.
DEMO_VERSION = 2
N_INDIVIDUALS = 1000

#: The four traits of SPEC section 1 (names, sample sizes, the OpenGWAS study mirrored).
TRAITS: dict[str, dict] = {
    "hypothyroidism": dict(trait="Hypothyroidism", id="demo-hypothyroidism",
                           mirrors="ebi-a-GCST90018862", ncase=30155, ncontrol=379986,
                           n=410141, source="Sakaue 2021 (PMID 34594039), European",
                           format="vcf", file="sumstats/hypothyroidism.vcf.gz"),
    "hyperthyroidism": dict(trait="Hyperthyroidism", id="demo-hyperthyroidism",
                            mirrors="ebi-a-GCST90018860", ncase=3557, ncontrol=456942,
                            n=460499, source="Sakaue 2021 (PMID 34594039), European",
                            format="vcf", file="sumstats/hyperthyroidism.vcf.gz"),
    "hashimoto": dict(trait="Hashimoto thyroiditis", id="demo-hashimoto",
                      mirrors="ebi-a-GCST90018855", ncase=15654, ncontrol=379986,
                      n=395640, source="Sakaue 2021 (PMID 34594039), European",
                      format="vcf", file="sumstats/hashimoto.vcf.gz"),
    "osteoporosis": dict(trait="Osteoporosis", id="demo-osteoporosis",
                         mirrors="finn-b-M13_OSTEOPOROSIS", ncase=3203, ncontrol=209575,
                         n=212778, source="FinnGen R5 (2021)",
                         format="finngen", file="sumstats/osteoporosis.tsv.gz"),
}
THYROID = ("hypothyroidism", "hyperthyroidism", "hashimoto")
OUTCOME = "osteoporosis"

#: Per-trait design reproducing SPEC section 1's instrument table.
DESIGN: dict[str, dict] = {
    "hypothyroidism": dict(
        candidates=90, missing=4, confounder=9, final=69, f_range=(31.17, 124.85),
        theta=0.0926, se_published=0.0386,
        palindromic=["rs148844907", "rs187707293", "rs2114702", "rs2921053", "rs3118469",
                     "rs34536443", "rs41444548", "rs9265699"],
        confounders=["Body mass index"] * 4 + ["Smoking initiation"] * 2
        + ["Vitamin D levels", "Type 2 diabetes", "Rheumatoid arthritis"]),
    "hyperthyroidism": dict(
        candidates=20, missing=2, confounder=0, final=15, f_range=(30.37, 194.78),
        theta=0.0853, se_published=0.0435,
        palindromic=["rs12662112", "rs385863", "rs56401801"], confounders=[]),
    "hashimoto": dict(
        candidates=18, missing=1, confounder=3, final=10, f_range=(32.38, 173.77),
        theta=0.1740, se_published=0.0618,
        palindromic=["rs1993945", "rs2072109", "rs757024", "rs7754251"],
        confounders=["Rheumatoid arthritis", "Body mass index", "Vitamin D levels"]),
    "osteoporosis": dict(
        candidates=22, missing=0, confounder=0, final=22, f_range=(31.0, 90.0),
        theta=0.0, se_published=None, palindromic=[], confounders=[]),
}

#: Confounders of osteoporosis planted in the association table; the default of
#: ``select_instruments(confounder_traits=...)`` for demo sources. A table row
#: matches when one of these is a case-insensitive substring of its DISEASE/TRAIT
#: or MAPPED_TRAIT.
DEFAULT_CONFOUNDER_TRAITS = ("body mass index", "smoking", "vitamin d", "type 2 diabetes",
                             "rheumatoid arthritis")

_MAPPED = {
    "Body mass index": "body mass index",
    "Smoking initiation": "smoking initiation",
    "Vitamin D levels": "vitamin D measurement",
    "Type 2 diabetes": "type 2 diabetes mellitus",
    "Rheumatoid arthritis": "rheumatoid arthritis",
    "Height": "body height",
    "Hypothyroidism": "hypothyroidism",
    "Free thyroxine concentration": "thyroxine measurement",
    "Heel bone mineral density": "heel bone mineral density",
}

#: GRCh37 autosome lengths (bp): the synthetic genome keeps their scale.
CHROM_LENGTHS = [249250621, 243199373, 198022430, 191154276, 180915260, 171115067,
                 159138663, 146364022, 141213431, 135534747, 135006516, 133851895,
                 115169878, 107349540, 102531392, 90354753, 81195210, 78077248,
                 59128983, 63025520, 48129895, 51304566]

_SLOT_STEP = 11_000_000   # loci sit on an 11 Mb grid ...
_SLOT_JITTER = 400_000    # ... jittered by <= 0.4 Mb: >= 10.2 Mb apart
_REGION = 100_000         # a locus's own region (no background SNPs inside)
_NONPAL = [("A", "C"), ("C", "A"), ("A", "G"), ("G", "A"), ("C", "T"), ("T", "C"),
           ("G", "T"), ("T", "G")]
_PAL = [("A", "T"), ("T", "A"), ("C", "G"), ("G", "C")]
_COMPLEMENT = {"A": "T", "T": "A", "C": "G", "G": "C"}

CATALOG_COLUMNS = [
    "DATE ADDED TO CATALOG", "PUBMEDID", "FIRST AUTHOR", "DATE", "JOURNAL", "LINK", "STUDY",
    "DISEASE/TRAIT", "INITIAL SAMPLE SIZE", "REPLICATION SAMPLE SIZE", "REGION", "CHR_ID",
    "CHR_POS", "REPORTED GENE(S)", "MAPPED_GENE", "UPSTREAM_GENE_ID", "DOWNSTREAM_GENE_ID",
    "SNP_GENE_IDS", "UPSTREAM_GENE_DISTANCE", "DOWNSTREAM_GENE_DISTANCE",
    "STRONGEST SNP-RISK ALLELE", "SNPS", "MERGED", "SNP_ID_CURRENT", "CONTEXT", "INTERGENIC",
    "RISK ALLELE FREQUENCY", "P-VALUE", "PVALUE_MLOG", "P-VALUE (TEXT)", "OR or BETA",
    "95% CI (TEXT)", "PLATFORM [SNPS PASSING QC]", "CNV", "MAPPED_TRAIT", "MAPPED_TRAIT_URI",
    "STUDY ACCESSION", "GENOTYPING TECHNOLOGY", "NOTE"]


# --------------------------------------------------------------------------- helpers

def _fmt(x: float, digits: int = 7) -> str:
    return f"{x:.{digits}g}"


def _p_from_z(z: np.ndarray) -> np.ndarray:
    return 2.0 * special.ndtr(-np.abs(z))


def _lp_from_z(z: np.ndarray) -> np.ndarray:
    return -(math.log(2.0) + special.log_ndtr(-np.abs(z))) / math.log(10.0)


def _se(f: np.ndarray, n: int, ncase: int, jitter: np.ndarray) -> np.ndarray:
    phi = ncase / n
    ff = np.clip(f, 0.01, 0.99)
    return jitter / np.sqrt(2.0 * ff * (1.0 - ff) * n * phi * (1.0 - phi))


def _gzip_bytes(text: str) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=4) as gz:
        gz.write(text.encode("utf-8"))
    return buf.getvalue()


def _catalog_p(p: float) -> str:
    """GWAS Catalog style P-VALUE text: one-digit mantissa, e.g. ``4E-12``."""
    e = math.floor(math.log10(p))
    m = int(round(p / 10 ** e))
    if m == 10:
        m, e = 1, e + 1
    return f"{m}E{e}"


def _solve_f(lo: float, hi: float, k: int, target_sum: float, rng) -> np.ndarray:
    """k F values in [lo, hi], the extremes 0.002 inside, summing to ~target_sum."""
    d = 0.002
    if k == 1:
        return np.array([lo + d])
    u = np.sort(rng.uniform(0.0, 1.0, k - 2))
    base = (lo + d) + (hi - d)
    lo_sum, hi_sum = base + (k - 2) * (lo + d), base + (k - 2) * (hi - d)
    target = min(max(target_sum, lo_sum + 1e-6 * (k - 2)), hi_sum - 1e-6 * (k - 2))

    def vals(g):
        return (lo + d) + (hi - lo - 2 * d) * u ** g

    a, b = 1e-3, 1e3  # sum decreases in g
    for _ in range(200):
        g = math.sqrt(a * b)
        if vals(g).sum() + base > target:
            a = g
        else:
            b = g
    mid = vals(math.sqrt(a * b))
    out = np.concatenate([[lo + d, hi - d], mid])
    return out[rng.permutation(k)]


# --------------------------------------------------------------------------- genome

def _slots(rng) -> list[tuple[int, int]]:
    out = []
    for c, length in enumerate(CHROM_LENGTHS, start=1):
        pos = 3_000_000
        while pos < length - 3_000_000:
            out.append((c, pos))
            pos += _SLOT_STEP
    return out


def _background_haps(m: int, rng) -> np.ndarray:
    """(2N, m) ALT indicators for m background SNPs in consecutive LD blocks."""
    n_h = 2 * N_INDIVIDUALS
    out = np.empty((n_h, m), dtype=np.int8)
    i = 0
    while i < m:
        size = int(min(rng.integers(4, 30), m - i))
        k = int(rng.integers(2, 7))
        f = rng.uniform(0.03, 0.97, size)
        templ = (rng.random((k, size)) < f).astype(np.int8)
        weights = rng.dirichlet(np.ones(k))
        assign = rng.choice(k, size=n_h, p=weights)
        mu = rng.uniform(0.01, 0.10)
        h = templ[assign] ^ (rng.random((n_h, size), dtype=np.float32) < mu).astype(np.int8)
        cnt = h.sum(axis=0)
        bad = (cnt < 20) | (cnt > n_h - 20)
        if bad.any():
            h[:, bad] = (rng.random((n_h, int(bad.sum()))) < rng.uniform(0.05, 0.95, int(bad.sum())))
        out[:, i:i + size] = h
        i += size
    return out


class _Genome:
    """SNP table (one row per SNP, position order) and (2N, M) ALT haplotypes."""

    def __init__(self, snps: pd.DataFrame, haps: np.ndarray):
        self.snps = snps
        self.haps = haps


def _build_genome(loci: pd.DataFrame, rng) -> _Genome:
    n_h = 2 * N_INDIVIDUALS
    frames, hap_blocks = [], []
    for c, length in enumerate(CHROM_LENGTHS, start=1):
        here = loci[loci["chr"] == c].sort_values("pos")
        n_bg = 1000 + 8 * (length // 1_000_000)
        draws = np.unique(rng.integers(10_000, length - 10_000, size=n_bg + n_bg // 10))
        pos = np.sort(rng.choice(draws, size=n_bg, replace=False))
        keep = np.ones(len(pos), dtype=bool)
        for p in here["pos"]:
            keep &= np.abs(pos - p) > _REGION
        pos = pos[keep]
        bg = _background_haps(len(pos), rng)
        rows = [pd.DataFrame({"chr": c, "pos": pos, "locus": -1, "kind": "background",
                              "r_lead": 0.0})]
        haps = [bg]
        for li, lr in here.iterrows():
            lead_f = lr["f_target"]
            lead = (rng.random(n_h) < lead_f).astype(np.int8)
            n_nb = int(rng.integers(3, 11))
            offs = rng.choice(np.arange(1_000, 40_000, 137), size=n_nb + 4, replace=False)
            offs = offs * rng.choice([-1, 1], size=len(offs))
            cols, kinds = [lead], ["lead"]
            for j in range(n_nb):
                c_copy = rng.uniform(0.35, 0.97)
                other = (rng.random(n_h) < np.clip(lead_f + rng.normal(0, 0.05), 0.05, 0.95))
                copy = rng.random(n_h) < c_copy
                h = np.where(copy, lead, other).astype(np.int8)
                if rng.random() < 0.25:
                    h = (1 - h).astype(np.int8)
                cols.append(h)
                kinds.append("neighbour")
            for j in range(4):  # unlinked SNPs in the region
                cols.append((rng.random(n_h) < rng.uniform(0.05, 0.95)).astype(np.int8))
                kinds.append("unlinked")
            H = np.column_stack(cols)
            r = np.array([np.corrcoef(H[:, 0], H[:, j])[0, 1] for j in range(H.shape[1])])
            lpos = np.concatenate([[lr["pos"]], lr["pos"] + offs[: n_nb + 4]])
            rows.append(pd.DataFrame({"chr": c, "pos": lpos, "locus": li, "kind": kinds,
                                      "r_lead": r}))
            haps.append(H)
        df = pd.concat(rows, ignore_index=True)
        H = np.concatenate(haps, axis=1)
        order = np.argsort(df["pos"].to_numpy(), kind="stable")
        df = df.iloc[order].reset_index(drop=True)
        H = H[:, order]
        if df["pos"].duplicated().any():  # vanishingly rare: shift duplicates by 1 bp
            while df["pos"].duplicated().any():
                d = df["pos"].duplicated()
                df.loc[d, "pos"] += 1
            order = np.argsort(df["pos"].to_numpy(), kind="stable")
            df = df.iloc[order].reset_index(drop=True)
            H = H[:, order]
        frames.append(df)
        hap_blocks.append(H)
    snps = pd.concat(frames, ignore_index=True)
    haps = np.concatenate(hap_blocks, axis=1)
    serial = snps.groupby("chr").cumcount() + 1
    snps["rsid"] = [f"rs9{c:02d}{s:07d}" for c, s in zip(snps["chr"], serial)]
    return _Genome(snps, haps)


# --------------------------------------------------------------------------- design

def _design_loci(rng) -> pd.DataFrame:
    slots = _slots(rng)
    traits = [t for t in (*THYROID, OUTCOME) for _ in range(DESIGN[t]["candidates"])]
    chosen = rng.choice(len(slots), size=len(traits), replace=False)
    rows = []
    for t, si in zip(traits, chosen):
        c, p = slots[si]
        rows.append({"trait": t, "chr": c,
                     "pos": int(p + rng.integers(-_SLOT_JITTER, _SLOT_JITTER + 1))})
    loci = pd.DataFrame(rows)
    loci["role"] = "final"
    loci["listed_rsid"] = None
    loci["confounder_trait"] = None
    loci["F"] = np.nan
    loci["sign"] = rng.choice([-1, 1], size=len(loci))
    for t in (*THYROID, OUTCOME):
        d = DESIGN[t]
        idx = loci.index[loci["trait"] == t].to_numpy()
        idx = idx[rng.permutation(len(idx))]
        k = 0
        for _ in range(d["missing"]):
            loci.at[idx[k], "role"] = "missing"
            k += 1
        for rs in d["palindromic"]:
            loci.at[idx[k], "role"] = "palindromic"
            loci.at[idx[k], "listed_rsid"] = rs
            k += 1
        for ct in d["confounders"]:
            loci.at[idx[k], "role"] = "confounder"
            loci.at[idx[k], "confounder_trait"] = ct
            k += 1
        final = idx[k:]
        assert len(final) == d["final"], t
        lo, hi = d["f_range"]
        removed = idx[:k]
        loci.loc[removed, "F"] = rng.uniform(lo + 0.01, hi - 0.01, len(removed))
        if t == OUTCOME:
            loci.loc[final, "F"] = rng.uniform(lo, hi, len(final))
        else:
            n_x = TRAITS[t]["n"]
            phi_x = TRAITS[t]["ncase"] / n_x
            n_y = TRAITS[OUTCOME]["n"]
            phi_y = TRAITS[OUTCOME]["ncase"] / n_y
            ratio = (n_y * phi_y * (1 - phi_y)) / (n_x * phi_x * (1 - phi_x))
            target = 1.0 / (d["se_published"] ** 2 * ratio)  # se_fixed = published SE
            loci.loc[final, "F"] = _solve_f(lo, hi, len(final), target, rng)
    loci["f_target"] = np.where(loci["role"] == "palindromic",
                                rng.uniform(0.47, 0.53, len(loci)),
                                rng.uniform(0.12, 0.88, len(loci)))
    return loci


# --------------------------------------------------------------------------- generate

def generate(outdir: str | Path, seed: int = DEFAULT_SEED) -> dict[str, Path]:
    """Write the SIMULATED demo study into ``outdir``.

    Parameters
    ----------
    outdir : str or Path
        Folder to write (created; files of a previous demo are replaced).
    seed : int
        Seed of every random draw (``numpy.random.default_rng(seed)``); the same
        seed gives byte-identical files.

    Returns
    -------
    dict of str to Path
        ``readme``, ``manifest``, ``panel`` (the PLINK prefix), one entry per trait
        (``hypothyroidism``, ``hyperthyroidism``, ``hashimoto``, ``osteoporosis``)
        and ``confounders`` (the association table).

    Notes
    -----
    The design and its guarantees are described in the module docstring; the
    roles of the lead SNPs (final, missing, palindromic, confounder) are listed in
    ``manifest.json`` under ``design``.

    Examples
    --------
    >>> paths = generate("demo")  # doctest: +SKIP
    >>> sorted(paths)[:3]  # doctest: +SKIP
    ['confounders', 'hashimoto', 'hyperthyroidism']
    """
    try:
        seed = int(seed)
    except (TypeError, ValueError):
        raise ParameterError(f"seed must be an integer, got {seed!r}") from None
    if seed < 0:
        raise ParameterError(f"seed must be >= 0, got {seed}")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    loci = _design_loci(rng)
    genome = _build_genome(loci, rng)
    snps, haps = genome.snps, genome.haps
    m = len(snps)

    # ---- leads: names and alleles
    lead_rows = snps.index[snps["kind"] == "lead"].to_numpy()
    lead_of_locus = dict(zip(snps.loc[lead_rows, "locus"], lead_rows))
    for li, row in loci.iterrows():
        if row["listed_rsid"]:
            snps.at[lead_of_locus[li], "rsid"] = row["listed_rsid"]
    loci["rsid"] = [snps.at[lead_of_locus[li], "rsid"] for li in loci.index]
    loci["row"] = [lead_of_locus[li] for li in loci.index]
    pal_prob = np.where(snps["kind"].to_numpy() == "lead", 0.0, 0.15)
    is_pal = rng.random(m) < pal_prob
    pal_rows = loci.loc[loci["role"] == "palindromic", "row"].to_numpy()
    is_pal[pal_rows] = True
    ref = np.empty(m, dtype=object)
    alt = np.empty(m, dtype=object)
    pick_np = rng.integers(0, len(_NONPAL), m)
    pick_p = rng.integers(0, len(_PAL), m)
    for i in range(m):
        ref[i], alt[i] = _PAL[pick_p[i]] if is_pal[i] else _NONPAL[pick_np[i]]
    snps["ref"], snps["alt"], snps["palindromic"] = ref, alt, is_pal

    # ---- panel
    alt_count = (haps[0::2] + haps[1::2]).T  # (m, N)
    panel_af = alt_count.sum(axis=1) / (2.0 * N_INDIVIDUALS)
    snps["panel_af"] = panel_af
    eaf = np.clip(panel_af + rng.normal(0, 0.004, m), 0.005, 0.995)
    eaf[pal_rows] = np.clip(eaf[pal_rows], 0.45, 0.55)
    snps["eaf"] = eaf

    # ---- per-trait z and beta (ALT allele)
    locus_trait = loci["trait"].to_dict()
    snp_locus = snps["locus"].to_numpy()
    kind = snps["kind"].to_numpy()
    r_lead = snps["r_lead"].to_numpy()
    z = {}
    se = {}
    beta = {}
    for t in (*THYROID, OUTCOME):
        info = TRAITS[t]
        zt = np.clip(rng.normal(0.0, 1.0, m), -4.2, 4.2)
        se[t] = _se(eaf, info["n"], info["ncase"], rng.uniform(0.98, 1.06, m))
        for li in loci.index[loci["trait"] == t]:
            zl = loci.at[li, "sign"] * math.sqrt(loci.at[li, "F"])
            rows = np.where(snp_locus == li)[0]
            for j in rows:
                if kind[j] == "lead":
                    zt[j] = zl
                elif kind[j] == "neighbour":
                    v = r_lead[j] * zl + rng.normal(0.0, 0.25)
                    cap = abs(zl) - 0.25
                    zt[j] = max(-cap, min(cap, v))
        z[t] = zt
        beta[t] = zt * se[t]

    # ---- osteoporosis: causal effects of the thyroid traits (+ pleiotropy)
    theta_part = np.zeros(m)
    trait_of = np.array([locus_trait[li] if li >= 0 else "" for li in snp_locus], dtype=object)
    for t in THYROID:
        in_t = trait_of == t
        theta_part[in_t] += DESIGN[t]["theta"] * beta[t][in_t]
    beta[OUTCOME] = np.where(kind == "background", beta[OUTCOME],
                             np.where(np.isin(snp_locus, loci.index[loci["trait"] == OUTCOME]),
                                      beta[OUTCOME],
                                      theta_part + np.clip(rng.normal(0, 1, m), -3, 3) * se[OUTCOME]))
    conf = loci[loci["role"] == "confounder"]
    for li, row in conf.iterrows():
        j = row["row"]
        pleio = rng.choice([-1, 1]) * rng.uniform(2.5, 3.5) * se[OUTCOME][j]
        beta[OUTCOME][j] = (DESIGN[row["trait"]]["theta"] * beta[row["trait"]][j] + pleio
                            + rng.normal(0.0, se[OUTCOME][j]))
    # the final instruments: planted truth plus sampling noise with the outcome's SE,
    # nothing tuned afterwards (SPEC section 4)
    planted = {}
    for t in THYROID:
        fin = loci[(loci["trait"] == t) & (loci["role"] == "final")]["row"].to_numpy()
        beta[OUTCOME][fin] = (DESIGN[t]["theta"] * beta[t][fin]
                              + rng.normal(0.0, se[OUTCOME][fin]))
        planted[t] = fin
    # reverse direction, no effect: the thyroid associations at the osteoporosis
    # instruments are the background noise drawn above
    op_fin = loci[(loci["trait"] == OUTCOME) & (loci["role"] == "final")]["row"].to_numpy()
    for t in (*THYROID, OUTCOME):
        z[t] = beta[t] / se[t]
    _check_design(seed, loci, snp_locus, kind, z, alt_count)

    # ---- which SNPs each file holds
    region_of = {li: (row["chr"], row["pos"]) for li, row in loci.iterrows()}
    chrom = snps["chr"].to_numpy()
    pos = snps["pos"].to_numpy()
    near_missing = np.zeros(m, dtype=bool)
    for li in loci.index[loci["role"] == "missing"]:
        c, p = region_of[li]
        near_missing |= (chrom == c) & (np.abs(pos - p) <= _REGION)
    protected = snp_locus >= 0
    in_outcome = ~near_missing & ~((rng.random(m) < 0.015) & ~protected)
    in_thyroid = {t: ~((rng.random(m) < 0.005) & ~protected) for t in THYROID}

    # ---- FinnGen (a different population): its own allele frequencies
    eaf_fg = np.clip(eaf + rng.normal(0.0, 0.012, m), 0.005, 0.995)
    eaf_fg[pal_rows] = np.clip(eaf_fg[pal_rows], 0.45, 0.55)

    # ---- FinnGen orientation: swaps and strand flips
    swap = rng.random(m) < 0.30
    flip = (rng.random(m) < 0.12) & ~is_pal
    for rows in [planted[t] for t in THYROID] + [op_fin]:
        k = len(rows)
        perm = rows[rng.permutation(k)]
        swap[perm[: max(2, k // 3)]] = True
        flip[perm[max(2, k // 3): max(2, k // 3) + max(1, k // 8)]] = True
    flip &= ~is_pal

    # ---- self-check of the clumping design on the panel itself happens in tests;
    # ---- here the files are written
    with tempfile.TemporaryDirectory(prefix=".mrbook-demo-", dir=outdir) as tmp:
        tmp = Path(tmp)
        paths = _write_all(tmp, seed, snps, loci, alt_count, z, se, beta, eaf, eaf_fg,
                           in_outcome, in_thyroid, swap, flip)
        _check_destinations(tmp, outdir)
        final = {}
        for key, p in paths.items():
            rel = p.relative_to(tmp)
            dest = outdir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            for extra in (".bim", ".fam") if key == "panel" else ():
                os.replace(Path(f"{p}{extra}"), Path(f"{dest}{extra}"))
            if key == "panel":
                os.replace(Path(f"{p}.bed"), Path(f"{dest}.bed"))
            else:
                os.replace(p, dest)
            final[key] = dest
        for readme in tmp.rglob("README.txt"):
            dest = outdir / readme.relative_to(tmp)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(readme, dest)
    return final


def planned_files() -> list[str]:
    """The files :func:`generate` writes, relative to its folder (for checks before it runs)."""
    return sorted([TRAITS[t]["file"] for t in (*THYROID, OUTCOME)]
                  + [f"ld_panel/demo_eur.{ext}" for ext in ("bed", "bim", "fam")]
                  + ["confounders/gwas_catalog_associations.tsv", "manifest.json", "README.txt"]
                  + [f"{d}/README.txt" for d in ("ld_panel", "sumstats", "confounders")])


def _check_destinations(tmp: Path, outdir: Path) -> None:
    """Refuse, before any file is moved, a destination that is not a file (a folder where
    a file goes, a file where a folder goes): nothing of a user's is replaced or moved."""
    from ..errors import OutputError

    for p in sorted(tmp.rglob("*")):
        dest = outdir / p.relative_to(tmp)
        if p.is_dir() and (dest.exists() or dest.is_symlink()) and not dest.is_dir():
            raise OutputError("is a file; the demo study writes a folder of that name", dest)
        if p.is_file() and dest.is_dir():
            raise OutputError("is a folder; the demo study writes a file of that name", dest)


def _check_design(seed, loci, snp_locus, kind, z, alt_count) -> None:
    """Only the planted loci reach P < 5e-8, and every other significant SNP of a locus
    is in LD (plink clump r² > 0.01) with its lead, so clumping keeps exactly the leads."""
    from ..rmath.plink import plink_clump_r2
    from .ld import _table_counts

    zcut = -special.ndtri(2.5e-8)  # |z| of P = 5e-8
    for t in (*THYROID, OUTCOME):
        ids = loci.index[loci["trait"] == t]
        sig = np.abs(z[t]) > zcut
        lead_t = loci.loc[ids, "row"].to_numpy()
        if (sig & ~np.isin(snp_locus, ids)).any() or not sig[lead_t].all():
            raise RuntimeError(f"demo design check failed for {t} (seed {seed}): "
                               "significance outside the planted loci")
        for li in ids:
            lead = loci.at[li, "row"]
            others = np.flatnonzero(sig & (snp_locus == li))
            others = others[others != lead]
            if (np.abs(z[t][others]) >= abs(z[t][lead])).any():
                raise RuntimeError(f"demo design check failed for {t} (seed {seed}): "
                                   "a neighbour outranks its lead")
            if len(others):
                g = 2 - alt_count[np.concatenate([[lead], others])]
                for row in _table_counts(g[0], g[1:]):
                    if not abs(plink_clump_r2(row)) > 0.05:
                        raise RuntimeError(f"demo design check failed for {t} (seed {seed}): "
                                           "a significant neighbour is not in LD with its lead")


# --------------------------------------------------------------------------- writers

def _sim_note(seed: int) -> str:
    return (f"SIMULATED data generated by mrbook demo-data (seed={seed}); not real GWAS "
            "results. The planted causal effects are the published estimates, so agreement "
            "with the published study is by construction, up to sampling noise.")


#: the FORMAT header lines of an IEU GWAS VCF (ES, SE, LP, AF, SS, ID) as the IEU files write
#: them; every simulated VCF of mrbook (demo-data, demo-phenome) uses them
VCF_FORMAT_LINES = (
    "##FORMAT=<ID=ES,Number=A,Type=Float,Description=\"Effect size estimate relative to "
    "the alternative allele\">",
    "##FORMAT=<ID=SE,Number=A,Type=Float,Description=\"Standard error of effect size "
    "estimate\">",
    "##FORMAT=<ID=LP,Number=A,Type=Float,Description=\"-log10 p-value for effect "
    "estimate\">",
    "##FORMAT=<ID=AF,Number=A,Type=Float,Description=\"Alternate allele frequency in the "
    "association study\">",
    "##FORMAT=<ID=SS,Number=A,Type=Float,Description=\"Sample size used to estimate "
    "genetic effect\">",
    "##FORMAT=<ID=ID,Number=1,Type=String,Description=\"Study variant identifier\">",
)


def _write_vcf(path: Path, t: str, seed: int, snps: pd.DataFrame, z, se, beta, eaf,
               keep: np.ndarray) -> None:
    info = TRAITS[t]
    sid = info["id"]
    lines = [
        "##fileformat=VCFv4.2",
        f"##SIMULATED=<Description=\"{_sim_note(seed)}\",Seed={seed},"
        f"Generator=\"mrbook demo-data\",DemoVersion={DEMO_VERSION}>",
        "##source=mrbook demo-data (simulated IEU GWAS VCF)",
        "##FILTER=<ID=PASS,Description=\"All filters passed\">",
        "##INFO=<ID=AF,Number=A,Type=Float,Description=\"Allele Frequency\">",
        *VCF_FORMAT_LINES,
        f"##META=<ID={sid},Trait=\"{info['trait']}\",Mirrors=\"{info['mirrors']}\","
        f"Source=\"SIMULATED after {info['source']}\">",
        f"##SAMPLE=<ID={sid},TotalVariants={int(keep.sum())},VariantsNotRead=0,"
        f"HarmonisedVariants={int(keep.sum())},VariantsNotHarmonised=0,SwitchedAlleles=0,"
        f"StudyType=CaseControl,TotalCases={info['ncase']},TotalControls={info['ncontrol']}>",
    ]
    for c, length in enumerate(CHROM_LENGTHS, start=1):
        lines.append(f"##contig=<ID={c},length={length},assembly=SIMULATED>")
    lines.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO",
                            "FORMAT", sid]))
    lp = _lp_from_z(z)
    n = info["n"]
    body = []
    rs, ch, ps = snps["rsid"].to_numpy(), snps["chr"].to_numpy(), snps["pos"].to_numpy()
    rf, al = snps["ref"].to_numpy(), snps["alt"].to_numpy()
    for j in np.flatnonzero(keep):
        af = _fmt(eaf[j], 5)
        body.append(f"{ch[j]}\t{ps[j]}\t{rs[j]}\t{rf[j]}\t{al[j]}\t.\tPASS\tAF={af}\t"
                    f"ES:SE:LP:AF:SS:ID\t{_fmt(beta[j])}:{_fmt(se[j])}:{_fmt(lp[j], 6)}:"
                    f"{af}:{n}:{rs[j]}")
    path.write_bytes(_gzip_bytes("\n".join(lines + body) + "\n"))


def _write_finngen(path: Path, seed: int, snps: pd.DataFrame, z, se, beta, eaf,
                   keep: np.ndarray, swap: np.ndarray, flip: np.ndarray) -> None:
    info = TRAITS[OUTCOME]
    phi = info["ncase"] / info["n"]
    header = ["#chrom", "pos", "ref", "alt", "rsids", "nearest_genes", "pval", "mlogp", "beta",
              "sebeta", "maf", "maf_cases", "maf_controls"]
    p = _p_from_z(z)
    lp = _lp_from_z(z)
    out = ["\t".join(header)]
    rs, ch, ps = snps["rsid"].to_numpy(), snps["chr"].to_numpy(), snps["pos"].to_numpy()
    rf, al = snps["ref"].to_numpy(), snps["alt"].to_numpy()
    for j in np.flatnonzero(keep):
        r, a, b, f = rf[j], al[j], beta[j], eaf[j]
        if swap[j]:
            r, a, b, f = a, r, -b, 1.0 - f
        if flip[j]:
            r, a = _COMPLEMENT[r], _COMPLEMENT[a]
        d = b * f * (1 - f)
        f_ctrl = min(max(f - phi * d, 0.0), 1.0)
        f_case = min(max(f_ctrl + d, 0.0), 1.0)
        out.append(f"{ch[j]}\t{ps[j]}\t{r}\t{a}\t{rs[j]}\tSIMULATED\t{_fmt(p[j], 6)}\t"
                   f"{_fmt(lp[j], 6)}\t{_fmt(b)}\t{_fmt(se[j])}\t{_fmt(f, 5)}\t"
                   f"{_fmt(f_case, 5)}\t{_fmt(f_ctrl, 5)}")
    path.write_bytes(_gzip_bytes("\n".join(out) + "\n"))


def _catalog_rows(seed: int, snps: pd.DataFrame, loci: pd.DataFrame, rng) -> list[dict]:
    note = f"SIMULATED association (mrbook demo-data, seed={seed}); not a real finding"
    rows = []

    def add(j: int, trait: str, p: float) -> None:
        r = snps.loc[j]
        risk = r["alt"] if rng.random() < 0.5 else r["ref"]
        ptxt = _catalog_p(p)
        rows.append({
            "PUBMEDID": "0", "FIRST AUTHOR": "mrbook demo (simulated)", "JOURNAL": "SIMULATED",
            "STUDY": f"SIMULATED genome-wide association study of {trait.lower()}",
            "DISEASE/TRAIT": trait, "INITIAL SAMPLE SIZE": "SIMULATED",
            "CHR_ID": str(r["chr"]), "CHR_POS": str(r["pos"]), "MAPPED_GENE": "SIMULATED",
            "STRONGEST SNP-RISK ALLELE": f"{r['rsid']}-{risk}", "SNPS": r["rsid"],
            "SNP_ID_CURRENT": "", "CONTEXT": "", "INTERGENIC": "",
            "RISK ALLELE FREQUENCY": _fmt(float(r["eaf"]), 2), "P-VALUE": ptxt,
            "PVALUE_MLOG": _fmt(-math.log10(float(ptxt)), 6),
            "OR or BETA": _fmt(float(rng.uniform(0.02, 0.15)), 3),
            "MAPPED_TRAIT": _MAPPED[trait], "STUDY ACCESSION": "SIMULATED",
            "GENOTYPING TECHNOLOGY": "SIMULATED", "NOTE": note})

    def strong() -> float:
        return float(10 ** -rng.uniform(8.5, 30))

    for _, lr in loci[loci["role"] == "confounder"].iterrows():
        add(lr["row"], lr["confounder_trait"], strong())
    fin = {t: loci[(loci["trait"] == t) & (loci["role"] == "final")]["row"].to_list()
           for t in (*THYROID, OUTCOME)}
    hy = fin["hypothyroidism"]
    for j in hy[:4]:
        add(j, "Height", strong())                      # not a confounder trait
    for j in hy[4:7]:
        add(j, "Hypothyroidism", strong())              # the exposure itself
    for j in hy[7:9] + fin["hashimoto"][:1]:
        add(j, "Body mass index", float(rng.uniform(1.5e-7, 9e-6)))  # above 5e-8
    add(fin["hyperthyroidism"][0], "Free thyroxine concentration", strong())
    for j in fin[OUTCOME][:2]:
        add(j, "Heel bone mineral density", strong())
    miss = loci[(loci["trait"] == "hypothyroidism") & (loci["role"] == "missing")]["row"]
    add(int(miss.iloc[0]), "Body mass index", strong())  # counted as missing, not here
    pal = loci[(loci["trait"] == "hypothyroidism") & (loci["role"] == "palindromic")]["row"]
    add(int(pal.iloc[0]), "Smoking initiation", strong())  # counted as palindromic
    nb = snps.index[(snps["kind"] == "neighbour")
                    & snps["locus"].isin(loci.index[loci["trait"] == "hypothyroidism"])]
    add(int(nb[0]), "Body mass index", strong())         # clumped away first
    bg = snps.index[snps["kind"] == "background"].to_numpy()
    traits = ["Body mass index", "Smoking initiation", "Vitamin D levels", "Type 2 diabetes",
              "Rheumatoid arthritis", "Height", "Heel bone mineral density", "Body mass index"]
    for j, tr in zip(rng.choice(bg, size=len(traits), replace=False), traits):
        add(int(j), tr, strong())
    rows.sort(key=lambda r: (int(r["CHR_ID"]), int(r["CHR_POS"]), r["DISEASE/TRAIT"]))
    return rows


def _write_catalog(path: Path, rows: list[dict]) -> None:
    lines = ["\t".join(CATALOG_COLUMNS)]
    for r in rows:
        lines.append("\t".join(str(r.get(c, "")) for c in CATALOG_COLUMNS))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_all(tmp: Path, seed: int, snps, loci, alt_count, z, se, beta, eaf, eaf_fg,
               in_outcome, in_thyroid, swap, flip) -> dict[str, Path]:
    from .ld import write_panel

    rng = np.random.default_rng([seed, 1])  # the table's draws: independent stream
    (tmp / "ld_panel").mkdir()
    (tmp / "sumstats").mkdir()
    (tmp / "confounders").mkdir()
    note = _sim_note(seed)
    bim = pd.DataFrame({"chr": snps["chr"], "rsid": snps["rsid"], "cm": 0, "pos": snps["pos"],
                        "a1": snps["alt"], "a2": snps["ref"]})
    fam = pd.DataFrame({"fid": "SIMULATED", "iid": [f"sim{i + 1:04d}" for i in
                                                    range(N_INDIVIDUALS)],
                        "pat": "0", "mat": "0", "sex": [1 + (i % 2) for i in
                                                        range(N_INDIVIDUALS)], "pheno": -9})
    prefix = tmp / "ld_panel" / "demo_eur"
    write_panel(prefix, (2 - alt_count).astype(np.int8), bim, fam)
    paths: dict[str, Path] = {"panel": prefix}
    for t in THYROID:
        p = tmp / TRAITS[t]["file"]
        _write_vcf(p, t, seed, snps, z[t], se[t], beta[t], eaf, in_thyroid[t])
        paths[t] = p
    p = tmp / TRAITS[OUTCOME]["file"]
    _write_finngen(p, seed, snps, z[OUTCOME], se[OUTCOME], beta[OUTCOME], eaf_fg, in_outcome,
                   swap, flip)
    paths[OUTCOME] = p
    cat = tmp / "confounders" / "gwas_catalog_associations.tsv"
    _write_catalog(cat, _catalog_rows(seed, snps, loci, rng))
    paths["confounders"] = cat

    (tmp / "ld_panel" / "README.txt").write_text(
        f"{note}\n\ndemo_eur.bed/.bim/.fam: PLINK 1 binary fileset (SNP-major), "
        f"{len(snps)} SNPs on 22 synthetic autosomes genotyped in {N_INDIVIDUALS} simulated "
        "individuals (all founders, family ID SIMULATED). A1 is the ALT allele of the "
        "summary statistics. Used as the LD reference for clumping and LD proxies.\n")
    (tmp / "sumstats" / "README.txt").write_text(
        f"{note}\n\nIEU GWAS VCF (OpenGWAS format, FORMAT ES:SE:LP:AF:SS:ID, gzip): "
        "hypothyroidism.vcf.gz, hyperthyroidism.vcf.gz, hashimoto.vcf.gz.\n"
        "FinnGen R5 TSV (gzip; alt is the effect allele, maf is the alt allele frequency, "
        "nearest_genes says SIMULATED): osteoporosis.tsv.gz.\n"
        "All files share one synthetic coordinate system (not GRCh37 or GRCh38).\n")
    (tmp / "confounders" / "README.txt").write_text(
        f"{note}\n\ngwas_catalog_associations.tsv: SNP-trait associations in the layout of "
        "the GWAS Catalog associations download (NOTE column added). Confounders of "
        "osteoporosis planted here: " + ", ".join(DEFAULT_CONFOUNDER_TRAITS) + ".\n")

    design = {}
    for t in (*THYROID, OUTCOME):
        lt = loci[loci["trait"] == t]
        design[t] = {
            "candidates": int(len(lt)),
            "final": sorted(lt.loc[lt["role"] == "final", "rsid"].tolist()),
            "missing_in_outcome": sorted(lt.loc[lt["role"] == "missing", "rsid"].tolist()),
            "palindromic": sorted(lt.loc[lt["role"] == "palindromic", "rsid"].tolist()),
            "confounder": {r: c for r, c in sorted(zip(
                lt.loc[lt["role"] == "confounder", "rsid"],
                lt.loc[lt["role"] == "confounder", "confounder_trait"]))},
            "f_range": list(DESIGN[t]["f_range"]),
            "theta_to_osteoporosis": DESIGN[t]["theta"] if t != OUTCOME else None,
        }
    files = {k: str(v.relative_to(tmp)) for k, v in paths.items() if k != "panel"}
    files["panel"] = str(prefix.relative_to(tmp))
    checks = {k: _sha256(v) for k, v in sorted(paths.items()) if k != "panel"}
    for ext in ("bed", "bim", "fam"):
        checks[f"panel.{ext}"] = _sha256(Path(f"{prefix}.{ext}"))
    manifest = {
        "simulated": True,
        "note": note,
        "generator": "mrbook demo-data",
        "demo_version": DEMO_VERSION,
        "seed": seed,
        "n_snps": int(len(snps)),
        "n_individuals": N_INDIVIDUALS,
        "traits": {t: {k: v for k, v in TRAITS[t].items()} for t in (*THYROID, OUTCOME)},
        "files": files,
        "sha256": checks,
        "default_confounder_traits": list(DEFAULT_CONFOUNDER_TRAITS),
        "study_settings": {"p": 5e-8, "r2": 0.01, "kb": 10000, "palindromes": 2,
                           "confounder_p": 5e-8},
        "design": design,
        "outcome_model": ("final instruments: beta_out = theta * beta_exp + e, e ~ N(0, "
                          "se_out^2) independently per SNP, theta = theta_to_osteoporosis "
                          "(the published ln OR); no tuning after the draw. Reverse "
                          "direction: no effect (thyroid associations at the osteoporosis "
                          "instruments are N(0, se^2) noise)."),
    }
    mpath = tmp / "manifest.json"
    mpath.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    paths["manifest"] = mpath
    rpath = tmp / "README.txt"
    rpath.write_text(_readme(seed, manifest))
    paths["readme"] = rpath
    return paths


def _readme(seed: int, manifest: dict) -> str:
    lines = [
        "SIMULATED DEMO STUDY - NOT REAL DATA",
        "=" * 36,
        "",
        _sim_note(seed),
        "",
        "A synthetic mirror of Li Z et al. Thyroid dysfunction and osteoporosis: a "
        "bidirectional, two-sample Mendelian randomization study. West China Medical "
        "Journal 2024;39(10):1617-1624. doi:10.7507/1002-0179.202403222.",
        "Same trait names, sample sizes and case/control counts; instrument counts at each "
        "selection step as in the paper. Planted truth: exposure -> osteoporosis effects "
        "equal to the published ln OR, no osteoporosis -> thyroid effect. The outcome "
        "associations of the instruments are that truth plus sampling noise drawn with the "
        "outcome GWAS's standard errors (beta_out = theta * beta_exp + N(0, se_out^2)), so "
        "estimates from these files differ from the published ones by ordinary sampling "
        "error. Any agreement with the paper is by construction, never evidence.",
        "",
        f"seed: {seed}    demo version: {DEMO_VERSION}    SNPs: {manifest['n_snps']}    "
        f"panel individuals: {manifest['n_individuals']}",
        "",
        "Files:",
    ]
    for k, v in sorted(manifest["files"].items()):
        lines.append(f"  {k:16s} {v}")
    lines += ["", "Traits:"]
    for t, info in manifest["traits"].items():
        lines.append(f"  {info['id']:22s} {info['trait']:22s} cases {info['ncase']:>6} "
                     f"controls {info['ncontrol']:>6} N {info['n']:>6}  (mirrors "
                     f"{info['mirrors']}; {info['format']})")
    lines += ["", "Instrument selection with the study's settings (P < 5e-8, clumping r2 0.01 "
              "within 10,000 kb on ld_panel/demo_eur, palindromes action 2, confounders "
              + ", ".join(DEFAULT_CONFOUNDER_TRAITS) + " at P < 5e-8) gives:"]
    for t, d in manifest["design"].items():
        lines.append(f"  {t:16s} candidates {d['candidates']:>3}  missing "
                     f"{len(d['missing_in_outcome'])}  palindromic {len(d['palindromic'])}  "
                     f"confounder {len(d['confounder'])}  final {len(d['final'])}")
    lines += ["", "Re-create: mrbook demo-data OUTDIR --seed " + str(seed), ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- cache

def cache_root() -> Path:
    """``$MRBOOK_CACHE`` or ``~/.cache/mrbook``."""
    env = os.environ.get("MRBOOK_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "mrbook"


def demo_dir(seed: int = DEFAULT_SEED, root: str | Path | None = None) -> Path:
    """The demo study folder for ``seed`` in the cache, generated on first use."""
    root = Path(root) if root is not None else cache_root()
    target = root / "demo" / f"seed-{int(seed)}"
    if _is_current(target, seed):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".seed-{int(seed)}-", dir=target.parent))
    try:
        os.chmod(tmp, new_dir_mode())  # mkdtemp makes it owner-only; the umask decides
        generate(tmp, seed=seed)
        if target.exists():
            if _is_current(target, seed):  # another process finished first
                shutil.rmtree(tmp, ignore_errors=True)
                return target
            shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _is_current(folder: Path, seed: int) -> bool:
    try:
        man = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return (man.get("demo_version") == DEMO_VERSION and man.get("seed") == int(seed)
            and all((folder / f).exists() for k, f in man.get("files", {}).items()
                    if k != "panel"))


def load_manifest(folder: str | Path) -> dict:
    """The ``manifest.json`` of a demo folder."""
    return json.loads((Path(folder) / "manifest.json").read_text())
