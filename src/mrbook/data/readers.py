"""Data layer: read GWAS summary statistics (VCF, GWAS-SSF, FinnGen, delimited) into one table.

Five input formats are understood, plain or gzip-compressed (detected by the
magic bytes ``1f 8b``, so bgzip files such as FinnGen's and OpenGWAS's work too):

``"vcf"``
    IEU GWAS VCF, the OpenGWAS download (Lyon et al. 2021). One sample column per
    study holds the FORMAT fields ``ES`` (effect of ALT), ``SE``, ``LP``
    (-log10 p), ``AF`` (ALT frequency), ``SS`` (sample size), ``NC`` (cases) and
    ``ID``. ALT is the effect allele.
``"gwas-ssf"``
    GWAS Catalog summary-statistics format (GWAS-SSF v1): ``chromosome``,
    ``base_pair_location``, ``effect_allele``, ``other_allele``, ``beta``,
    ``standard_error``, ``effect_allele_frequency``, ``p_value`` (or
    ``neg_log_10_p_value``), ``rsid``, optional ``n``.
``"finngen"``
    FinnGen release files: ``#chrom``, ``pos``, ``ref``, ``alt`` (the effect
    allele), ``rsids``, ``pval``, ``mlogp``, ``beta``, ``sebeta`` and the allele
    frequency of ``alt`` (``af_alt`` from R6 on; ``maf`` up to R5).
``"tsmr"``
    TwoSampleMR tables: formatted (``SNP``, ``beta.exposure``, ``se.exposure``,
    ``effect_allele.exposure`` ... or the ``.outcome`` columns) or raw in
    ``read_exposure_data``'s default names (``SNP``, ``beta``, ``se``,
    ``effect_allele``, ``other_allele``, ``eaf``, ``pval``, ``samplesize``...).
``"delimited"``
    Any delimited text with a ``mapping`` from normalised names to file columns.

Every reader returns the same columns (:data:`COLUMNS`); see
:func:`read_sumstats` for their meaning and for the rules applied to real data.
"""

from __future__ import annotations

import csv
import gzip
import math
import os
import re
import stat
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
from scipy import special

from ..errors import InputError, ParameterError
from .frames import frame_from_arrays, str_array

__all__ = [
    "COLUMNS",
    "FORMATS",
    "MAPPING_KEYS",
    "detect_format",
    "effective_p",
    "read_sumstats",
    "to_tsmr",
    "tsmr_frame",
]

#: Columns of the normalised table, in order.
COLUMNS: tuple[str, ...] = (
    "rsid", "chr", "pos", "effect_allele", "other_allele",
    "eaf", "beta", "se", "p", "n", "ncase", "ncontrol",
)

#: Format names accepted by :func:`read_sumstats` (besides ``"auto"``).
FORMATS: tuple[str, ...] = ("vcf", "gwas-ssf", "finngen", "tsmr", "delimited")

#: Keys a ``mapping`` for ``fmt="delimited"`` may use (normalised name -> file column).
MAPPING_KEYS: tuple[str, ...] = COLUMNS + ("neg_log10_p",)

_REQUIRED_MAPPING = ("rsid", "effect_allele", "beta", "se")
_STRING_ROLES = ("rsid", "chr", "effect_allele", "other_allele", "study_id")
_FLOAT_ROLES = ("eaf", "beta", "se", "p", "neg_log10_p", "n", "ncase", "ncontrol")
_NULLS = ["", "NA", "#NA", "N/A", "n/a", "NaN", "nan", "-nan", "-NaN", "NULL", "null",
          "None", "."]
_PANDAS3 = int(pd.__version__.split(".")[0]) >= 3
#: the dtype of a text column (:func:`_as_str`): ``str`` from pandas 3, object before
_TEXT = pd.api.types.pandas_dtype("str") if _PANDAS3 else np.dtype(object)
_BLOCK = 1 << 23  # bytes per parsed block: large enough to amortise per-block work, small
# enough that pyarrow's read-ahead stays under ~100 MB whatever the file size
_GZIP_MAGIC = b"\x1f\x8b"

_SSF_COLUMNS = ("chromosome", "base_pair_location", "effect_allele", "other_allele",
                "beta", "standard_error", "effect_allele_frequency", "p_value", "rsid")
_FINNGEN_COLUMNS = ("#chrom", "pos", "ref", "alt", "rsids", "pval", "mlogp", "beta", "sebeta")
_VCF_FIXED = ("#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT")
_VCF_FIELDS = {"ES": "beta", "SE": "se", "LP": "neg_log10_p", "AF": "eaf", "SS": "n",
               "NC": "ncase", "ID": "vcf_id"}


# --------------------------------------------------------------------------- public API


def detect_format(path: str | Path) -> str:
    """Tell the format of a summary-statistics file from its first lines.

    Parameters
    ----------
    path : str or Path
        File to inspect, plain or gzip-compressed.

    Returns
    -------
    str
        One of ``"vcf"``, ``"gwas-ssf"``, ``"finngen"``, ``"tsmr"``.

    Raises
    ------
    InputError
        When the file is empty, not readable as text, or its header matches no
        known format (then pass ``fmt="delimited"`` with a ``mapping``).

    Notes
    -----
    Rules, first match wins: a first line ``##fileformat=VCF`` or a ``#CHROM``
    header is ``"vcf"``; a header with ``#chrom``, ``pos``, ``ref``, ``alt`` and
    ``pval`` or ``mlogp`` is ``"finngen"``; one with ``base_pair_location`` (or
    ``chromosome`` with ``standard_error``) is ``"gwas-ssf"``; one with ``SNP``
    and ``beta.exposure``, ``beta.outcome`` or ``beta`` is ``"tsmr"``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.tsv"
    >>> _ = p.write_text("#chrom\\tpos\\tref\\talt\\trsids\\tpval\\n")
    >>> detect_format(p)
    'finngen'
    """
    path = Path(path)
    head = _Head.read(path)
    fmt = head.guess()
    if fmt is None:
        raise InputError(
            "cannot tell the format from the header (columns: "
            + ", ".join(head.header[:20]) + "); pass fmt='delimited' with a mapping "
            "such as {'rsid': 'SNP', 'beta': 'b', 'se': 'se', 'effect_allele': 'A1', ...}",
            path, 0, None)
    return fmt


def read_sumstats(path: str | Path, fmt: str = "auto", mapping: Mapping[str, str] | None = None,
                  p_max: float | None = None, snps: Iterable[str] | None = None, *,
                  role: str | None = None, study: str | None = None,
                  sep: str | None = None) -> pd.DataFrame:
    """Read GWAS summary statistics into the normalised table.

    The file is streamed in large blocks through pyarrow's CSV reader (VCF bodies
    too: each block's sample column is parsed again as ':'-separated text, per
    distinct FORMAT, with no per-row Python code). The filters
    ``p_max``, ``snps`` and ``study`` are applied to each block as it is read, so
    a 10-million-row file filtered at ``p_max=5e-8`` never holds more than one
    block plus the kept rows in memory.

    Parameters
    ----------
    path : str or Path
        Summary-statistics file, plain or gzip/bgzip-compressed.
    fmt : {"auto", "vcf", "gwas-ssf", "finngen", "tsmr", "delimited"}, default "auto"
        Input format. ``"auto"`` uses :func:`detect_format`, or ``"delimited"``
        when a ``mapping`` is given.
    mapping : dict of str to str, optional
        For ``"delimited"``: normalised name -> file column, e.g.
        ``{"rsid": "SNP", "beta": "b", "se": "se", "effect_allele": "A1"}``. Keys
        are from :data:`MAPPING_KEYS` (``neg_log10_p`` reads -log10 p);
        ``rsid``, ``effect_allele``, ``beta`` and ``se`` are required.
    p_max : float, optional
        Keep only rows with ``p < p_max`` (rows with unknown p are dropped; p = 0 is
        kept).
    snps : iterable of str, optional
        Keep only these rsIDs.
    role : {"exposure", "outcome"}, optional
        TwoSampleMR tables only: which side's columns to read. By default the side
        present; a harmonised table has both, and then the exposure side is read.
    study : str, optional
        A file holding several studies needs one chosen: the sample column of a
        VCF, or the ``id.<role>`` value (``id``/``Phenotype`` in raw tables) of a
        TwoSampleMR table.
    sep : str, optional
        Field separator for ``"tsmr"``/``"delimited"``; ``"whitespace"`` splits on
        runs of blanks. By default it is sniffed from the header line (tab, then
        comma, then whitespace).

    Returns
    -------
    pandas.DataFrame
        One row per variant, columns :data:`COLUMNS`:

        - ``rsid`` (str): rsID, NA when the file has none.
        - ``chr`` (str): chromosome without a ``chr`` prefix; ``23``/``24`` are
          written ``X``/``Y``, ``M``/``26`` (and ``25`` in GWAS-SSF) ``MT``.
        - ``pos`` (Int64, nullable): base-pair position in the file's build.
        - ``effect_allele``, ``other_allele`` (str, upper case): alleles as
          written, indels included (``"AT"``, ``"I"``/``"D"``).
        - ``eaf`` (float64): frequency of the effect allele, NaN when unknown.
        - ``beta``, ``se`` (float64): effect of the effect allele and its SE.
        - ``p`` (float64): p-value. ``10**-LP`` in VCF; FinnGen ``pval`` (or
          ``10**-mlogp`` when ``pval`` is 0 or missing). 0 is kept (underflow):
          use :func:`effective_p` where a positive p is needed. When a file has no
          p column at all, p is inferred as ``2*Phi(-|beta/se|)`` as TwoSampleMR's
          ``format_data`` does.
        - ``n``, ``ncase``, ``ncontrol`` (float64): sample sizes, NaN when
          unknown. In a VCF, ``SS`` gives n and ``NC`` ncase (ncontrol = SS - NC);
          the ``##SAMPLE`` header fills rows that give none (case-control:
          TotalCases, TotalControls and their sum; continuous: n = TotalControls,
          which is where OpenGWAS stores N). A GWAS-SSF ``<file>-meta.yaml``
          (sample_size, case_count, control_count) fills rows the same way.

    Raises
    ------
    InputError
        One line naming the file, the 1-based data row and the column. Rows are
        counted as a user counts data lines: the header line is row 0, the
        lines before it (VCF ``##`` meta-information) are not counted, nor are
        blank lines. Raised for missing columns (naming them and the format
        expected), text in a numeric column, p outside [0, 1], negative -log10 p,
        SE that is zero, negative or infinite, infinite beta, allele frequency
        outside [0, 1], negative sample sizes, a truncated gzip stream, VCF
        records without ES/SE in FORMAT or with several ALT alleles, an rsID
        found at two positions, and a file with several studies but no
        ``study``.
    ParameterError
        For an unknown ``fmt``, ``role``, ``sep`` or mapping key.

    Notes
    -----
    Checks on values run on every row, before filtering, so a bad value is
    reported even where ``p_max`` would have dropped its row; the rsID/position
    and duplicate rules run on the kept rows.

    Duplicated rsIDs. Rows are identified by ``(rsid, {effect_allele,
    other_allele})``: when the same rsID appears more than once with the same
    pair of alleles (in either orientation) only the first row is kept, as
    TwoSampleMR's ``format_data`` keeps the first instance of a duplicated SNP.
    The same rsID with different allele pairs at one position (a multi-allelic
    site split into biallelic records) keeps every row; harmonisation later picks
    the record whose alleles match the other study. The same rsID at two
    different positions is an error. FinnGen's ``rsids`` may list several rsIDs
    ("rs1,rs2"); the row is repeated once per rsID.

    FinnGen frequencies. FinnGen's data descriptions up to R5 define ``maf`` as
    "alternative (effect) allele frequency" despite the name
    (https://finngen.gitbook.io/documentation/r5/data-description), and R6 on
    rename it ``af_alt``; both are read as ``eaf``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.tsv"
    >>> _ = p.write_text(
    ...     "chromosome\\tbase_pair_location\\teffect_allele\\tother_allele\\tbeta\\t"
    ...     "standard_error\\teffect_allele_frequency\\tp_value\\trsid\\n"
    ...     "1\\t100\\ta\\tg\\t0.2\\t0.01\\t0.3\\t1e-90\\trs1\\n"
    ...     "chr2\\t200\\tAT\\tA\\t0.01\\t0.01\\tNA\\t0.3\\trs2\\n")
    >>> d = read_sumstats(p, p_max=5e-8)
    >>> d[["rsid", "chr", "pos", "effect_allele", "p"]].to_dict("records")
    [{'rsid': 'rs1', 'chr': '1', 'pos': 100, 'effect_allele': 'A', 'p': 1e-90}]
    """
    path = Path(path)
    if fmt not in ("auto",) + FORMATS:
        raise ParameterError(f"unknown format {fmt!r}; choose one of: auto, " + ", ".join(FORMATS))
    if role is not None and role not in ("exposure", "outcome"):
        raise ParameterError(f"role must be 'exposure' or 'outcome', got {role!r}")
    if p_max is not None:
        p_max = float(p_max)
        if not p_max > 0:
            raise ParameterError(f"p_max must be > 0, got {p_max}")
    snp_set = None
    if snps is not None:
        snp_set = pa.array(sorted({str(s).strip() for s in snps}), pa.string())
    head = _Head.read(path)
    if fmt == "auto":
        fmt = "delimited" if mapping is not None else head.guess()
        if fmt is None:
            detect_format(path)  # raises the explanatory error
    if mapping is not None and fmt != "delimited":
        raise ParameterError(f"mapping is only used with fmt='delimited' (fmt is {fmt!r})")
    plan = _PLANNERS[fmt](head, mapping=mapping, role=role, study=study, sep=sep)
    state = _State(plan=plan, p_max=p_max, snp_set=snp_set)
    tables = [t for t in (_normalise(state, cols, rows) for cols, rows in _batches(plan))
              if t is not None and t.num_rows]
    state.finish()
    return _finish(plan, tables)


def effective_p(df: pd.DataFrame, *, log10: bool = False) -> pd.Series:
    """P-values that are positive wherever the data allow, for ranking and clumping.

    Parameters
    ----------
    df : pandas.DataFrame
        Normalised table (columns ``p``, ``beta``, ``se``).
    log10 : bool, default False
        Return ``-log10(p)`` instead, which never underflows.

    Returns
    -------
    pandas.Series
        ``p`` where it is positive; where ``p`` is 0 (underflow) or missing, the
        two-sided normal p-value of ``z = beta/se``.

    Notes
    -----
    The fallback is :math:`p = 2\\Phi(-|z|)`, computed in log space as
    :math:`\\ln p = \\ln 2 + \\ln\\Phi(-|z|)` with ``scipy.special.log_ndtr``, so
    it stays > 0 down to the smallest double (|z| up to about 38.5). Beyond
    that ``p`` is set to the smallest positive double (5e-324) so that it still
    ranks before every non-zero p; ``log10=True`` gives the exact ``-log10 p``
    there. Rows whose p is missing and whose beta or se is missing stay NaN.

    Examples
    --------
    >>> d = pd.DataFrame({"p": [0.0, 0.05], "beta": [1.0, 0.1], "se": [0.02, 0.05]})
    >>> bool((effective_p(d) > 0).all())
    True
    >>> round(float(effective_p(d, log10=True).iloc[0]), 1)
    544.7
    """
    p = df["p"].to_numpy(dtype=float, copy=True)
    z = np.abs(df["beta"].to_numpy(dtype=float) / df["se"].to_numpy(dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        ln_z = math.log(2.0) + special.log_ndtr(-z)
        fill = (p == 0) | np.isnan(p)
        if log10:
            out = -np.log10(p)
            out[fill] = -ln_z[fill] / math.log(10.0)
        else:
            out = p
            out[fill] = np.exp(ln_z[fill])
            tiny = fill & (out == 0) & np.isfinite(ln_z)
            out[tiny] = np.nextafter(0.0, 1.0)
    return pd.Series(out, index=df.index, name="p")


def to_tsmr(df: pd.DataFrame, role: str, id: str | None = None,
            trait: str | None = None) -> pd.DataFrame:
    """Rename a normalised table to TwoSampleMR's exposure or outcome columns.

    Parameters
    ----------
    df : pandas.DataFrame
        Normalised table from :func:`read_sumstats` or :class:`mrbook.data.opengwas.OpenGWAS`.
    role : {"exposure", "outcome"}
        Which side of a TwoSampleMR analysis the table is.
    id : str, optional
        Study ID for ``id.<role>``. Default: the table's ``id`` column when it
        has one (OpenGWAS results), else ``trait``.
    trait : str, optional
        Trait name for the ``<role>`` column. Default: the table's ``trait``
        column when it has one, else the role name (as TwoSampleMR's
        ``format_data`` does without a phenotype column).

    Returns
    -------
    pandas.DataFrame
        Columns ``SNP``, ``beta.<role>``, ``se.<role>``, ``effect_allele.<role>``,
        ``other_allele.<role>``, ``eaf.<role>``, ``pval.<role>``,
        ``samplesize.<role>``, ``ncase.<role>``, ``ncontrol.<role>``,
        ``chr.<role>``, ``pos.<role>``, ``id.<role>``, ``<role>``; plus, when the
        table carries OpenGWAS proxy columns, ``proxy.<role>``,
        ``target_snp.<role>``, ``proxy_snp.<role>``, ``target_a1.<role>``,
        ``target_a2.<role>``, ``proxy_a1.<role>``, ``proxy_a2.<role>``.

    Examples
    --------
    >>> d = pd.DataFrame({c: [None] for c in COLUMNS}).assign(rsid="rs1", beta=0.1)
    >>> list(to_tsmr(d, "outcome", id="finn-b-X").columns[:3])
    ['SNP', 'beta.outcome', 'se.outcome']
    """
    if role not in ("exposure", "outcome"):
        raise ParameterError(f"role must be 'exposure' or 'outcome', got {role!r}")
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ParameterError("to_tsmr needs a normalised table; missing columns: " + ", ".join(missing))
    if trait is None:
        trait = df["trait"] if "trait" in df.columns else role
    if id is None:
        id = df["id"] if "id" in df.columns else trait
    return tsmr_frame({c: df[c].array for c in (*COLUMNS, *_PROXY_NAMES) if c in df.columns},
                      role, id, trait, df.index)


def tsmr_frame(cols: Mapping[str, object], role: str, id, trait, index: pd.Index, *,
               copy: bool = True) -> pd.DataFrame:
    """The core of :func:`to_tsmr`: TwoSampleMR's table of a normalised table's column arrays.

    Parameters
    ----------
    cols : mapping
        Normalised column name -> its values (an array; every name of
        :data:`COLUMNS`, and OpenGWAS proxy columns when there are some).
    role : {"exposure", "outcome"}
    id, trait : str or Series
        ``id.<role>`` and ``<role>``: one value for every row, or a Series.
    index : Index
        The rows (a text value is repeated ``len(index)`` times).
    copy : bool
        Copy the arrays (default). False, for arrays made for this table: they are
        taken as they are (:func:`~mrbook.data.frames.frame_from_arrays`; numpy-backed
        pandas arrays as their numpy arrays, as ``pd.DataFrame`` does): the same table,
        at a third of the cost.

    Returns
    -------
    pandas.DataFrame
        As :func:`to_tsmr` (rows numbered from 0).
    """
    r = role
    out = {"SNP": cols["rsid"]}
    for src, dst in (("beta", "beta"), ("se", "se"), ("effect_allele", "effect_allele"),
                     ("other_allele", "other_allele"), ("eaf", "eaf"), ("p", "pval"),
                     ("n", "samplesize"), ("ncase", "ncase"), ("ncontrol", "ncontrol"),
                     ("chr", "chr"), ("pos", "pos")):
        out[f"{dst}.{r}"] = cols[src]
    out[f"id.{r}"] = _str_array(id, index)
    out[r] = _str_array(trait, index)
    for src, dst in _PROXY_NAMES.items():
        if src in cols:
            out[f"{dst}.{r}"] = cols[src]
    if not copy:
        return frame_from_arrays(list(out.values()), out, len(index))
    return pd.DataFrame(out, copy=True)


#: OpenGWAS proxy columns of a normalised table -> TwoSampleMR's names (``<name>.<role>``)
_PROXY_NAMES = {"proxy": "proxy", "target_rsid": "target_snp", "proxy_rsid": "proxy_snp",
                "target_a1": "target_a1", "target_a2": "target_a2",
                "proxy_a1": "proxy_a1", "proxy_a2": "proxy_a2"}


# --------------------------------------------------------------------------- file header


def check_input_file(path: Path) -> None:
    """Refuse, in one line, an input path that is not a readable regular file."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError("file not found", path) from None
    except OSError as exc:
        raise InputError(f"cannot read the file ({(exc.strerror or str(exc)).lower()})",
                         path) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError("is a directory (folder), expected a file", path)
    if not stat.S_ISREG(st.st_mode):
        raise InputError("is not a regular file (a FIFO, socket or device); summary "
                         "statistics are read more than once: save them to a file first", path)


def binary_reason(sample: bytes) -> str | None:
    """Why the first bytes of a file are not UTF-8 text, or None if they are.

    A UTF-16 byte-order mark (Excel's "Unicode text") and NUL bytes are named; other
    bytes that UTF-8 cannot decode give their offset.
    """
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return ("is UTF-16 text (e.g. Excel's 'Unicode text'); save it as UTF-8 (CSV UTF-8 "
                "or tab-separated text)")
    if b"\x00" in sample:
        return (f"not a text table: binary data (a NUL byte at byte {sample.index(0) + 1}); "
                "expected CSV/TSV text, gzip-compressed or not")
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.end < len(sample) - 3 or exc.reason != "unexpected end of data":
            return (f"not a text file: byte {exc.start + 1} is not UTF-8; expected CSV/TSV "
                    "text in UTF-8, gzip-compressed or not")
    return None


def _is_gzip(path: Path) -> bool:
    check_input_file(path)
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == _GZIP_MAGIC
    except OSError as exc:
        raise InputError(f"cannot read the file ({(exc.strerror or str(exc)).lower()})",
                         path) from None


def _first_bytes(path: Path, gz: bool, n: int = 1 << 16) -> bytes:
    try:
        if gz:
            with gzip.open(path, "rb") as fh:
                return fh.read(n)
        with open(path, "rb") as fh:
            return fh.read(n)
    except (EOFError, OSError, zlib.error) as exc:
        raise InputError(f"cannot read the header ({exc}); is the gzip file truncated?",
                         path, 0, None) from None


@dataclass
class _Head:
    """The lines of a file up to and including its header line."""

    path: Path
    gz: bool
    meta: list[str]          # lines before the header (VCF ## lines)
    line: str                # the header line itself

    @classmethod
    def read(cls, path: Path) -> "_Head":
        gz = _is_gzip(path)
        why = binary_reason(_first_bytes(path, gz))
        if why:
            raise InputError(why, path)
        meta: list[str] = []
        try:
            opener = gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="") \
                if gz else open(path, encoding="utf-8", errors="replace", newline="")
            with opener as fh:
                for raw in fh:
                    text = raw.rstrip("\r\n")
                    if text.startswith("##"):
                        meta.append(text)
                        continue
                    if not text.strip():
                        meta.append(text)
                        continue
                    return cls(path, gz, meta, text.lstrip("\ufeff"))
        except (EOFError, OSError, gzip.BadGzipFile) as exc:
            raise InputError(f"cannot read the header ({exc}); is the gzip file truncated?",
                             path, 0, None) from None
        raise InputError("the file is empty (no header line)", path, 0, None)

    @property
    def sep(self) -> str:
        line = self.line
        if "\t" in line:
            return "\t"
        if "," in line:
            return ","
        if " " in line.strip():
            return "whitespace"
        return "\t"

    @property
    def header(self) -> list[str]:
        return _split_header(self.line, self.sep)

    def guess(self) -> str | None:
        if (self.meta and self.meta[0].startswith("##fileformat=VCF")) or self.line.startswith("#CHROM"):
            return "vcf"
        cols = set(self.header)
        if {"#chrom", "pos", "ref", "alt"} <= cols and ({"pval", "mlogp"} & cols):
            return "finngen"
        if "base_pair_location" in cols or {"chromosome", "standard_error"} <= cols:
            return "gwas-ssf"
        if "SNP" in cols and ({"beta.exposure", "beta.outcome", "beta"} & cols):
            return "tsmr"
        return None


def _split_header(line: str, sep: str) -> list[str]:
    if sep == "whitespace":
        names = [n.strip('"') for n in line.split()]
    else:
        names = next(csv.reader([line], delimiter=sep, quotechar='"'))
    return [n.strip() for n in names]


# --------------------------------------------------------------------------- plans


@dataclass
class _Plan:
    """How to read one file: where each normalised quantity comes from."""

    fmt: str
    path: Path
    gz: bool
    sep: str                      # one character, or "whitespace"
    quote: bool
    header: list[str]
    skip: int                     # physical lines before the header line
    src: dict[str, int]           # role -> column index in the file
    labels: dict[str, str]        # role -> column name shown in errors
    chr_codes: dict[str, str] = field(default_factory=dict)
    rsid_sep: str | None = None
    fill: dict[str, float] = field(default_factory=dict)
    study: str | None = None


_CHR_COMMON = {"23": "X", "24": "Y", "26": "MT", "M": "MT", "MT": "MT", "X": "X", "Y": "Y"}


def _missing_error(head: _Head, fmt_label: str, missing: list[str], expected: Iterable[str],
                   extra: str = "") -> InputError:
    return InputError(
        f"missing column(s) {', '.join(missing)} for {fmt_label}; expected "
        f"{', '.join(expected)}; the header has: {', '.join(head.header[:25])}{extra}",
        head.path, 0, missing[0])


def _index(head: _Head, names: list[str]) -> dict[str, int]:
    idx: dict[str, int] = {}
    for i, n in enumerate(names):
        if n in idx and n:
            raise InputError(f"duplicated column name {n!r} in the header (columns {idx[n] + 1} "
                             f"and {i + 1}); each column needs its own name", head.path, 0, n)
        idx[n] = i
    return idx


def _plan_ssf(head: _Head, **_: object) -> _Plan:
    names = head.header
    idx = _index(head, names)
    missing = [c for c in _SSF_COLUMNS if c not in idx
               and not (c == "p_value" and "neg_log_10_p_value" in idx)]
    if "beta" in missing and ({"odds_ratio", "hazard_ratio", "z-score"} & set(idx)):
        other = sorted({"odds_ratio", "hazard_ratio", "z-score"} & set(idx))[0]
        raise InputError(
            f"this GWAS-SSF file gives its effect as '{other}', not 'beta'; convert it to "
            "beta (log scale) with its SE and read it with fmt='delimited' and a mapping",
            head.path, 0, other)
    if missing:
        extra = (" (rsid is optional in GWAS-SSF but mrbook matches SNPs by rsID)"
                 if missing == ["rsid"] else "")
        raise _missing_error(head, "GWAS-SSF (gwas-ssf)", missing, _SSF_COLUMNS, extra)
    roles = {"rsid": "rsid", "chr": "chromosome", "pos": "base_pair_location",
             "effect_allele": "effect_allele", "other_allele": "other_allele",
             "eaf": "effect_allele_frequency", "beta": "beta", "se": "standard_error",
             "p": "p_value", "neg_log10_p": "neg_log_10_p_value", "n": "n"}
    src = {r: idx[c] for r, c in roles.items() if c in idx}
    return _Plan("gwas-ssf", head.path, head.gz, "\t" if head.sep != "," else ",", True, names,
                 len(head.meta), src, {r: names[i] for r, i in src.items()},
                 chr_codes={**_CHR_COMMON, "25": "MT"}, fill=_ssf_meta(head.path))


def _ssf_meta(path: Path) -> dict[str, float]:
    """Sample sizes from a GWAS-SSF metadata sidecar (``<file>-meta.yaml``), if any."""
    candidates = [path.with_name(path.name + "-meta.yaml")]
    if path.suffix == ".gz":
        candidates.append(path.with_name(path.stem + "-meta.yaml"))
    for meta in candidates:
        if not meta.is_file():
            continue
        import yaml  # local import: only GWAS-SSF files with a sidecar need it

        try:
            data = yaml.safe_load(meta.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise InputError(f"cannot parse the GWAS-SSF metadata: {exc}", meta) from None
        out: dict[str, float] = {}
        for key, role in (("sample_size", "n"), ("case_count", "ncase"),
                          ("control_count", "ncontrol")):
            value = data.get(key) if isinstance(data, dict) else None
            if value is not None:
                try:
                    out[role] = float(value)
                except (TypeError, ValueError):
                    raise InputError(f"expected a number, got {value!r}", meta, None, key) from None
        return out
    return {}


def _plan_finngen(head: _Head, **_: object) -> _Plan:
    names = head.header
    idx = _index(head, names)
    need = ("#chrom", "pos", "ref", "alt", "rsids", "beta", "sebeta")
    missing = [c for c in need if c not in idx]
    if "pval" not in idx and "mlogp" not in idx:
        missing.append("pval")
    if missing:
        raise _missing_error(head, "FinnGen (finngen)", missing,
                             _FINNGEN_COLUMNS + ("af_alt (R6+) or maf (R3-R5)",))
    roles = {"rsid": "rsids", "chr": "#chrom", "pos": "pos", "effect_allele": "alt",
             "other_allele": "ref", "beta": "beta", "se": "sebeta", "p": "pval",
             "neg_log10_p": "mlogp"}
    src = {r: idx[c] for r, c in roles.items() if c in idx}
    if "af_alt" in idx:
        src["eaf"] = idx["af_alt"]
    elif "maf" in idx:  # R3-R5: "alternative (effect) allele frequency"
        src["eaf"] = idx["maf"]
    return _Plan("finngen", head.path, head.gz, "\t", True, names, len(head.meta), src,
                 {r: names[i] for r, i in src.items()}, chr_codes=dict(_CHR_COMMON),
                 rsid_sep=",")


def _plan_tsmr(head: _Head, *, role: str | None, study: str | None, sep: str | None,
               **_: object) -> _Plan:
    sep = _check_sep(sep) or head.sep
    names = _split_header(head.line, sep)
    idx = _index(head, names)
    if role is None:
        role = "exposure" if "beta.exposure" in idx else ("outcome" if "beta.outcome" in idx else None)
    sfx = f".{role}" if role is not None and f"beta.{role}" in idx else ""
    if role is not None and not sfx and "beta" not in idx:
        raise _missing_error(head, f"a TwoSampleMR {role} table (tsmr)", [f"beta.{role}"],
                             [f"SNP, beta.{role}, se.{role}, effect_allele.{role}"])
    need = ["SNP", f"beta{sfx}", f"se{sfx}", f"effect_allele{sfx}"]
    missing = [c for c in need if c not in idx]
    if missing:
        label = f"a TwoSampleMR {role} table (tsmr)" if sfx else "a TwoSampleMR table (tsmr)"
        raise _missing_error(head, label, missing,
                             need + [f"other_allele{sfx}", f"eaf{sfx}", f"pval{sfx}",
                                     f"samplesize{sfx}", f"ncase{sfx}", f"ncontrol{sfx}"])
    roles = {"rsid": "SNP", "beta": f"beta{sfx}", "se": f"se{sfx}",
             "effect_allele": f"effect_allele{sfx}", "other_allele": f"other_allele{sfx}",
             "eaf": f"eaf{sfx}", "p": f"pval{sfx}", "n": f"samplesize{sfx}",
             "ncase": f"ncase{sfx}", "ncontrol": f"ncontrol{sfx}"}
    src = {r: idx[c] for r, c in roles.items() if c in idx}
    for r in ("chr", "pos"):
        for c in (f"{r}{sfx}", r):
            if c in idx:
                src[r] = idx[c]
                break
    id_cols = [f"id{sfx}"] if sfx else ["id", "Phenotype"]
    for c in id_cols:
        if c in idx:
            src["study_id"] = idx[c]
            break
    plan = _Plan("tsmr", head.path, head.gz, sep, True, names, len(head.meta), src,
                 {r: names[i] for r, i in src.items()}, chr_codes=dict(_CHR_COMMON),
                 study=study)
    if study is not None and "study_id" not in src:
        raise InputError(f"study={study!r} was given but the table has no "
                         f"{' or '.join(id_cols)} column", head.path, 0, id_cols[0])
    return plan


def _plan_delimited(head: _Head, *, mapping: Mapping[str, str] | None, sep: str | None,
                    **_: object) -> _Plan:
    if not mapping:
        raise ParameterError("fmt='delimited' needs a mapping of normalised names to file "
                             "columns, e.g. {'rsid': 'SNP', 'beta': 'b', 'se': 'se', "
                             "'effect_allele': 'A1'}")
    unknown = [k for k in mapping if k not in MAPPING_KEYS]
    if unknown:
        raise ParameterError(f"unknown mapping key(s) {', '.join(map(str, unknown))}; "
                             "known keys: " + ", ".join(MAPPING_KEYS))
    lacking = [k for k in _REQUIRED_MAPPING if k not in mapping]
    if lacking:
        raise ParameterError("the mapping must name the file columns for: " + ", ".join(lacking))
    sep = _check_sep(sep) or head.sep
    names = _split_header(head.line, sep)
    idx = _index(head, names)
    missing = [c for c in mapping.values() if c not in idx]
    if missing:
        raise _missing_error(head, "the delimited file with the given mapping", missing,
                             list(mapping.values()))
    src = {k: idx[v] for k, v in mapping.items()}
    return _Plan("delimited", head.path, head.gz, sep, True, names, len(head.meta), src,
                 {r: names[i] for r, i in src.items()}, chr_codes=dict(_CHR_COMMON))


def _check_sep(sep: str | None) -> str | None:
    if sep is None:
        return None
    if sep in ("whitespace", r"\s+"):
        return "whitespace"
    if len(sep) != 1 or sep in "\r\n\"":
        raise ParameterError(f"sep must be one character or 'whitespace', got {sep!r}")
    return sep


_SAMPLE_RE = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|[^,>]*)')


def _vcf_samples(meta: list[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for line in meta:
        if line.startswith("##SAMPLE=<"):
            body = line[len("##SAMPLE=<"):].rstrip(">")
            fields = {k: v.strip('"') for k, v in _SAMPLE_RE.findall(body)}
            if "ID" in fields:
                out[fields["ID"]] = fields
    return out


def _plan_vcf(head: _Head, *, study: str | None, **_: object) -> _Plan:
    names = head.line.split("\t")
    if len(names) < 10 or [n.upper() for n in names[:9]] != list(_VCF_FIXED):
        raise InputError(
            "not a VCF header: expected the columns " + ", ".join(_VCF_FIXED)
            + " and one sample column per study; the header has: " + ", ".join(names[:12]),
            head.path, 0, names[0] if names else None)
    samples = names[9:]
    if study is None:
        if len(samples) > 1:
            raise InputError(f"the VCF holds {len(samples)} studies ({', '.join(samples)}); "
                             "choose one with study=...", head.path, 0, samples[1])
        k = 9
    elif study in samples:
        k = 9 + samples.index(study)
    else:
        raise InputError(f"no sample column {study!r}; the VCF has: {', '.join(samples)}",
                         head.path, 0, study)
    sample = names[k]
    info = _vcf_samples(head.meta).get(sample, {})
    fill: dict[str, float] = {}

    def num(key: str) -> float | None:
        try:
            return float(info[key])
        except (KeyError, ValueError):
            return None

    cases, controls = num("TotalCases"), num("TotalControls")
    if info.get("StudyType", "").lower() == "casecontrol" or cases is not None:
        if cases is not None:
            fill["ncase"] = cases
        if controls is not None:
            fill["ncontrol"] = controls
        if cases is not None and controls is not None:
            fill["n"] = cases + controls
    elif controls is not None:  # continuous traits: OpenGWAS stores N as TotalControls
        fill["n"] = controls
    src = {"chr": 0, "pos": 1, "rsid": 2, "other_allele": 3, "effect_allele": 4, "format": 8,
           "sample": k}
    labels = {"chr": "#CHROM", "pos": "POS", "rsid": "ID", "other_allele": "REF",
              "effect_allele": "ALT", "format": "FORMAT", "sample": sample}
    for fid, role in _VCF_FIELDS.items():
        labels[role] = f"{sample} ({fid})"
    return _Plan("vcf", head.path, head.gz, "\t", False, names, len(head.meta), src, labels,
                 chr_codes=dict(_CHR_COMMON), fill=fill)


_PLANNERS = {"gwas-ssf": _plan_ssf, "finngen": _plan_finngen, "tsmr": _plan_tsmr,
             "delimited": _plan_delimited, "vcf": _plan_vcf}


# --------------------------------------------------------------------------- streaming


def _role_type(role: str) -> pa.DataType:
    if role == "pos":
        return pa.int64()
    if role in _FLOAT_ROLES:
        return pa.float64()
    return pa.string()


def _col_types(plan: _Plan) -> dict[int, pa.DataType]:
    """File column index -> arrow type (a column used for two roles is read once)."""
    types: dict[int, pa.DataType] = {}
    for role, i in plan.src.items():
        t = _role_type(role) if plan.fmt != "vcf" else (pa.int64() if role == "pos" else pa.string())
        if i in types and types[i] != t:
            t = pa.string()
        types[i] = t
    return types


def _batches(plan: _Plan) -> Iterator[tuple[dict[str, pa.Array], np.ndarray]]:
    """Yield ``(role -> typed array, 1-based data row numbers)`` per block."""
    if plan.sep == "whitespace":
        yield from _batches_whitespace(plan)
        return
    types = _col_types(plan)
    names = [f"c{i}" for i in range(len(plan.header))]
    offset = 0
    stream = pa.input_stream(str(plan.path), compression="gzip" if plan.gz else None)
    try:
        reader = _open_reader(plan, stream, {f"c{i}": t for i, t in types.items()}, names)
        for batch in reader:
            n = batch.num_rows
            rows = np.arange(offset + 1, offset + n + 1, dtype=np.int64)
            cols = {f"c{i}": batch.column(f"c{i}") for i in types}
            offset += n
            yield _roles(plan, cols, rows), rows
    except pa.ArrowInvalid as exc:
        stream.close()
        _locate_failure(plan, types, names, exc)
    except OSError as exc:
        stream.close()
        raise _truncated(plan, exc) from None
    finally:
        stream.close()


def _truncated(plan: _Plan, exc: Exception) -> InputError:
    """Error for a compressed stream that breaks off: count the complete data lines."""
    complete = 0
    try:
        with gzip.open(plan.path, "rb") as fh:
            for i, line in enumerate(fh):
                if line.endswith(b"\n") and i > plan.skip and line.strip():
                    complete += 1
    except (EOFError, OSError, zlib.error):
        pass
    return InputError(f"the gzip stream breaks off after {complete} complete data rows "
                      f"({exc}); the file is truncated or corrupt, download it again",
                      plan.path, complete + 1, None)


def _open_reader(plan: _Plan, stream: pa.NativeFile, types: dict[str, pa.DataType],
                 names: list[str], use_threads: bool = True,
                 handler=None) -> pv.CSVStreamingReader:
    return pv.open_csv(
        stream,
        read_options=pv.ReadOptions(block_size=_BLOCK, skip_rows=plan.skip + 1,
                                    column_names=names, use_threads=use_threads),
        parse_options=pv.ParseOptions(delimiter=plan.sep,
                                      quote_char='"' if plan.quote else False,
                                      invalid_row_handler=handler),
        convert_options=pv.ConvertOptions(include_columns=list(types), column_types=types,
                                          null_values=_NULLS, strings_can_be_null=True,
                                          quoted_strings_can_be_null=True),
    )


def _locate_failure(plan: _Plan, types: dict[int, pa.DataType], names: list[str],
                    exc: Exception) -> None:
    """Slow path after a parse/convert error: re-read as text to find row and column."""
    bad_rows: list = []

    def handler(row):
        bad_rows.append(row)
        return "error"

    as_text = {f"c{i}": pa.string() for i in types}
    offset = 0
    stream = pa.input_stream(str(plan.path), compression="gzip" if plan.gz else None)
    try:
        reader = _open_reader(plan, stream, as_text, names, use_threads=False, handler=handler)
        for batch in reader:
            for i, t in types.items():
                if t != pa.string():
                    _cast_located(plan, batch.column(f"c{i}"), t, offset, plan.header[i])
            offset += batch.num_rows
    except pa.ArrowInvalid:
        if bad_rows:
            row = bad_rows[0]
            data_row = (row.number - plan.skip - 1) if row.number is not None else offset + 1
            raise InputError(
                f"expected {row.expected_columns} fields, found {row.actual_columns}: "
                f"{row.text[:80]!r}", plan.path, data_row, None) from None
    except OSError as err:
        raise _truncated(plan, err) from None
    finally:
        stream.close()
    raise InputError(f"cannot parse the file: {exc}", plan.path, None, None) from None


def _cast_located(plan: _Plan, arr: pa.Array, to: pa.DataType, offset: int, label: str) -> pa.Array:
    """Cast text to numbers; on failure, raise InputError at the first bad value."""
    try:
        return pc.cast(arr, to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    lo, hi = 0, len(arr)  # invariant: the first bad value lies in [lo, hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            pc.cast(arr.slice(lo, mid - lo), to)
            lo = mid
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            hi = mid
    value = arr[lo].as_py()
    what = "an integer" if pa.types.is_integer(to) else "a number"
    raise InputError(f"expected {what}, got {value!r}{decimal_comma_hint(value)}", plan.path,
                     offset + lo + 1, label)


_DECIMAL_COMMA = re.compile(r"^\s*[-+]?[0-9]*,[0-9]+(?:[eE][-+]?[0-9]+)?\s*$")


def decimal_comma_hint(value) -> str:
    """A hint for a number written with a decimal comma (``0,05``), else ''."""
    if isinstance(value, str) and _DECIMAL_COMMA.match(value):
        return ("; a decimal comma? numbers need a decimal point (0.05), as R's read.csv "
                "reads them: export the file with '.' as the decimal separator")
    return ""


def _batches_whitespace(plan: _Plan) -> Iterator[tuple[dict[str, pa.Array], np.ndarray]]:
    """Blank-separated text (runs of spaces/tabs), split by vectorised string kernels.

    Each line is read whole by pyarrow (a delimiter that never occurs), then split on
    ``[ \t]+``; every line must have as many fields as the header.
    """
    types = _col_types(plan)
    width = len(plan.header)
    nulls = pa.array(_NULLS, pa.string())
    offset = 0
    stream = pa.input_stream(str(plan.path), compression="gzip" if plan.gz else None)
    try:
        reader = pv.open_csv(
            stream,
            read_options=pv.ReadOptions(block_size=_BLOCK, skip_rows=plan.skip + 1,
                                        column_names=["line"]),
            parse_options=pv.ParseOptions(delimiter="\x1f", quote_char=False),
            convert_options=pv.ConvertOptions(column_types={"line": pa.string()},
                                              strings_can_be_null=False))
        for batch in reader:
            n = batch.num_rows
            rows = np.arange(offset + 1, offset + n + 1, dtype=np.int64)
            lines = pc.utf8_trim_whitespace(batch.column("line"))
            parts = pc.split_pattern_regex(lines, r"[ \t]+")
            lengths = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
            wrong = np.flatnonzero(lengths != width)
            if wrong.size:
                j = int(wrong[0])
                raise InputError(f"expected {width} fields, found {int(lengths[j])}: "
                                 f"{lines[j].as_py()[:80]!r}", plan.path, int(rows[j]), None)
            flat = pc.list_flatten(parts)
            base = np.arange(n, dtype=np.int64) * width
            cols = {}
            for i, t in types.items():
                text = pc.utf8_trim(flat.take(pa.array(base + i)), '"')
                text = pc.if_else(pc.is_in(text, value_set=nulls),
                                  pa.scalar(None, pa.string()), text)
                cols[f"c{i}"] = text if t == pa.string() else _cast_located(
                    plan, text, t, offset, plan.header[i])
            offset += n
            yield _roles(plan, cols, rows), rows
    except pa.ArrowInvalid as exc:
        raise InputError(f"cannot split the file into lines: {exc}", plan.path, None,
                         None) from None
    except OSError as exc:
        raise _truncated(plan, exc) from None
    finally:
        stream.close()


def _roles(plan: _Plan, cols: dict[str, pa.Array], rows: np.ndarray) -> dict[str, pa.Array]:
    """Map file columns to normalised roles (VCF: split the sample column first)."""
    if plan.fmt == "vcf":
        return _vcf_roles(plan, cols, rows)
    out = {}
    for role, i in plan.src.items():
        arr = cols[f"c{i}"]
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        want = _role_type(role)
        if arr.type != want:  # a column read once for two roles of different types
            arr = _cast_located(plan, arr, want, int(rows[0]) - 1 if len(rows) else 0,
                                plan.labels[role])
        out[role] = arr
    return out


def _vcf_roles(plan: _Plan, cols: dict[str, pa.Array], rows: np.ndarray) -> dict[str, pa.Array]:
    """Split a VCF block's sample column by its FORMAT, vectorised per distinct FORMAT."""
    get = {r: cols[f"c{i}"] for r, i in plan.src.items()}
    n = len(rows)
    alt = get["effect_allele"]
    has_comma = pc.fill_null(pc.match_substring(alt, ","), False).to_numpy(zero_copy_only=False)
    if has_comma.any():
        j = int(np.flatnonzero(has_comma)[0])
        raise InputError(f"several ALT alleles ({alt[j].as_py()!r}); split multi-allelic records "
                         "first (bcftools norm -m-)", plan.path, int(rows[j]), "ALT")
    fmt = get["format"]
    sample = get["sample"]
    groups: list[tuple[np.ndarray, dict[str, pa.Array]]] = []
    formats = pc.unique(fmt).to_pylist()
    for u in formats:
        if u is None:
            j = int(np.flatnonzero(pc.is_null(fmt).to_numpy(zero_copy_only=False))[0])
            raise InputError("FORMAT is missing", plan.path, int(rows[j]), "FORMAT")
        keys = u.split(":")
        if len(formats) == 1:
            sel, sub = np.arange(n), sample
        else:
            sel = np.flatnonzero(pc.equal(fmt, u).to_numpy(zero_copy_only=False))
            sub = sample.take(pa.array(sel))
        if "ES" not in keys or "SE" not in keys:
            lacking = [k for k in ("ES", "SE") if k not in keys]
            raise InputError(
                f"FORMAT {u!r} lacks {' and '.join(lacking)}; an IEU GWAS VCF needs ES and SE "
                "(and usually LP, AF, SS, ID)", plan.path, int(rows[sel[0]]), "FORMAT")
        if sub.null_count:
            j = sel[int(np.flatnonzero(pc.is_null(sub).to_numpy(zero_copy_only=False))[0])]
            raise InputError("the sample column is empty", plan.path, int(rows[j]),
                             plan.labels["sample"])
        fields = _vcf_fields_fast(sub, keys)
        if fields is None:
            fields = _vcf_fields_located(plan, sub, keys, u, rows[sel])
        groups.append((sel, fields))
    if len(groups) == 1:
        out = dict(groups[0][1])
    else:
        perm = pa.array(np.argsort(np.concatenate([g[0] for g in groups]), kind="stable"))
        out = {role: pa.concat_arrays([g[1][role] for g in groups]).take(perm)
               for role in groups[0][1]}
    fields_id = out.pop("vcf_id")
    rsid = get["rsid"]
    rsid = pc.if_else(pc.is_null(rsid), fields_id, rsid)
    out.update({"rsid": rsid, "chr": get["chr"], "pos": get["pos"],
                "effect_allele": alt, "other_allele": get["other_allele"]})
    return out


def _vcf_fields_fast(sub: pa.Array, keys: list[str]) -> dict[str, pa.Array] | None:
    """Parse ``ES:SE:LP...`` values as a ':'-separated CSV (multi-threaded, typed).

    Returns None when anything is irregular (wrong field count, text in a number,
    a repeated key); the caller then takes the slow path that locates the problem.
    """
    if len(set(keys)) != len(keys) or len(sub) == 0:
        return None
    lines = pc.binary_join_element_wise(sub, "", "\n")
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
    start, stop = int(offsets[lines.offset]), int(offsets[lines.offset + len(lines)])
    data = lines.buffers()[2][start:stop]
    wanted = [k for k in keys if k in _VCF_FIELDS]
    types = {k: (pa.string() if k == "ID" else pa.float64()) for k in wanted}
    try:
        table = pv.read_csv(
            pa.BufferReader(data),
            read_options=pv.ReadOptions(column_names=keys, block_size=_BLOCK),
            parse_options=pv.ParseOptions(delimiter=":", quote_char=False,
                                          ignore_empty_lines=False),
            convert_options=pv.ConvertOptions(include_columns=wanted, column_types=types,
                                              null_values=["."], strings_can_be_null=True))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if table.num_rows != len(sub):
        return None
    out = {}
    for fid, role in _VCF_FIELDS.items():
        t = pa.string() if fid == "ID" else pa.float64()
        out[role] = table[fid].combine_chunks() if fid in types else pa.nulls(len(sub), t)
    return out


def _vcf_fields_located(plan: _Plan, sub: pa.Array, keys: list[str], fmt: str,
                        rows: np.ndarray) -> dict[str, pa.Array]:
    """Slow path: split with string kernels and raise at the first irregular value."""
    parts = pc.split_pattern(sub, ":")
    lengths = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
    wrong = np.flatnonzero(lengths != len(keys))
    if wrong.size:
        j = int(wrong[0])
        raise InputError(f"expected {len(keys)} values for FORMAT {fmt!r}, got "
                         f"{int(lengths[j])}: {sub[j].as_py()!r}", plan.path,
                         int(rows[j]), plan.labels["sample"])
    flat = pc.list_flatten(parts)
    base = np.arange(len(sub), dtype=np.int64) * len(keys)
    out = {}
    for fid, role in _VCF_FIELDS.items():
        if fid in keys:
            vals = flat.take(pa.array(base + keys.index(fid)))
            vals = pc.if_else(pc.equal(vals, "."), pa.scalar(None, pa.string()), vals)
        else:
            vals = pa.nulls(len(sub), pa.string())
        out[role] = vals if fid == "ID" else _cast_located_rows(
            plan, vals, pa.float64(), rows, plan.labels[role])
    return out


def _cast_located_rows(plan: _Plan, arr: pa.Array, to: pa.DataType, rows: np.ndarray,
                       label: str) -> pa.Array:
    try:
        return pc.cast(arr, to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        try:
            _cast_located(plan, arr, to, 0, label)
        except InputError as err:
            raise InputError(err.message, plan.path, int(rows[err.row - 1]), label) from None
        raise


# --------------------------------------------------------------------------- per-block normalisation


@dataclass
class _State:
    plan: _Plan
    p_max: float | None
    snp_set: pa.Array | None
    studies: dict[str, int] = field(default_factory=dict)  # study id -> first data row

    def finish(self) -> None:
        plan = self.plan
        if plan.study is None and len(self.studies) > 1:
            ids = list(self.studies)
            raise InputError(
                f"the table holds {len(ids)} studies ({', '.join(ids[:10])}); choose one with "
                "study=...", plan.path, self.studies[ids[1]], plan.labels["study_id"])
        if plan.study is not None and plan.study not in self.studies:
            shown = ", ".join(list(self.studies)[:10])
            raise InputError(f"no rows for study {plan.study!r}; the table has: {shown}",
                             plan.path, None, plan.labels["study_id"])


def _num(cols: dict[str, pa.Array], role: str) -> np.ndarray | None:
    arr = cols.get(role)
    if arr is None:
        return None
    return arr.to_numpy(zero_copy_only=False).astype(float, copy=False)


def _normalise(state: _State, cols: dict[str, pa.Array], rows: np.ndarray) -> pa.Table | None:
    """Check one block's values, derive p, filter, and return the kept rows."""
    plan = state.plan
    n = len(rows)
    if n == 0:
        return None
    num = {r: _num(cols, r) for r in _FLOAT_ROLES if r in cols}
    _check_values(plan, num, rows)
    beta, se = num["beta"], num["se"]
    if "p" in num:
        p = num["p"].copy()
        if "neg_log10_p" in num:
            use = ~(p > 0) & np.isfinite(num["neg_log10_p"])
            p[use] = 10.0 ** -num["neg_log10_p"][use]
    elif "neg_log10_p" in num:
        p = 10.0 ** -num["neg_log10_p"]
    else:  # no p column at all (TwoSampleMR's format_data infers it the same way)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = 2.0 * special.ndtr(-np.abs(beta / se))
    keep = np.ones(n, dtype=bool)
    if "study_id" in cols:
        sid = cols["study_id"]
        for u in pc.unique(sid).to_pylist():
            if u is not None and u not in state.studies:
                j = int(np.flatnonzero(pc.fill_null(pc.equal(sid, u), False)
                                       .to_numpy(zero_copy_only=False))[0])
                state.studies[u] = int(rows[j])
        if plan.study is not None:
            keep &= pc.fill_null(pc.equal(sid, plan.study), False).to_numpy(zero_copy_only=False)
        elif len(state.studies) > 1:
            state.finish()
    if state.p_max is not None:
        keep &= p < state.p_max
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        return None
    take = pa.array(idx)
    data = {"_row": pa.array(rows[idx])}
    for role in ("rsid", "chr", "effect_allele", "other_allele"):
        arr = cols.get(role)
        data[role] = arr.take(take) if arr is not None else pa.nulls(idx.size, pa.string())
    data["pos"] = cols["pos"].take(take) if "pos" in cols else pa.nulls(idx.size, pa.int64())
    for role in ("eaf", "beta", "se", "n", "ncase", "ncontrol"):
        data[role] = pa.array(num[role][idx]) if role in num else pa.nulls(idx.size, pa.float64())
    data["p"] = pa.array(p[idx])
    if plan.fmt == "vcf" and "ncase" in num and "n" in num:
        ctrl = num["n"][idx] - num["ncase"][idx]
        data["ncontrol"] = pa.array(ctrl)
    data["rsid"] = pc.utf8_trim_whitespace(data["rsid"])
    table = pa.table(data)
    if plan.rsid_sep is not None:
        table = _explode_rsids(table, plan.rsid_sep)
    if state.snp_set is not None:
        table = table.filter(pc.fill_null(pc.is_in(table["rsid"], value_set=state.snp_set), False))
    return table


def _first_bad(bad: np.ndarray) -> int | None:
    hits = np.flatnonzero(bad)
    return int(hits[0]) if hits.size else None


def _check_values(plan: _Plan, num: dict[str, np.ndarray], rows: np.ndarray) -> None:
    """Raise InputError at the earliest row holding an impossible value."""
    problems: list[tuple[int, str, str]] = []  # (index, role, message)

    def check(role: str, bad: np.ndarray, why) -> None:
        j = _first_bad(bad)
        if j is not None:
            problems.append((j, role, why(num[role][j])))

    with np.errstate(invalid="ignore"):
        if "beta" in num:
            check("beta", np.isinf(num["beta"]), lambda v: f"effect size must be finite, got {v}")
        if "se" in num:
            se = num["se"]
            check("se", (se <= 0) | np.isinf(se),
                  lambda v: f"standard error must be finite and > 0, got {v:g}")
        if "p" in num:
            pv_ = num["p"]
            check("p", (pv_ < 0) | (pv_ > 1), lambda v: f"p-value must be in [0, 1], got {v:g}")
        if "neg_log10_p" in num:
            check("neg_log10_p", num["neg_log10_p"] < 0,
                  lambda v: f"-log10 p must be >= 0, got {v:g}")
        if "eaf" in num:
            f = num["eaf"]
            check("eaf", (f < 0) | (f > 1),
                  lambda v: f"allele frequency must be in [0, 1], got {v:g}")
        for role in ("n", "ncase", "ncontrol"):
            if role in num:
                check(role, num[role] < 0, lambda v: f"sample size must be >= 0, got {v:g}")
    if problems:
        j, role, msg = min(problems)
        raise InputError(msg, plan.path, int(rows[j]), plan.labels.get(role, role))


def _explode_rsids(table: pa.Table, sep: str) -> pa.Table:
    """FinnGen's ``rsids`` may hold "rs1,rs2": one row per rsID."""
    rs = table["rsid"].combine_chunks()
    if not pc.any(pc.fill_null(pc.match_substring(rs, sep), False)).as_py():
        return table
    parts = pc.split_pattern(rs, sep)
    parent = pc.list_parent_indices(parts)
    flat = pc.utf8_trim_whitespace(pc.list_flatten(parts))
    # a null rsids value gives no list elements: keep such rows once, with a null rsid
    lengths = pc.fill_null(pc.list_value_length(parts), 0).to_numpy(zero_copy_only=False)
    nulls = np.flatnonzero(lengths == 0)
    take = np.concatenate([parent.to_numpy(zero_copy_only=False), nulls])
    rsid = pa.concat_arrays([flat, pa.nulls(nulls.size, pa.string())])
    order = np.argsort(take, kind="stable")
    out = table.take(pa.array(take[order]))
    return out.set_column(out.schema.get_field_index("rsid"), "rsid", rsid.take(pa.array(order)))


# --------------------------------------------------------------------------- final table


def _chr_label(value: str, codes: Mapping[str, str]) -> str | None:
    """One chromosome name: no ``chr`` prefix, upper case, numeric codes mapped."""
    s = value.strip()
    if s[:3].lower() == "chr":
        s = s[3:]
    s = s.upper()
    if s.isdigit():
        s = str(int(s))
    return codes.get(s, s) if s else None


def _normalise_chr(arr: pa.ChunkedArray, codes: dict[str, str]) -> pa.Array:
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    enc = pc.dictionary_encode(arr)
    mapped = [_chr_label(v, codes) for v in enc.dictionary.to_pylist()]
    return pa.array(mapped, pa.string()).take(enc.indices)


def _as_str(s: pd.Series) -> pd.Series:
    """Text column with missing values kept missing (pandas 3 ``str``; object before)."""
    if _PANDAS3:
        return s.astype("str")
    return s.astype(object).where(s.notna(), None)


def _str_array(value, index: pd.Index):
    """The array of ``_as_str(value)`` for a Series ``value``, else of ``_as_str`` of a
    Series holding ``value`` in every row of ``index`` (made directly for a text value)."""
    if isinstance(value, pd.Series):
        return _as_str(value).array
    if _PANDAS3 and isinstance(value, str):
        return str_array([value] * len(index), _TEXT)
    return _as_str(pd.Series(value, index=index)).array


def _empty() -> pd.DataFrame:
    df = pd.DataFrame({c: pd.Series(dtype="float64") for c in COLUMNS})
    for c in ("rsid", "chr", "effect_allele", "other_allele"):
        df[c] = _as_str(df[c])
    df["pos"] = df["pos"].astype("Int64")
    return df


def _finish(plan: _Plan, tables: list[pa.Table]) -> pd.DataFrame:
    if not tables:
        return _empty()
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    rsid = pc.utf8_trim_whitespace(table["rsid"])
    rsid = pc.if_else(pc.equal(rsid, ""), pa.scalar(None, pa.string()), rsid)
    table = table.set_column(table.schema.get_field_index("rsid"), "rsid", rsid)
    table = table.set_column(table.schema.get_field_index("chr"), "chr",
                             _normalise_chr(table["chr"], plan.chr_codes))
    for role in ("effect_allele", "other_allele"):
        up = pc.utf8_upper(pc.utf8_trim_whitespace(table[role]))
        table = table.set_column(table.schema.get_field_index(role), role, up)
    df = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    df["_row"] = df["_row"].astype("int64")
    df = _resolve_duplicates(plan, df)
    for role, value in plan.fill.items():
        df[role] = df[role].fillna(value)
    for c in ("rsid", "chr", "effect_allele", "other_allele"):
        df[c] = _as_str(df[c])
    for c in ("eaf", "beta", "se", "p", "n", "ncase", "ncontrol"):
        df[c] = df[c].astype("float64")
    df["pos"] = df["pos"].astype("Int64")
    return df[list(COLUMNS)].reset_index(drop=True)


def _resolve_duplicates(plan: _Plan, df: pd.DataFrame) -> pd.DataFrame:
    """One position per rsID (else error); one row per (rsid, allele pair)."""
    known = df[df["rsid"].notna()]
    if known["rsid"].duplicated().any():
        placed = known[known["pos"].notna() & known["chr"].notna()]
        sites = placed.drop_duplicates(["rsid", "chr", "pos"])
        clash = sites["rsid"].duplicated()
        if clash.any():
            second = sites[clash].iloc[0]
            first = sites[(sites["rsid"] == second["rsid"])].iloc[0]
            raise InputError(
                f"rsID {second['rsid']} is at {first['chr']}:{first['pos']} (row "
                f"{first['_row']}) and at {second['chr']}:{second['pos']}; one rsID must map "
                "to one position", plan.path, int(second["_row"]), plan.labels.get("rsid"))
        ea = known["effect_allele"].fillna("")
        oa = known["other_allele"].fillna("")
        lo = np.where(ea <= oa, ea, oa)
        hi = np.where(ea <= oa, oa, ea)
        key = pd.DataFrame({"rsid": known["rsid"].to_numpy(), "lo": lo, "hi": hi},
                           index=known.index)
        dup = key.duplicated()
        if dup.any():
            df = df.drop(index=key.index[dup.to_numpy()])
    return df
