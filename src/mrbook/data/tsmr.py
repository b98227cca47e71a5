"""Data layer: reading and validating TwoSampleMR-format tables (exposure, outcome, harmonised).

Row numbers in every error count data rows from 1 (the header is not
counted), the same convention as :mod:`mrbook.data.readers`.
"""

from __future__ import annotations

import csv
import gzip
import re
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .readers import binary_reason, decimal_comma_hint

#: columns a harmonised table must have (TwoSampleMR names)
REQUIRED_HARMONISED = ("SNP", "beta.exposure", "se.exposure", "beta.outcome", "se.outcome")
#: missing-value spellings (R writes NA; empty cells are missing too)
NA_STRINGS = {"", "NA", "NaN", "nan", "NULL", "null", "None", "."}
_ALLELE = re.compile(r"^(?:[ACGT]+|[ID])$")
_TRUE = {"TRUE", "True", "true", "T", "1"}
_FALSE = {"FALSE", "False", "false", "F", "0"}

FIRST_DATA_ROW = 1


def _read_text(path: Path) -> str:
    """The file's text (gzip or not, UTF-8 with or without BOM); one InputError otherwise."""
    if not path.exists() and not path.is_symlink():
        raise InputError("file not found", path)
    if path.is_dir():
        raise InputError("is a directory (folder), expected a table file", path)
    try:
        with open(path, "rb") as fh:  # read once: a FIFO (process substitution) works too
            data = fh.read()
    except OSError as exc:
        raise InputError(f"cannot read the file ({(exc.strerror or str(exc)).lower()})",
                         path) from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except EOFError:
            raise InputError("cannot read the file: the gzip stream is truncated or corrupt "
                             "(it ends before its end-of-stream marker); download or compress it "
                             "again", path) from None
        except (OSError, zlib.error) as exc:
            raise InputError(f"cannot read the file: not a valid gzip stream, truncated or "
                             f"corrupt ({exc})", path) from None
    why = binary_reason(data[: 1 << 16])
    if why:
        raise InputError(why, path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not a text file: byte {exc.start + 1} is not UTF-8; expected CSV/TSV "
                         "text in UTF-8", path) from None


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a delimited text table (comma, tab or semicolon; gzip or not) as strings.

    Every cell stays text so that validation can say exactly which cell is wrong.

    Raises
    ------
    InputError
        If the file is missing, unreadable, binary, UTF-16, empty or has no data rows.
    """
    path = Path(path)
    text = _read_text(path)
    if not text.strip():
        raise InputError("the file is empty, expected a header and data rows", path)
    if text.startswith(("##fileformat=VCF", "#CHROM")):
        raise InputError("is a VCF (summary statistics), not a TwoSampleMR table; select and "
                         "harmonise instruments from it first (mrbook instruments)", path)
    first = text.splitlines()[0]
    delim = max([",", "\t", ";"], key=first.count)
    try:
        rows = list(csv.reader(text.splitlines(), delimiter=delim))
    except csv.Error as exc:
        raise InputError(f"not a readable delimited table ({exc})", path) from None
    header = [h.strip() for h in rows[0]]
    body = [r for r in rows[1:] if r and any(c.strip() for c in r)]
    if not body:
        raise InputError("the file has a header but no data rows", path)
    for i, r in enumerate(rows[1:], start=FIRST_DATA_ROW):
        if r and any(c.strip() for c in r) and len(r) != len(header):
            raise InputError(f"has {len(r)} fields, the header has {len(header)}", path, i)
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise InputError(f"duplicated column name(s) {', '.join(dup)} in the header", path,
                         column=dup[0])
    df = pd.DataFrame(body, columns=header, dtype=object)
    df.index = pd.RangeIndex(FIRST_DATA_ROW, FIRST_DATA_ROW + len(df))  # file rows
    df.attrs["path"] = str(path)
    return df


def _is_na(series: pd.Series) -> np.ndarray:
    return series.isna().to_numpy() | series.astype(str).str.strip().isin(NA_STRINGS).to_numpy()


def parse_numeric(df: pd.DataFrame, column: str, path=None, *, positive=False,
                  probability=False) -> np.ndarray:
    """Parse one column of text as float, locating any bad cell.

    Missing values (empty, NA) become NaN. Text that is not a number, infinite
    values, non-positive values where ``positive`` and values outside [0, 1]
    where ``probability`` raise :class:`InputError` naming file, row and column.
    """
    s = df[column]
    na = _is_na(s)
    txt = s.astype(str).str.strip()
    num = pd.to_numeric(txt.where(~na, None), errors="coerce").to_numpy(dtype=float)
    bad = ~na & np.isnan(num)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"expected a number, got {txt.iloc[i]!r}{decimal_comma_hint(txt.iloc[i])}",
                         path, df.index[i], column)
    inf = np.isinf(num)
    if inf.any():
        i = int(np.argmax(inf))
        raise InputError(f"expected a finite number, got {txt.iloc[i]!r}", path, df.index[i], column)
    if positive:
        nonpos = ~np.isnan(num) & (num <= 0)
        if nonpos.any():
            i = int(np.argmax(nonpos))
            raise InputError(f"standard errors must be > 0, got {txt.iloc[i]}", path,
                             df.index[i], column)
    if probability:
        out = ~np.isnan(num) & ((num < 0) | (num > 1))
        if out.any():
            i = int(np.argmax(out))
            raise InputError(f"P-values must lie in [0, 1], got {txt.iloc[i]}", path,
                             df.index[i], column)
    return num


def parse_bool(df: pd.DataFrame, column: str, path=None) -> np.ndarray:
    s = df[column].astype(str).str.strip()
    out = np.ones(len(s), dtype=bool)
    for i, v in enumerate(s):
        if v in _TRUE:
            out[i] = True
        elif v in _FALSE:
            out[i] = False
        elif v in NA_STRINGS:
            out[i] = False
        else:
            raise InputError(f"expected TRUE or FALSE, got {v!r}", path, df.index[i], column)
    return out


def check_alleles(df: pd.DataFrame, column: str, path=None) -> pd.Series:
    """Upper-case an allele column; alleles must be strings of A/C/G/T, or I/D."""
    s = df[column]
    na = _is_na(s)
    up = s.astype(str).str.strip().str.upper()
    ok = up.str.match(_ALLELE).to_numpy() | na
    if not ok.all():
        i = int(np.argmax(~ok))
        raise InputError(f"expected an allele made of A, C, G, T (or I/D), got {s.iloc[i]!r}",
                         path, df.index[i], column)
    return up.where(~na, None)


NUMERIC_COLUMNS = {
    "beta.exposure": {}, "beta.outcome": {},
    "se.exposure": {"positive": True}, "se.outcome": {"positive": True},
    "eaf.exposure": {"probability": True}, "eaf.outcome": {"probability": True},
    "pval.exposure": {"probability": True}, "pval.outcome": {"probability": True},
    "samplesize.exposure": {}, "samplesize.outcome": {},
    "ncase.exposure": {}, "ncase.outcome": {}, "ncontrol.exposure": {}, "ncontrol.outcome": {},
    "r.exposure": {}, "r.outcome": {}, "prevalence.exposure": {}, "prevalence.outcome": {},
}
ALLELE_COLUMNS = ("effect_allele.exposure", "other_allele.exposure",
                  "effect_allele.outcome", "other_allele.outcome")


def coerce_tsmr(raw: pd.DataFrame, path=None, required=REQUIRED_HARMONISED) -> pd.DataFrame:
    """Validate and type a TwoSampleMR-format table read as text.

    Numeric columns become float (NaN where missing), allele columns upper-case
    strings, ``mr_keep`` boolean; ``id.*`` and trait names default to
    ``"exposure"``/``"outcome"``. The index keeps the file row numbers.
    """
    missing = [c for c in required if c not in raw.columns]
    if missing:
        raise InputError(
            f"missing required column(s) {', '.join(missing)}; a TwoSampleMR-format table needs "
            f"{', '.join(required)}", path, column=missing[0])
    df = raw.copy()
    snp = df["SNP"].astype(str).str.strip()
    empty = _is_na(df["SNP"])
    if empty.any():
        i = int(np.argmax(empty))
        raise InputError("expected a SNP identifier, got an empty cell", path, df.index[i], "SNP")
    df["SNP"] = snp
    for col, kw in NUMERIC_COLUMNS.items():
        if col in df.columns:
            df[col] = parse_numeric(df, col, path, **kw)
    for col in ALLELE_COLUMNS:
        if col in df.columns:
            df[col] = check_alleles(df, col, path)
    for col in [c for c in df.columns if c == "mr_keep" or c.startswith("mr_keep.")]:
        df[col] = parse_bool(df, col, path)
    for role in ("exposure", "outcome"):
        if f"beta.{role}" not in df.columns:
            continue
        idc = f"id.{role}"
        if idc not in df.columns:
            df[idc] = role
        df[idc] = df[idc].astype(str)
        if role not in df.columns:
            df[role] = df[idc]
        df[role] = df[role].astype(str)
    return df


def read_harmonised(path: str | Path) -> pd.DataFrame:
    """Read a harmonised exposure-outcome table in TwoSampleMR's column names.

    Parameters
    ----------
    path : str or Path
        CSV/TSV (optionally gzipped) with at least SNP, beta.exposure,
        se.exposure, beta.outcome, se.outcome; optional eaf.*, alleles, pval.*,
        samplesize.*, id.exposure, id.outcome, exposure, outcome, mr_keep.

    Returns
    -------
    DataFrame
        Typed columns plus ``mr_keep`` (bool) and ``mr_keep_reason`` (str or None).
        A missing beta or SE does not fail: that SNP gets ``mr_keep = False``
        with its reason, as TwoSampleMR does.

    Raises
    ------
    InputError
        Missing required columns, text that is not a number, infinite values,
        zero or negative SE, P or eaf outside [0, 1], malformed alleles, a SNP
        listed twice for one exposure-outcome pair, or no usable SNP at all.
    """
    raw = read_table(path)
    df = coerce_tsmr(raw, path)
    return finalise_harmonised(df, path)


def finalise_harmonised(df: pd.DataFrame, path=None) -> pd.DataFrame:
    """Add ``mr_keep``/``mr_keep_reason`` for missing values and check duplicates."""
    df = df.copy()
    key = df[["id.exposure", "id.outcome", "SNP"]]
    dup = key.duplicated(keep="first").to_numpy()
    if dup.any():
        i = int(np.argmax(dup))
        raise InputError(
            f"SNP {df['SNP'].iloc[i]} appears twice for {df['id.exposure'].iloc[i]} -> "
            f"{df['id.outcome'].iloc[i]}; each SNP may appear once per exposure-outcome pair",
            path, df.index[i], "SNP")
    # a new array: to_numpy() may return a read-only view of the frame (pandas >= 3,
    # copy-on-write), and keep is written below
    keep = (np.array(df["mr_keep"].to_numpy(bool), dtype=bool, copy=True)
            if "mr_keep" in df.columns else np.ones(len(df), bool))
    reasons = [None] * len(df)
    if "mr_keep_reason" in df.columns:
        reasons = [None if (r is None or (isinstance(r, float) and np.isnan(r)) or str(r) in NA_STRINGS)
                   else str(r) for r in df["mr_keep_reason"]]
    for i in range(len(df)):
        if not keep[i] and reasons[i] is None:
            reasons[i] = "mr_keep is FALSE in the input"
    for col in REQUIRED_HARMONISED[1:]:
        miss = np.isnan(df[col].to_numpy(float))
        for i in np.flatnonzero(miss):
            if keep[i]:
                keep[i] = False
                reasons[i] = f"missing {col}"
    df["mr_keep"] = keep
    df["mr_keep_reason"] = pd.Series(reasons, index=df.index, dtype=object)
    if not keep.any():
        raise InputError("no usable SNP: every row has a missing beta or SE or mr_keep FALSE", path)
    return df


REQUIRED_EXPOSURE = ("SNP", "beta.exposure", "se.exposure", "effect_allele.exposure")
REQUIRED_OUTCOME = ("SNP", "beta.outcome", "se.outcome", "effect_allele.outcome")


def read_tsmr(path: str | Path, role: str) -> pd.DataFrame:
    """Read an exposure or outcome table in TwoSampleMR's format (``format_data`` output).

    Parameters
    ----------
    path : str or Path
        CSV/TSV, gzip or not, with at least SNP, beta.<role>, se.<role> and
        effect_allele.<role>.
    role : {"exposure", "outcome"}

    Raises
    ------
    InputError
        As :func:`read_harmonised`, plus a SNP listed twice for one study.
    """
    if role not in ("exposure", "outcome"):
        raise ValueError(f"role must be 'exposure' or 'outcome', not {role!r}")
    raw = read_table(path)
    df = coerce_tsmr(raw, path, REQUIRED_EXPOSURE if role == "exposure" else REQUIRED_OUTCOME)
    dup = df[[f"id.{role}", "SNP"]].duplicated().to_numpy()
    if dup.any():
        i = int(np.argmax(dup))
        raise InputError(f"SNP {df['SNP'].iloc[i]} appears twice in this {role} study", path,
                         df.index[i], "SNP")
    return df
