"""Property tests (hypothesis): malformed rows into every reader, random values into the
parameter checker. The only outcomes allowed are a clean result or one InputError /
ParameterError line; never another exception (issue 9)."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mrbook import params
from mrbook.data.readers import read_sumstats
from mrbook.data.tsmr import read_harmonised, read_tsmr
from mrbook.errors import InputError, ParameterError

HEADERS = {
    "gwas-ssf": ["chromosome", "base_pair_location", "effect_allele", "other_allele", "beta",
                 "standard_error", "effect_allele_frequency", "p_value", "rsid", "n"],
    "finngen": ["#chrom", "pos", "ref", "alt", "rsids", "pval", "mlogp", "beta", "sebeta", "af_alt"],
    "tsmr": ["SNP", "beta.exposure", "se.exposure", "effect_allele.exposure",
             "other_allele.exposure", "eaf.exposure", "pval.exposure", "samplesize.exposure"],
    "harmonised": ["SNP", "beta.exposure", "se.exposure", "beta.outcome", "se.outcome",
                   "effect_allele.exposure", "other_allele.exposure", "eaf.exposure",
                   "pval.exposure", "mr_keep"],
    "vcf": ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", "study"],
}

#: cells an adversary (or a spreadsheet) puts in a table
CELLS = st.one_of(
    st.sampled_from(["", "NA", "nan", "NaN", ".", "-", "inf", "-Inf", "1e999", "-1", "0", "1",
                     "0.5", "2", "0,5", "1e-300", "5e-8", "abc", "A", "C", "G", "T", "AT", "N",
                     "I", "D", "TRUE", "FALSE", "rs1", "rs2", "rs1,rs2", "chr1", "X", "23",
                     "ES:SE:LP:AF:SS:ID", "ES:SE", "0.1:0.01:5:0.3:1000:rs1", "0.1:x", "::",
                     '"', '""', "'", "\u00e9", "\ufeff", "\x00", " ", "\t", "1 2",
                     "9" * 40, "-0.0", "+3", "0x1F", "1_000"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**20, 10**20).map(str),
    st.text(max_size=12),
)


@st.composite
def tables(draw):
    kind = draw(st.sampled_from(sorted(HEADERS)))
    header = list(HEADERS[kind])
    if draw(st.booleans()):  # damage the header too: drop, duplicate or rename a column
        i = draw(st.integers(0, len(header) - 1))
        header = draw(st.sampled_from([header[:i] + header[i + 1:], header + [header[i]],
                                       header[:i] + ["x"] + header[i + 1:]]))
    sep = "\t" if kind in ("gwas-ssf", "finngen", "vcf") else draw(st.sampled_from([",", "\t", ";"]))
    n = draw(st.integers(0, 8))
    rows = []
    for _ in range(n):
        width = draw(st.sampled_from([len(header)] * 4 + [len(header) - 1, len(header) + 1, 1]))
        rows.append([draw(CELLS) for _ in range(max(width, 0))])
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    text = sep.join(header) + eol + "".join(sep.join(r) + eol for r in rows)
    if kind == "vcf" and draw(st.booleans()):
        text = "##fileformat=VCFv4.2\n" + text
    data = text.encode("utf-8", errors="surrogatepass")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    gz = draw(st.booleans())
    if gz:
        data = gzip.compress(data, mtime=0)
        if draw(st.booleans()):
            data = data[: draw(st.integers(0, len(data)))]
    return kind, data, gz


def _read_all(path: Path, kind: str) -> None:
    readers = [lambda: read_sumstats(path)]
    if kind == "harmonised":
        readers.append(lambda: read_harmonised(path))
    if kind == "tsmr":
        readers.append(lambda: read_tsmr(path, "exposure"))
    for read in readers:
        try:
            out = read()
        except (InputError, ParameterError) as exc:
            assert "\n" not in str(exc)
        else:
            assert isinstance(out, pd.DataFrame)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_readers_give_a_table_or_one_clean_error(case):
    kind, data, gz = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("t.txt.gz" if gz else "t.txt")
        path.write_bytes(data)
        _read_all(path, kind)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_readers_on_random_bytes(data, gz):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.bin"
        path.write_bytes(gzip.compress(data) if gz else data)
        _read_all(path, "harmonised")


# --------------------------------------------------------------------------- parameters

VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
              st.sampled_from(["5e-8", "1e3", "demo:hashimoto", "demo:goitre", "mr_ivw", "r",
                               "numpy", "", "ebi-a-GCST90018862", "/nonexistent/file.tsv"])),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=8), children, max_size=3)),
    max_leaves=6)
NAMES = st.one_of(st.sampled_from(sorted(params.SCHEMA)), st.text(max_size=10))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(NAMES, VALUES, max_size=4), st.booleans())
def test_parameter_checker_gives_values_or_one_clean_error(values, partial):
    try:
        out = params.validate(values, partial=partial)
    except ParameterError as exc:
        assert "\n" not in str(exc)
    else:
        assert set(out) <= set(params.SCHEMA)
        for name, v in out.items():
            typ = params.SCHEMA[name].type
            assert isinstance(v, typ) and not (typ in (int, float) and isinstance(v, bool))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_parameter_files_of_random_text(text):
    try:
        data = params.yaml_load(text, "p.yaml")
        if isinstance(data, dict):
            params.validate(data, partial=True)
    except ParameterError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["p_threshold", "clump_r2", "clump_kb", "nboot", "seed",
                        "presso_n_distribution", "palindrome_action"]),
       st.one_of(st.floats(1e-300, 1e6), st.integers(0, 10**6)),
       st.sampled_from(["{:e}", "{:E}", "{!r}", "{:.3g}", "{:g}"]))
def test_any_spelling_of_a_number_in_a_file_reads_as_that_number(name, value, fmt):
    """One number rule: what `yaml_load` reads from a file is what `validate` gets."""
    text = f"{name}: {fmt.format(value)}\n"
    written = float(fmt.format(value))
    try:
        got = params.validate(params.yaml_load(text), partial=True)[name]
    except ParameterError as exc:
        msg = str(exc)
        assert name in msg and "\n" not in msg
        # refused only for a value outside the parameter's range, or a fraction where an
        # integer is meant
        assert ("must be" in msg) or ("between" in msg) or ("at least" in msg), msg
    else:
        assert got == (int(written) if params.SCHEMA[name].type is int else written)
