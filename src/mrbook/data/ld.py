"""Data layer: LD reference panels (PLINK 1 binary filesets) and LD clumping as plink 1.9 does it.

A panel is a PLINK 1 binary fileset ``PREFIX.bed`` / ``.bim`` / ``.fam`` in SNP-major
mode; :func:`read_panel` memory-maps the ``.bed`` with numpy so a large reference
(1000 Genomes EUR) costs no more memory than the variants actually touched.

:func:`clump` is the LD-clumping step of an MR instrument selection
(TwoSampleMR's ``clump_data`` / ieugwasr's ``ld_clump_local``). It runs
``plink1.9 --clump`` when the program is installed and the project's own
implementation otherwise; both select the same SNPs because the Python engine
follows plink 1.9's ``clump_reports()`` step by step:

* index candidates are the SNPs with P <= ``p1``, taken in increasing P (ties in
  the order of the ``.bim``); a SNP already clumped into an earlier clump is skipped;
* every other SNP of the input on the same chromosome within ``kb`` kilobases
  (``|bp - bp_index| < 1000 * kb``) that is not yet clumped joins the clump when
  its r² with the index SNP exceeds ``r2`` (strictly);
* r² is **not** the squared genotype correlation: plink 1.9's ``--clump`` phases
  the two SNPs with the two-locus EM of ``em_phase_hethet`` (the maximum-likelihood
  haplotype frequencies of the 3x3 genotype table, solved as a cubic) and reports
  ``D² / (p1 (1-p1) q1 (1-q1))`` from those haplotype frequencies, founders only,
  missing genotypes dropped pair by pair. :func:`mrbook.rmath.plink.plink_clump_r2`
  reproduces that computation (including plink's numerical tolerances);
* input SNPs that are not in the panel are dropped (plink warns "top variant IDs
  missing from main dataset"), and so are SNPs with P > ``p1`` that no index SNP
  clumps (ieugwasr keeps only the index SNPs of ``.clumped``).

References
----------
Purcell S, et al. PLINK: a tool set for whole-genome association and
population-based linkage analyses. Am J Hum Genet 2007;81:559-75.
doi:10.1086/519795
Chang CC, et al. Second-generation PLINK: rising to the challenge of larger and
richer datasets. GigaScience 2015;4:7. doi:10.1186/s13742-015-0047-8
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..errors import InputError, MRBookError, ParameterError
from ..rmath.jit import jit_kernel
from ..rmath.plink import SMALL_EPSILON, clump_r2_rows

#: first three bytes of a SNP-major PLINK 1 .bed file
BED_MAGIC = b"\x6c\x1b\x01"

#: .bed 2-bit code -> number of A2 alleles (00 hom A1, 01 missing, 10 het, 11 hom A2)
_CODE_TO_GENO = np.array([0, -1, 1, 2], dtype=np.int8)
_SHIFTS = np.array([0, 2, 4, 6], dtype=np.uint8)
#: number of A2 alleles + 1 (missing -1 -> 0) -> .bed 2-bit code
_GENO_TO_CODE = np.array([1, 0, 2, 3], dtype=np.uint8)

ENGINES = ("auto", "plink", "python")


# --------------------------------------------------------------------------- panel I/O

@dataclass(frozen=True)
class Panel:
    """A PLINK 1 binary fileset, the ``.bed`` memory-mapped.

    Attributes
    ----------
    prefix : Path
        Path without the ``.bed``/``.bim``/``.fam`` suffix.
    bim : DataFrame
        ``chr`` (str), ``rsid``, ``cm``, ``pos`` (int64), ``a1``, ``a2``; one row per
        variant in file order.
    fam : DataFrame
        ``fid``, ``iid``, ``pat``, ``mat``, ``sex``, ``pheno`` (all str).
    bed : numpy.memmap
        ``(n_variants, ceil(n_samples / 4))`` uint8, the genotype bytes after the
        three magic bytes.
    """

    prefix: Path
    bim: pd.DataFrame
    fam: pd.DataFrame
    bed: np.ndarray

    @property
    def n_samples(self) -> int:
        return len(self.fam)

    @property
    def n_variants(self) -> int:
        return len(self.bim)

    @functools.cached_property
    def founders(self) -> np.ndarray:
        """Boolean mask of founders (both parental IDs ``0``), the samples plink uses for LD.

        Computed once per panel: every genotype look-up uses it (~1 ms each otherwise).
        """
        return ((self.fam["pat"] == "0") & (self.fam["mat"] == "0")).to_numpy()

    @functools.cached_property
    def founder_bits(self) -> np.ndarray:
        """The founders as a bit set over a ``.bed`` row read as little-endian uint64 words.

        Bit ``2 (s mod 32)`` of word ``s // 32`` is set for founder ``s`` (the low bit of
        its 2-bit genotype code); what the compiled genotype tables
        (:mod:`mrbook.rmath._ld_jit`) mask with. Computed once per panel.
        """
        bits = np.zeros((self.bed.shape[1] + 7) // 8, dtype=np.uint64)
        s = np.flatnonzero(self.founders)
        np.bitwise_or.at(bits, s // 32, np.left_shift(np.uint64(1), (2 * (s % 32)).astype(np.uint64)))
        return bits

    @functools.cached_property
    def positions(self) -> np.ndarray:
        """The ``.bim`` base-pair positions as int64 (computed once per panel)."""
        return self.bim["pos"].to_numpy().astype(np.int64)

    @functools.cached_property
    def by_chromosome(self) -> dict:
        """Chromosome -> (its rows ordered by position, their positions); computed once.

        Rows at the same position keep the ``.bim`` order. :func:`find_proxies` looks a
        window up in it with two binary searches instead of scanning the panel.
        """
        codes, names = pd.factorize(self.bim["chr"].to_numpy(), sort=False)
        order = np.lexsort((self.positions, codes))
        bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
        out = {}
        for k, c in enumerate(names):
            rows = order[bounds[k]:bounds[k + 1]]
            out[c] = (rows, self.positions[rows])
        return out

    def index_of(self, rsids) -> np.ndarray:
        """Row of each ID in the ``.bim`` (first occurrence), -1 when absent."""
        lookup = _id_lookup(self)
        return np.array([lookup.get(str(r), -1) for r in rsids], dtype=np.int64)

    def genotypes(self, idx, founders_only: bool = True) -> np.ndarray:
        """Genotypes of variants ``idx`` as an int8 ``(len(idx), n)`` array.

        Values are the number of A2 alleles (0, 1, 2) and -1 for a missing call;
        columns are the samples (founders only by default, as plink's LD does).
        """
        idx = np.atleast_1d(np.asarray(idx, dtype=np.int64))
        raw = np.asarray(self.bed[idx])
        codes = (raw[:, :, None] >> _SHIFTS) & 3
        geno = _CODE_TO_GENO[codes.reshape(len(idx), -1)[:, : self.n_samples]]
        if founders_only:
            geno = geno[:, self.founders]
        return geno


_LOOKUPS: dict[int, dict] = {}


def _id_lookup(panel: Panel) -> dict:
    key = id(panel.bim)
    lk = _LOOKUPS.get(key)
    if lk is None or len(lk) > panel.n_variants:
        ids = panel.bim["rsid"].tolist()
        lk = {}
        for i, r in enumerate(ids):
            lk.setdefault(r, i)
        _LOOKUPS.clear()  # keep one panel's lookup at a time
        _LOOKUPS[key] = lk
    return lk


def _read_table(path: Path, names: list[str]) -> pd.DataFrame:
    if not path.is_file():
        raise InputError("file not found (a PLINK fileset needs .bed, .bim and .fam)", path)
    try:
        df = pd.read_csv(path, sep=r"\s+", header=None, names=names, dtype=str,
                         engine="python" if path.stat().st_size == 0 else "c")
    except pd.errors.EmptyDataError:
        df = pd.DataFrame({n: pd.Series(dtype=str) for n in names})
    except Exception as exc:  # malformed text
        raise InputError(f"cannot read as a PLINK table: {exc}", path) from exc
    if df.isna().any().any():
        row = int(np.where(df.isna().any(axis=1))[0][0]) + 1
        raise InputError(f"expected {len(names)} whitespace-separated columns", path, row)
    return df


def read_panel(prefix: str | Path) -> Panel:
    """Open a PLINK 1 binary fileset (SNP-major ``.bed``), memory-mapping the genotypes.

    Parameters
    ----------
    prefix : str or Path
        Path of the fileset without suffix (``PREFIX.bed``, ``PREFIX.bim``,
        ``PREFIX.fam``); a path ending in ``.bed``/``.bim``/``.fam`` is accepted.

    Returns
    -------
    Panel

    Raises
    ------
    InputError
        A file is missing, the ``.bed`` is not SNP-major PLINK 1 binary, or its size
        does not match the ``.bim`` and ``.fam``.
    """
    prefix = Path(prefix)
    if prefix.suffix in (".bed", ".bim", ".fam"):
        prefix = prefix.with_suffix("")
    bim = _read_table(Path(f"{prefix}.bim"), ["chr", "rsid", "cm", "pos", "a1", "a2"])
    fam = _read_table(Path(f"{prefix}.fam"), ["fid", "iid", "pat", "mat", "sex", "pheno"])
    try:
        bim["pos"] = bim["pos"].astype(np.int64)
    except ValueError as exc:
        raise InputError(f"base-pair positions must be integers ({exc})",
                         f"{prefix}.bim", column="pos") from exc
    bim = bim.astype({c: object for c in ("chr", "rsid", "cm", "a1", "a2")})
    bed_path = Path(f"{prefix}.bed")
    if not bed_path.is_file():
        raise InputError("file not found (a PLINK fileset needs .bed, .bim and .fam)", bed_path)
    with open(bed_path, "rb") as fh:
        magic = fh.read(3)
    if magic != BED_MAGIC:
        raise InputError("not a SNP-major PLINK 1 .bed file (bad magic bytes)", bed_path)
    bpv = (len(fam) + 3) // 4
    expected = 3 + bpv * len(bim)
    size = bed_path.stat().st_size
    if size != expected:
        raise InputError(f"size {size} bytes does not match {len(bim)} variants x "
                         f"{len(fam)} samples ({expected} bytes expected)", bed_path)
    if len(bim) and bpv:
        bed = np.memmap(bed_path, dtype=np.uint8, mode="r", offset=3, shape=(len(bim), bpv))
    else:
        bed = np.zeros((len(bim), bpv), dtype=np.uint8)
    return Panel(prefix=prefix, bim=bim, fam=fam, bed=bed)


def encode_bed(genotypes: np.ndarray) -> bytes:
    """SNP-major PLINK 1 ``.bed`` bytes (magic included) of a genotype matrix.

    Parameters
    ----------
    genotypes : array of int, shape (n_variants, n_samples)
        Number of A2 alleles (0, 1, 2); -1 for a missing call.
    """
    g = np.asarray(genotypes)
    if g.ndim != 2:
        raise ValueError("genotypes must be a 2-D (variants x samples) array")
    n_var, n = g.shape
    if g.size and (g.min() < -1 or g.max() > 2):
        raise ValueError("genotypes must be 0, 1, 2 or -1 (missing)")
    codes = np.zeros((n_var, 4 * ((n + 3) // 4)), dtype=np.uint8)
    codes[:, :n] = _GENO_TO_CODE[g.astype(np.int64) + 1]
    c = codes.reshape(n_var, -1, 4)
    packed = (c[:, :, 0] | (c[:, :, 1] << 2) | (c[:, :, 2] << 4) | (c[:, :, 3] << 6)).astype(np.uint8)
    return BED_MAGIC + packed.tobytes()


def write_panel(prefix: str | Path, genotypes: np.ndarray, bim: pd.DataFrame,
                fam: pd.DataFrame) -> dict[str, Path]:
    """Write a PLINK 1 binary fileset (SNP-major ``.bed``, ``.bim``, ``.fam``).

    Parameters
    ----------
    prefix : str or Path
        Output path without suffix.
    genotypes : array, shape (n_variants, n_samples)
        Number of A2 alleles per sample (0/1/2, -1 missing).
    bim : DataFrame
        ``chr``, ``rsid``, ``cm``, ``pos``, ``a1``, ``a2`` in variant order.
    fam : DataFrame
        ``fid``, ``iid``, ``pat``, ``mat``, ``sex``, ``pheno`` in sample order.

    Returns
    -------
    dict
        ``{"bed": path, "bim": path, "fam": path}``.
    """
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    g = np.asarray(genotypes)
    if g.shape != (len(bim), len(fam)):
        raise ValueError(f"genotypes shape {g.shape} != ({len(bim)}, {len(fam)})")
    paths = {k: Path(f"{prefix}.{k}") for k in ("bed", "bim", "fam")}
    paths["bed"].write_bytes(encode_bed(g))
    cols = [np.asarray(bim[c].astype(str), dtype=object)
            for c in ("chr", "rsid", "cm", "pos", "a1", "a2")]
    paths["bim"].write_text("".join("\t".join(row) + "\n" for row in zip(*cols)))
    cols = [np.asarray(fam[c].astype(str), dtype=object)
            for c in ("fid", "iid", "pat", "mat", "sex", "pheno")]
    paths["fam"].write_text("".join(" ".join(row) + "\n" for row in zip(*cols)))
    return paths


# --------------------------------------------------------------------------- plink's r²

def _table_counts(gi: np.ndarray, gw: np.ndarray) -> np.ndarray:
    """3x3 genotype tables of one SNP ``gi`` (n,) against each row of ``gw`` (m, n)."""
    out = np.zeros((gw.shape[0], 9), dtype=np.int64)
    for i in range(3):
        sub = gw[:, gi == i]
        for j in range(3):
            out[:, 3 * i + j] = (sub == j).sum(axis=1)
    return out


def _minor_oriented(geno: np.ndarray) -> np.ndarray:
    """Swap 0 and 2 where A1 is the major allele (plink 1.9 makes A1 the minor allele)."""
    g = geno.copy()
    valid = g >= 0
    a2 = np.where(valid, g, 0).sum(axis=1)
    a1 = 2 * valid.sum(axis=1) - a2
    rev = a1 > a2
    if rev.any():
        sub = g[rev]
        sub = np.where(sub >= 0, 2 - sub, sub).astype(np.int8)
        g[rev] = sub
    return g


#: pairs a process computes with the Python path before it starts numba for them: numba's
#: start-up (import and LLVM's set-up, ~0.3 s) costs about as much as 20,000 pairs there, so
#: one ``mrbook instruments`` run (a few thousand pairs) does not pay it; a process that has
#: numba already (the bootstrap kernels, or ``mrbook batch``'s exposure tasks) uses the kernel
#: from its first pair
JIT_AFTER_PAIRS = 20_000
_pairs_counted = 0


def _ld_kernel(pairs: int):
    """The compiled LD kernel (:mod:`mrbook.rmath._ld_jit`) when it pays, else None.

    It pays once numba is imported in this process or after :data:`JIT_AFTER_PAIRS`
    pairs (``pairs`` more are counted now); both paths give the same numbers, so
    which one runs changes no result.
    """
    global _pairs_counted
    _pairs_counted += pairs
    if "numba" not in sys.modules and _pairs_counted <= JIT_AFTER_PAIRS:
        return None
    return jit_kernel("ld")


def pair_tables(panel: Panel, index: int, others, orient_minor: bool = False) -> np.ndarray:
    """3x3 genotype tables (founders, missing calls left out) of variant ``index`` against ``others``.

    Parameters
    ----------
    panel : Panel
    index : int
        Row of the index variant in the ``.bim``.
    others : sequence of int
        Rows of the other variants.
    orient_minor : bool
        Count copies of each variant's minor allele (among its founders' calls)
        instead of A2, as plink 1.9 orients SNPs (``_minor_oriented``).

    Returns
    -------
    numpy.ndarray
        ``(len(others), 9)`` int64: ``[r, 3 a + b]`` founders with ``a`` copies at
        ``index`` and ``b`` at ``others[r]``.

    Notes
    -----
    The compiled kernel (:func:`mrbook.rmath._ld_jit.table_counts`) counts straight
    from the packed ``.bed`` bytes; without numba (or with ``MRBOOK_JIT=0``, or before
    numba pays, see :data:`JIT_AFTER_PAIRS`) the genotypes are unpacked
    (:meth:`Panel.genotypes`) and counted with numpy. Both give the same tables.
    """
    others = np.atleast_1d(np.asarray(others, dtype=np.int64))
    kern = _ld_kernel(len(others))
    if kern is None:
        g = panel.genotypes(np.concatenate([[index], others]))
        if orient_minor:
            g = _minor_oriented(g)
        return _table_counts(g[0], g[1:])
    out = np.empty((len(others), 9), dtype=np.int64)
    kern.table_counts(np.asarray(panel.bed), panel.founder_bits, int(index), others,
                      bool(orient_minor), out)
    return out


def clump_r2(counts) -> np.ndarray:
    """:func:`~mrbook.rmath.plink.plink_clump_r2` of each row of ``counts`` ((m, 9) tables), as float64.

    The compiled kernel (:func:`mrbook.rmath._ld_jit.clump_r2`) is
    :func:`mrbook.rmath.plink.clump_r2_rows` compiled by numba, so the values are
    bit-identical; without numba (or before it pays, :data:`JIT_AFTER_PAIRS`) that
    loop runs in Python.
    """
    counts = np.ascontiguousarray(np.asarray(counts, dtype=np.int64).reshape(-1, 9))
    out = np.empty(len(counts))
    kern = _ld_kernel(0)  # the tables were counted (pair_tables)
    if kern is None:
        clump_r2_rows(counts.tolist(), out)
    else:
        kern.clump_r2(counts, out)
    return out


def r2_with(panel: Panel, index: int, others, orient_minor: bool = False) -> np.ndarray:
    """Signed plink ``--clump`` r² between panel variant ``index`` and each of ``others``.

    ``orient_minor=False`` keeps the ``.bim`` alleles, so a positive value means the
    A1 alleles are in phase; ``True`` orients as plink 1.9 does by default.
    """
    others = np.atleast_1d(np.asarray(others, dtype=np.int64))
    if not len(others):
        return np.zeros(0)
    return clump_r2(pair_tables(panel, index, others, orient_minor))


def r2_between(panel: Panel, rsid_a: str, rsid_b: str) -> float:
    """Signed plink ``--clump`` r² of two panel SNPs (``nan`` if either is absent)."""
    ia, ib = panel.index_of([rsid_a, rsid_b])
    if ia < 0 or ib < 0:
        return math.nan
    return float(r2_with(panel, int(ia), [int(ib)])[0])


# --------------------------------------------------------------------------- clumping

class ClumpResult(NamedTuple):
    """What :func:`clump` returns: the kept SNPs and every dropped SNP with its reason."""

    kept: list
    exclusions: pd.DataFrame


EXCLUSION_COLUMNS = ["snp", "step", "reason", "index_snp", "r2"]


def find_plink() -> str | None:
    """Path of a plink 1.9 executable (``$MRBOOK_PLINK``, ``plink1.9``, ``plink``) or None."""
    env = os.environ.get("MRBOOK_PLINK")
    if env:
        return env if shutil.which(env) or Path(env).is_file() else None
    exe = shutil.which("plink1.9")
    if exe:
        return exe
    exe = shutil.which("plink")
    if exe:
        try:
            ver = subprocess.run([exe, "--version"], capture_output=True, text=True,
                                 timeout=20).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        if "v1.9" in ver:
            return exe
    return None


def resolve_engine(engine: str = "auto") -> str:
    """``"plink"`` or ``"python"``: the engine :func:`clump` will use."""
    if engine not in ENGINES:
        raise ParameterError(f"unknown clumping engine {engine!r}; known: {', '.join(ENGINES)}")
    if engine == "auto":
        return "plink" if find_plink() else "python"
    if engine == "plink" and not find_plink():
        raise ParameterError("clumping engine 'plink' requested but plink 1.9 is not installed "
                             "(Debian/Ubuntu: apt-get install plink1.9; or set MRBOOK_PLINK)")
    return engine


def _normalise_input(snps) -> pd.DataFrame:
    if isinstance(snps, pd.DataFrame):
        df = snps
    else:
        df = pd.DataFrame(list(snps), columns=["rsid", "p"])
    cols = {c.lower(): c for c in df.columns}
    id_col = next((cols[c] for c in ("rsid", "snp", "variant") if c in cols), None)
    p_col = next((cols[c] for c in ("p", "pval", "pval.exposure", "p_value") if c in cols), None)
    if id_col is None or p_col is None:
        raise InputError("clumping needs columns rsid (or SNP) and p (or pval)")
    out = pd.DataFrame({"rsid": df[id_col].astype(str).to_numpy(),
                        "p": pd.to_numeric(df[p_col], errors="coerce").to_numpy(dtype=float)})
    if out["p"].isna().any():
        bad = out.loc[out["p"].isna(), "rsid"].iloc[0]
        raise InputError(f"P-value of {bad} is missing or not a number", column=p_col)
    if (out["p"] < 0).any() or (out["p"] > 1).any():
        bad = out.loc[(out["p"] < 0) | (out["p"] > 1), "rsid"].iloc[0]
        raise InputError(f"P-value of {bad} is outside [0, 1]", column=p_col)
    # one entry per SNP, its smallest P (plink sorts a SNP listed twice by its best P)
    out = out.sort_values("p", kind="stable").drop_duplicates("rsid").reset_index(drop=True)
    return out


def _bp_radius(kb: float) -> int:
    if not (kb >= 0):
        raise ParameterError(f"clumping window kb must be >= 0, got {kb}")
    return max(int(kb * 1000 * (1 + SMALL_EPSILON)) - 1, 0)


def _python_clump(df: pd.DataFrame, panel: Panel, r2: float, kb: float, p1: float):
    """plink 1.9's greedy clumping. Returns (kept rsids, {clumped rsid: (index, r²)})."""
    idx = panel.index_of(df["rsid"])
    present = idx >= 0
    by_row = np.argsort(idx[present], kind="stable")      # the input's SNPs in .bim order
    vidx = idx[present][by_row]
    rsid = df["rsid"].to_numpy()[present][by_row].tolist()
    p = df["p"].to_numpy(dtype=float)[present][by_row]
    chrom = panel.bim["chr"].to_numpy()[vidx]
    pos = panel.positions[vidx]
    radius = _bp_radius(kb)
    # index candidates: P <= p1 in increasing P, ties in .bim order
    order = sorted(np.flatnonzero(p <= p1).tolist(), key=lambda i: (p[i], vidx[i]))
    clumped = np.zeros(len(vidx), dtype=bool)
    assigned: dict[str, tuple[str, float]] = {}
    kept: list[str] = []
    by_chrom = {c: np.where(chrom == c)[0] for c in pd.unique(chrom)}
    for i in order:
        if clumped[i]:
            continue
        rs = rsid[i]
        kept.append(rs)
        rows = by_chrom[chrom[i]]
        near = rows[(np.abs(pos[rows] - pos[i]) <= radius) & (rows != i) & ~clumped[rows]]
        if not len(near):
            continue
        vals = r2_with(panel, int(vidx[i]), vidx[near], orient_minor=True)
        for k, val in zip(near.tolist(), vals.tolist()):
            if abs(val) > r2:  # NaN compares false, as in plink
                clumped[k] = True
                assigned.setdefault(rsid[k], (rs, abs(val)))
    return kept, assigned


#: plink's ``--threads`` (None: plink's default, every core). ``mrbook batch`` sets 1 in
#: its tasks (:func:`plink_threads`), so that workers sharing the cores do not each
#: start a thread per core.
PLINK_THREADS: int | None = None


@contextlib.contextmanager
def plink_threads(n: int | None):
    """Run plink with ``--threads n`` inside the block (restored after it)."""
    global PLINK_THREADS
    before, PLINK_THREADS = PLINK_THREADS, n
    try:
        yield
    finally:
        PLINK_THREADS = before


def _plink_clump(df: pd.DataFrame, panel: Panel, r2: float, kb: float, p1: float, p2: float,
                 exe: str):
    """Run ``plink1.9 --clump``; returns (kept rsids in clump order, {member: index})."""
    with tempfile.TemporaryDirectory(prefix="mrbook-clump-") as tmp:
        assoc = Path(tmp) / "input.assoc"
        assoc.write_text("SNP P\n" + "".join(f"{r} {p!r}\n" for r, p in
                                             zip(df["rsid"], df["p"])))
        out = Path(tmp) / "clump"
        cmd = [exe, "--bfile", str(panel.prefix), "--clump", str(assoc),
               "--clump-p1", repr(float(p1)), "--clump-p2", repr(float(p2)),
               "--clump-r2", repr(float(r2)), "--clump-kb", repr(float(kb)),
               "--allow-extra-chr", "--out", str(out)]
        if PLINK_THREADS is not None:
            cmd += ["--threads", str(int(PLINK_THREADS))]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            log = Path(f"{out}.log")
            msg = log.read_text() if log.is_file() else proc.stdout + proc.stderr
            err = [ln for ln in msg.splitlines() if ln.lower().startswith("error")]
            raise MRBookError(f"plink1.9 --clump failed: {err[0] if err else msg.strip()[-200:]}")
        clumped = Path(f"{out}.clumped")
        if not clumped.is_file():
            return [], {}
        tab = pd.read_csv(clumped, sep=r"\s+", dtype=str)
    kept = tab["SNP"].tolist()
    members: dict[str, str] = {}
    for index, sp2 in zip(tab["SNP"], tab["SP2"]):
        if sp2 == "NONE":
            continue
        for item in sp2.split(","):
            name = item.rsplit("(", 1)[0]
            if name and name != index:
                members.setdefault(name, index)
    return kept, members


def clump(snps, panel, r2: float = 0.01, kb: float = 10000, p1: float = 5e-8,
          p2: float = 1.0, engine: str = "auto") -> ClumpResult:
    """LD-clump SNPs against a reference panel, as ``plink1.9 --clump``.

    Parameters
    ----------
    snps : DataFrame or iterable of (rsid, p)
        SNP IDs (column ``rsid`` or ``SNP``) and P-values (``p`` or ``pval``).
    panel : str, Path or Panel
        PLINK 1 binary fileset prefix (or an opened :class:`Panel`).
    r2 : float
        A SNP joins an index SNP's clump when r² > ``r2`` (0.01: TwoSampleMR's
        ``clump_r2`` in the study).
    kb : float
        Window radius in kilobases (10000: TwoSampleMR's default ``clump_kb``).
    p1 : float
        Largest P of an index SNP (5e-8).
    p2 : float
        Largest P of a SNP listed in a clump (plink's ``SP2``; it does not change
        which SNPs are kept).
    engine : {"auto", "plink", "python"}
        ``auto`` runs plink 1.9 when installed, the Python implementation otherwise.

    Returns
    -------
    ClumpResult
        ``kept``: the index SNPs, in increasing P; ``exclusions``: one row per dropped
        SNP with columns ``snp``, ``step`` (``"clumping"``), ``reason`` (e.g.
        ``"in LD with rs123 (r²=0.412)"``), ``index_snp`` and ``r2``.
        ``exclusions.attrs["engine"]`` names the engine used.

    Notes
    -----
    r² is plink's EM haplotype r² (see :func:`mrbook.rmath.plink.plink_clump_r2`), computed on the
    panel's founders; the window keeps ``|bp - bp_index| <= 1000 * kb - 1``.

    Examples
    --------
    >>> kept, dropped = clump(table, "ref/EUR", engine="python")  # doctest: +SKIP
    """
    df = _normalise_input(snps)
    if not isinstance(panel, Panel):
        panel = read_panel(panel)
    for name, val in (("r2", r2), ("p1", p1), ("p2", p2)):
        if not isinstance(val, (int, float)) or math.isnan(val):
            raise ParameterError(f"clumping {name} must be a number, got {val!r}")
    used = resolve_engine(engine)
    in_panel = panel.index_of(df["rsid"]) >= 0
    if used == "plink":
        kept, members = _plink_clump(df, panel, r2, kb, p1, p2, find_plink())
        reasons = {}
        if members:
            by_index: dict[str, list[str]] = {}
            for m, ix in members.items():
                by_index.setdefault(ix, []).append(m)
            for ix, ms in by_index.items():
                vals = r2_with(panel, int(panel.index_of([ix])[0]), panel.index_of(ms),
                               orient_minor=True)
                for m, v in zip(ms, vals):
                    reasons[m] = (ix, abs(float(v)))
    else:
        kept, reasons = _python_clump(df, panel, r2, kb, p1)
    kept_set = set(kept)
    rows = []
    for rs, p, ok in zip(df["rsid"], df["p"], in_panel):
        if rs in kept_set:
            continue
        if not ok:
            rows.append((rs, "clumping", "not in the LD reference panel (plink drops SNPs "
                                          "missing from the panel)", None, math.nan))
        elif rs in reasons:
            ix, val = reasons[rs]
            rows.append((rs, "clumping", f"in LD with {ix} (r²={val:.3f})", ix, val))
        elif p > p1:
            rows.append((rs, "clumping", f"P={p:.3g} above clump_p1={p1:g}: not an index SNP",
                         None, math.nan))
        else:  # pragma: no cover - plink kept/clumped everything else
            rows.append((rs, "clumping", "not kept by plink --clump", None, math.nan))
    excl = pd.DataFrame(rows, columns=EXCLUSION_COLUMNS)
    excl["r2"] = excl["r2"].astype(float)
    excl.attrs["engine"] = used
    return ClumpResult(kept=list(kept), exclusions=excl)


def find_proxies(panel: Panel, targets, available=None, r2_min: float = 0.8,
                 kb: float = 500, best_only: bool = True) -> pd.DataFrame:
    """LD proxies of target SNPs in the panel (plink ``--clump`` r² >= ``r2_min``).

    Parameters
    ----------
    panel : Panel
    targets : iterable of str
        SNPs to replace.
    available : iterable of str, optional
        SNPs a proxy may be drawn from (e.g. those present in the outcome file);
        default every panel SNP.
    r2_min : float
        Smallest r² of an acceptable proxy (0.8, as OpenGWAS).
    kb : float
        Search radius in kilobases.
    best_only : bool
        One row per target (its best proxy) instead of every candidate.

    Returns
    -------
    DataFrame
        ``target``, ``proxy``, ``r2`` (unsigned), ``phase`` (+1 when the A1 alleles
        are in phase, -1 otherwise), ``target_a1``, ``target_a2``, ``proxy_a1``,
        ``proxy_a2``, ``distance``; per target ordered by decreasing r², then
        distance. Targets with no proxy (or absent from the panel) have no row.
    """
    rows = []
    chrom = panel.bim["chr"].to_numpy()
    pos = panel.positions
    ids = panel.bim["rsid"].to_numpy()
    avail = np.ones(len(ids), dtype=bool) if available is None else \
        np.isin(ids, np.array(sorted({str(a) for a in available}), dtype=object))
    radius = _bp_radius(kb)
    a1 = panel.bim["a1"].to_numpy()
    a2 = panel.bim["a2"].to_numpy()
    by_chrom = panel.by_chromosome  # chromosome -> (its rows ordered by position, their positions)
    for t in targets:
        ti = int(panel.index_of([t])[0])
        if ti < 0:
            continue
        on_c, pos_c = by_chrom[chrom[ti]]
        # the rows with |pos - pos[ti]| <= radius, in panel order (what a scan of the
        # whole panel finds, without scanning it for every target)
        lo = np.searchsorted(pos_c, pos[ti] - radius, side="left")
        hi = np.searchsorted(pos_c, pos[ti] + radius, side="right")
        cand = np.sort(on_c[lo:hi])
        cand = cand[avail[cand] & (cand != ti)]
        if not len(cand):
            continue
        vals = r2_with(panel, ti, cand)
        ok = np.flatnonzero(np.abs(vals) >= r2_min)
        if not len(ok):
            continue
        dist = np.abs(pos[cand] - pos[ti])
        ranked = sorted(ok, key=lambda k: (-abs(vals[k]), dist[k], cand[k]))
        for k in ranked[:1] if best_only else ranked:
            j = cand[k]
            rows.append((t, ids[j], abs(float(vals[k])), 1 if vals[k] > 0 else -1,
                         a1[ti], a2[ti], a1[j], a2[j], int(dist[k])))
    return pd.DataFrame(rows, columns=["target", "proxy", "r2", "phase", "target_a1",
                                       "target_a2", "proxy_a1", "proxy_a2", "distance"])
