"""Summary-statistics readers: each format on a small real-format file, the real-data
rules, the bad-input errors and the streaming filters.

The fixtures in tests/fixtures/readers/ were written by hand in each format's published
layout (GWAS-VCF spec v1.0, GWAS-SSF v1.1, FinnGen R5/R9 data descriptions,
TwoSampleMR's format_data columns); the .gz files are ``gzip -n`` copies of the plain ones.
"""

from __future__ import annotations

import gzip
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mrbook.data.readers as readers
from mrbook.errors import InputError, ParameterError
from mrbook.data.readers import COLUMNS, detect_format, effective_p, read_sumstats, to_tsmr

from conftest import SHARED, SKIP_SHARED

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "readers"
EXAMPLES = SHARED / "data" / "examples" / "twosamplemr"
SSF_MAPPING = {"rsid": "MarkerName", "chr": "Chr", "pos": "Pos", "effect_allele": "A1",
               "other_allele": "A2", "eaf": "Freq1", "beta": "Effect", "se": "StdErr",
               "p": "P.value", "n": "N"}
DTYPES = {"rsid": "str", "chr": "str", "pos": "Int64", "effect_allele": "str",
          "other_allele": "str", "eaf": "float64", "beta": "float64", "se": "float64",
          "p": "float64", "n": "float64", "ncase": "float64", "ncontrol": "float64"}


def _rows(df: pd.DataFrame, rsid: str) -> pd.DataFrame:
    return df[df["rsid"] == rsid]


def _write(tmp_path: Path, name: str, text: str, gz: bool = False) -> Path:
    path = tmp_path / name
    if gz:
        path.write_bytes(gzip.compress(text.encode(), mtime=0))
    else:
        path.write_text(text)
    return path


def _edit(fixture: str, line: int, old: str, new: str) -> str:
    lines = (FIX / fixture).read_text().splitlines(keepends=True)
    assert old in lines[line]
    lines[line] = lines[line].replace(old, new, 1)
    return "".join(lines)


def _assert_located(err: pytest.ExceptionInfo, path: Path, row: int, column: str | None,
                    *words: str) -> None:
    msg = str(err.value)
    assert err.value.path == str(path) and err.value.row == row and err.value.column == column
    assert msg.startswith(f"{path}: row {row}")
    if column is not None:
        assert f"column '{column}'" in msg
    for w in words:
        assert w in msg, msg
    assert "\n" not in msg


# --------------------------------------------------------------------------- every format


@pytest.mark.parametrize("name, fmt, nrows", [
    ("ieu_gwas.vcf", "vcf", 7), ("ieu_gwas.vcf.gz", "vcf", 7),
    ("gwas_ssf.tsv", "gwas-ssf", 6), ("gwas_ssf.tsv.gz", "gwas-ssf", 6),
    ("finngen_r5.tsv", "finngen", 6), ("finngen_r5.tsv.gz", "finngen", 6),
    ("finngen_r9.tsv", "finngen", 2), ("finngen_r9.tsv.gz", "finngen", 2),
    ("tsmr_exposure.csv", "tsmr", 3), ("tsmr_exposure.csv.gz", "tsmr", 3),
])
def test_each_format_plain_and_gzip(name, fmt, nrows):
    path = FIX / name
    assert detect_format(path) == fmt
    df = read_sumstats(path)
    assert tuple(df.columns) == COLUMNS
    assert {c: str(t) for c, t in df.dtypes.items()} == DTYPES
    assert len(df) == nrows
    assert df.equals(read_sumstats(path, fmt=fmt))
    assert (df["effect_allele"] == df["effect_allele"].str.upper()).all()
    assert not df["chr"].str.startswith("chr").any()


@pytest.mark.parametrize("plain", ["ieu_gwas.vcf", "gwas_ssf.tsv", "finngen_r5.tsv",
                                   "finngen_r9.tsv", "tsmr_exposure.csv", "custom_space.txt"])
def test_gzip_and_plain_give_the_same_table(plain):
    kw = {"mapping": SSF_MAPPING} if plain == "custom_space.txt" else {}
    pd.testing.assert_frame_equal(read_sumstats(FIX / plain, **kw),
                                  read_sumstats(FIX / (plain + ".gz"), **kw))


@pytest.mark.parametrize("name, column, words", [
    ("gwas_ssf_bad_header.tsv", "standard_error", ["GWAS-SSF", "stderr"]),
    ("finngen_bad_header.tsv", "sebeta", ["FinnGen", "se_beta"]),
    ("tsmr_bad_header.csv", "se.exposure", ["TwoSampleMR exposure", "stderr.exposure"]),
])
def test_missing_columns_are_named_with_the_expected_format(name, column, words):
    path = FIX / name
    with pytest.raises(InputError) as err:
        read_sumstats(path)
    _assert_located(err, path, 0, column, "missing column(s) " + column, *words)


def test_vcf_without_es_in_format_is_rejected():
    path = FIX / "ieu_gwas_no_es.vcf"
    with pytest.raises(InputError) as err:
        read_sumstats(path)
    _assert_located(err, path, 1, "FORMAT", "lacks ES")


def test_unknown_header_asks_for_a_mapping():
    path = FIX / "custom_space.txt"
    with pytest.raises(InputError) as err:
        detect_format(path)
    _assert_located(err, path, 0, None, "fmt='delimited'", "MarkerName")


# --------------------------------------------------------------------------- VCF


def test_vcf_values_follow_the_gwas_vcf_spec():
    df = read_sumstats(FIX / "ieu_gwas.vcf")
    first = _rows(df, "rs10399793").iloc[0]
    # ALT is the effect allele, ES its effect, LP = -log10 p, AF the ALT frequency
    assert (first["effect_allele"], first["other_allele"]) == ("C", "T")
    assert first["beta"] == pytest.approx(-0.00457955)
    assert first["p"] == pytest.approx(10 ** -0.522879)
    assert first["eaf"] == pytest.approx(0.623804)
    assert first["n"] == 410141
    # ##SAMPLE header: case-control counts fill every row; SS missing -> TotalCases+Controls
    assert (df["ncase"] == 30155).all() and (df["ncontrol"] == 379986).all()
    assert _rows(df, "rs6702460")["n"].tolist() == [410141.0, 410141.0]
    assert _rows(df, "rs8179466")["n"].item() == 409000  # SS wins over the header
    assert _rows(df, "rs2462492")["chr"].item() == "1"  # "chr1" normalised
    assert _rows(df, "rs8179466")["chr"].item() == "X"
    indel = _rows(df, "rs114608975").iloc[0]
    assert (indel["effect_allele"], indel["other_allele"]) == ("T", "TA")
    assert math.isnan(indel["eaf"])  # AF "."
    # ID "." falls back to the FORMAT ID field
    assert _rows(df, "rs6680723")["pos"].item() == 534192


def test_vcf_lp_underflow_keeps_p_zero_and_effective_p_positive():
    df = read_sumstats(FIX / "ieu_gwas.vcf")
    row = df[(df["rsid"] == "rs6702460") & (df["effect_allele"] == "T")]
    assert row["p"].item() == 0.0  # 10**-400 underflows
    assert effective_p(row).item() > 0
    z = 0.9 / 0.02
    assert effective_p(row, log10=True).item() == pytest.approx(
        -(math.log(2) + readers.special.log_ndtr(-z)) / math.log(10))


def test_vcf_multiallelic_site_keeps_one_row_per_allele_pair():
    df = read_sumstats(FIX / "ieu_gwas.vcf")
    site = _rows(df, "rs6702460")
    assert sorted(site["effect_allele"]) == ["A", "T"]
    assert site["pos"].nunique() == 1


def _vcf_two_samples(tmp_path: Path) -> Path:
    text = (FIX / "ieu_gwas.vcf").read_text().splitlines()
    out = []
    for line in text:
        if line.startswith("##"):
            out.append(line)
        elif line.startswith("#CHROM"):
            out.append(line + "\tukb-b-1")
        else:
            fields = line.split("\t")
            out.append(line + "\t" + fields[9].replace("-", ""))
    out.insert(12, "##SAMPLE=<ID=ukb-b-1,Trait=\"Body mass index, BMI\",TotalControls=461460,"
                   "StudyType=Continuous>")
    return _write(tmp_path, "two.vcf", "\n".join(out) + "\n")


def test_vcf_with_two_studies_needs_study(tmp_path):
    path = _vcf_two_samples(tmp_path)
    with pytest.raises(InputError) as err:
        read_sumstats(path)
    _assert_located(err, path, 0, "ukb-b-1", "2 studies", "study=")
    second = read_sumstats(path, study="ukb-b-1")
    assert (second["beta"] >= 0).all()
    # continuous study: OpenGWAS writes N as TotalControls; no case counts
    assert second["ncase"].isna().all()
    assert _rows(second, "rs6702460")["n"].tolist() == [461460.0, 461460.0]
    first = read_sumstats(path, study="ebi-a-GCST90018862")
    pd.testing.assert_frame_equal(first, read_sumstats(FIX / "ieu_gwas.vcf"))


def test_vcf_multiple_alt_alleles_are_rejected(tmp_path):
    path = _write(tmp_path, "m.vcf", _edit("ieu_gwas.vcf", 16, "\tTA\tT\t", "\tTA\tT,TAA\t"))
    with pytest.raises(InputError) as err:
        read_sumstats(path)
    _assert_located(err, path, 3, "ALT", "bcftools norm")


def test_vcf_sample_field_text_is_located(tmp_path):
    path = _write(tmp_path, "t.vcf", _edit("ieu_gwas.vcf", 19, ":0.00860662:", ":abc:"))
    with pytest.raises(InputError) as err:
        read_sumstats(path)
    _assert_located(err, path, 6, "ebi-a-GCST90018862 (SE)", "'abc'")


def test_vcf_wrong_number_of_sample_values(tmp_path):
    path = _write(tmp_path, "w.vcf", _edit("ieu_gwas.vcf", 14, ":410141:", ":"))
    with pytest.raises(InputError) as err:
        read_sumstats(path)
    _assert_located(err, path, 1, "ebi-a-GCST90018862", "expected 6 values")


# --------------------------------------------------------------------------- GWAS-SSF


def test_gwas_ssf_rules():
    df = read_sumstats(FIX / "gwas_ssf.tsv")
    assert df["rsid"].isna().sum() == 1  # "#NA" rsid
    assert _rows(df, "rs5949232")["chr"].item() == "X"  # GWAS-SSF 23
    assert _rows(df, "rs2015062")["chr"].item() == "MT"  # GWAS-SSF 25
    zero = _rows(df, "rs774624803").iloc[0]
    assert zero["p"] == 0.0 and math.isnan(zero["eaf"]) and math.isnan(zero["n"])
    assert (zero["effect_allele"], zero["other_allele"]) == ("TAAA", "T")
    low = _rows(df, "rs74143854").iloc[0]
    assert (low["effect_allele"], low["other_allele"]) == ("C", "T")  # upper-cased
    assert low["p"] == pytest.approx(9.7e-126)


def test_gwas_ssf_metadata_sidecar_fills_sample_sizes(tmp_path):
    path = _write(tmp_path, "0000123.tsv", (FIX / "gwas_ssf.tsv").read_text())
    (tmp_path / "0000123.tsv-meta.yaml").write_text(
        "genome_assembly: GRCh37\nsample_size: 410141\ncase_count: 30155\n"
        "control_count: 379986\ncase_control_study: true\n")
    df = read_sumstats(path)
    assert (df["n"] == 410141).all()
    assert (df["ncase"] == 30155).all() and (df["ncontrol"] == 379986).all()


def test_gwas_ssf_neg_log10_p(tmp_path):
    text = (FIX / "gwas_ssf.tsv").read_text().replace("p_value", "neg_log_10_p_value")
    text = text.replace("9.7E-126", "125.5")
    df = read_sumstats(_write(tmp_path, "l.tsv", text))
    assert _rows(df, "rs74143854")["p"].item() == pytest.approx(10 ** -125.5)


def test_gwas_ssf_odds_ratio_is_explained(tmp_path):
    path = _write(tmp_path, "or.tsv", (FIX / "gwas_ssf.tsv").read_text().replace(
        "\tbeta\t", "\todds_ratio\t"))
    with pytest.raises(InputError) as err:
        read_sumstats(path)
    _assert_located(err, path, 0, "odds_ratio", "not 'beta'")


# --------------------------------------------------------------------------- FinnGen


def test_finngen_r5_maf_is_the_alt_allele_frequency():
    df = read_sumstats(FIX / "finngen_r5.tsv")
    row = _rows(df, "rs2691328").iloc[0]
    assert (row["effect_allele"], row["other_allele"]) == ("A", "G")  # alt is the effect allele
    assert row["eaf"] == pytest.approx(0.0062)  # "maf" column, documented as alt frequency
    assert _rows(df, "rs311165")["chr"].item() == "X"  # FinnGen 23
    assert df["n"].isna().all()  # FinnGen files carry no sample size


def test_finngen_r9_af_alt():
    df = read_sumstats(FIX / "finngen_r9.tsv")
    assert _rows(df, "rs1000")["eaf"].item() == pytest.approx(0.78)


def test_finngen_several_rsids_and_missing_rsid():
    df = read_sumstats(FIX / "finngen_r5.tsv")
    a, b = _rows(df, "rs878915777").iloc[0], _rows(df, "rs1234").iloc[0]
    assert (a["pos"], a["beta"]) == (b["pos"], b["beta"]) == (14773, 0.21)
    assert df["rsid"].isna().sum() == 1
    assert read_sumstats(FIX / "finngen_r5.tsv", snps=["rs1234"])["pos"].tolist() == [14773]


def test_finngen_mlogp_replaces_a_zero_pval(tmp_path):
    path = _write(tmp_path, "f.tsv", _edit("finngen_r5.tsv", 3, "\t400.5\t", "\t310\t"))
    df = read_sumstats(path)
    assert _rows(df, "rs9999")["p"].item() == pytest.approx(1e-310)
    assert _rows(read_sumstats(FIX / "finngen_r5.tsv"), "rs9999")["p"].item() == 0.0


# --------------------------------------------------------------------------- TwoSampleMR


def test_tsmr_fixture_values():
    df = read_sumstats(FIX / "tsmr_exposure.csv")
    assert df["rsid"].tolist() == ["rs1037", "rs1074", "rs1090"]
    assert df["chr"].tolist() == ["1", "2", "X"]
    assert df["effect_allele"].tolist() == ["A", "C", "G"]
    assert math.isnan(df.loc[1, "eaf"]) and math.isnan(df.loc[2, "n"])


def test_tsmr_roles_and_to_tsmr_round_trip(tmp_path):
    df = read_sumstats(FIX / "tsmr_exposure.csv")
    out = to_tsmr(df, "outcome", id="synX", trait="Synthetic")
    assert list(out.columns) == [
        "SNP", "beta.outcome", "se.outcome", "effect_allele.outcome", "other_allele.outcome",
        "eaf.outcome", "pval.outcome", "samplesize.outcome", "ncase.outcome",
        "ncontrol.outcome", "chr.outcome", "pos.outcome", "id.outcome", "outcome"]
    path = tmp_path / "out.csv"
    out.to_csv(path, index=False)
    back = read_sumstats(path)
    pd.testing.assert_frame_equal(back, df)
    with pytest.raises(ParameterError):
        to_tsmr(df, "exposures")
    exp = to_tsmr(df, "exposure")
    assert (exp["exposure"] == "exposure").all() and (exp["id.exposure"] == "exposure").all()


def test_tsmr_missing_pval_is_inferred_from_beta_and_se(tmp_path):
    text = "SNP beta se effect_allele\nrs1 0.1 0.02 a\nrs2 -0.3 0.1 G\n"
    df = read_sumstats(_write(tmp_path, "raw.txt", text))
    assert df["p"].tolist() == pytest.approx([2 * readers.special.ndtr(-5.0),
                                              2 * readers.special.ndtr(-3.0)])
    assert df["other_allele"].isna().all()


@pytest.mark.skipif(not SHARED.is_dir(), reason=SKIP_SHARED)
def test_tsmr_reads_the_synthetic_reference_exposure():
    path = SHARED / "reference" / "synthetic30_raw" / "synthetic30_exposure.csv"
    raw = pd.read_csv(path)
    df = read_sumstats(path)
    assert len(df) == len(raw) == 30
    np.testing.assert_array_equal(df["beta"], raw["beta.exposure"])
    np.testing.assert_array_equal(df["se"], raw["se.exposure"])
    np.testing.assert_array_equal(df["p"], raw["pval.exposure"])
    assert df["rsid"].tolist() == raw["SNP"].tolist()
    assert df["effect_allele"].tolist() == raw["effect_allele.exposure"].tolist()


def _example_csvs() -> list[Path]:
    return sorted(EXAMPLES.glob("*.csv")) if EXAMPLES.is_dir() else []


STUDY = {"harmonised_dat2_bmi_tc_vs_chd_edu.csv": "ieu-a-2",
         "vig_mv_exposure_dat_lipids.csv": "ieu-a-299"}


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason=SKIP_SHARED)
@pytest.mark.parametrize("path", _example_csvs(), ids=lambda p: p.name)
def test_tsmr_reads_the_twosamplemr_examples(path):
    raw = pd.read_csv(path)
    if path.name == "bmi.csv":  # GIANT-style columns: the generic reader with a mapping
        df = read_sumstats(path, mapping={"rsid": "rsid", "beta": "effect", "se": "SE",
                                          "effect_allele": "a1", "other_allele": "a2",
                                          "eaf": "a1_freq", "p": "p-value", "n": "n"})
        assert len(df) == len(raw)
        np.testing.assert_array_equal(df["beta"], raw["effect"])
        return
    role = "exposure" if "beta.exposure" in raw.columns else "outcome"
    study = STUDY.get(path.name)
    if study is not None:
        with pytest.raises(InputError, match="study="):
            read_sumstats(path)
        raw = raw[raw[f"id.{role}"] == study]
    df = read_sumstats(path, study=study)
    first = raw.drop_duplicates("SNP")
    assert df["rsid"].tolist() == first["SNP"].tolist()
    np.testing.assert_array_equal(df["beta"], first[f"beta.{role}"])
    np.testing.assert_array_equal(df["se"], first[f"se.{role}"])
    np.testing.assert_array_equal(df["p"], first[f"pval.{role}"])
    if f"pos.{role}" in raw.columns or "pos" in raw.columns:
        assert df["pos"].notna().all()


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason=SKIP_SHARED)
def test_harmonised_table_reads_either_side():
    path = EXAMPLES / "harmonised_bmi_ieu-a-2_chd_ieu-a-7.csv"
    raw = pd.read_csv(path)
    out = read_sumstats(path, role="outcome")
    np.testing.assert_array_equal(out["beta"], raw["beta.outcome"])
    assert out["n"].tolist() == raw["samplesize.outcome"].astype(float).tolist()


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason=SKIP_SHARED)
@pytest.mark.parametrize("name", ["bmi.txt", "cardiogram.txt", "bladdercancer.txt",
                                  "telomere_length.txt"])
def test_twosamplemr_raw_text_examples(name):
    path = EXAMPLES / name
    raw = pd.read_csv(path, sep=r"\s+")
    df = read_sumstats(path)
    assert df["rsid"].tolist() == raw["SNP"].tolist()
    np.testing.assert_array_equal(df["beta"], raw["beta"])


# --------------------------------------------------------------------------- delimited


def test_delimited_with_mapping_on_blank_separated_text():
    df = read_sumstats(FIX / "custom_space.txt", mapping=SSF_MAPPING)
    assert df["chr"].tolist() == ["11", "3", "16"]
    assert df["effect_allele"].tolist() == ["A", "G", "A"]
    assert df["p"].tolist() == [5e-26, 4e-11, 1e-120]


def test_delimited_mapping_errors(tmp_path):
    path = FIX / "custom_space.txt"
    with pytest.raises(InputError) as err:
        read_sumstats(path, mapping={**SSF_MAPPING, "se": "SE"})
    _assert_located(err, path, 0, "SE", "missing column(s) SE")
    with pytest.raises(ParameterError, match="known keys"):
        read_sumstats(path, mapping={**SSF_MAPPING, "pval": "P.value"})
    with pytest.raises(ParameterError, match="beta"):
        read_sumstats(path, mapping={"rsid": "MarkerName", "se": "StdErr",
                                     "effect_allele": "A1"})
    with pytest.raises(ParameterError, match="delimited"):
        read_sumstats(FIX / "gwas_ssf.tsv", fmt="gwas-ssf", mapping=SSF_MAPPING)
    with pytest.raises(ParameterError, match="unknown format"):
        read_sumstats(path, fmt="csv")


@pytest.mark.parametrize("new, count", [("221431 extra", 11), ("", 9)])
def test_blank_separated_field_count_is_checked(tmp_path, new, count):
    text = _edit("custom_space.txt", 2, "221431", new)
    path = _write(tmp_path, "c.txt", text)
    with pytest.raises(InputError) as err:
        read_sumstats(path, mapping=SSF_MAPPING)
    _assert_located(err, path, 2, None, f"expected 10 fields, found {count}")


def test_delimited_text_in_numeric_column_blank_separated(tmp_path):
    path = _write(tmp_path, "c.txt", _edit("custom_space.txt", 2, "0.0204", "n/a?"))
    with pytest.raises(InputError) as err:
        read_sumstats(path, mapping=SSF_MAPPING)
    _assert_located(err, path, 2, "StdErr", "expected a number", "'n/a?'")


# --------------------------------------------------------------------------- bad values


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("line, old, new, column, words", [
    (3, "0.0187528", "abc", "beta", ["expected a number, got 'abc'"]),
    (2, "9.7E-126", "1.5", "p_value", ["p-value must be in [0, 1]"]),
    (2, "9.7E-126", "-0.01", "p_value", ["p-value must be in [0, 1]"]),
    (3, "0.00167685", "0", "standard_error", ["standard error", "> 0"]),
    (3, "0.00167685", "-0.2", "standard_error", ["standard error", "> 0"]),
    (5, "0.627178", "1.2", "effect_allele_frequency", ["allele frequency"]),
    (2, "205811055", "2.5e3", "base_pair_location", ["expected an integer"]),
    (2, "0.0789589", "inf", "beta", ["finite"]),
])
def test_bad_values_are_located(tmp_path, gz, line, old, new, column, words):
    name = "bad.tsv.gz" if gz else "bad.tsv"
    path = _write(tmp_path, name, _edit("gwas_ssf.tsv", line, old, new), gz=gz)
    with pytest.raises(InputError) as err:
        read_sumstats(path)
    _assert_located(err, path, line, column, *words)


def test_earliest_bad_row_is_reported(tmp_path):
    text = _edit("gwas_ssf.tsv", 5, "0.627178", "1.2")
    lines = text.splitlines(keepends=True)
    lines[2] = lines[2].replace("0.00331941", "0")
    path = _write(tmp_path, "two.tsv", "".join(lines))
    with pytest.raises(InputError) as err:
        read_sumstats(path)
    _assert_located(err, path, 2, "standard_error")


def test_bad_values_are_reported_even_if_filtered_out(tmp_path):
    path = _write(tmp_path, "b.tsv", _edit("gwas_ssf.tsv", 1, "0.00806496", "0"))
    with pytest.raises(InputError, match="row 1, column 'standard_error'"):
        read_sumstats(path, p_max=5e-8)


def test_wrong_field_count_is_located(tmp_path):
    path = _write(tmp_path, "f.tsv", _edit("gwas_ssf.tsv", 4, "\n", "\textra\n"))
    with pytest.raises(InputError) as err:
        read_sumstats(path)
    _assert_located(err, path, 4, None, "expected 11 fields, found 12")


def _big_ssf(rows: int) -> str:
    header = (FIX / "gwas_ssf.tsv").read_text().splitlines()[0]
    body = "".join(f"1\t{1000 + i}\tA\tG\t0.01\t0.01\t0.5\t{0.3 if i % 97 else 1e-9}\t"
                   f"1_{1000 + i}_G_A\trs{i + 10}\t100\n" for i in range(rows))
    return header + "\n" + body


def test_truncated_gzip_is_rejected(tmp_path):
    data = gzip.compress(_big_ssf(40000).encode(), mtime=0)
    path = tmp_path / "cut.tsv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as err:
        read_sumstats(path, p_max=5e-8)
    msg = str(err.value)
    assert msg.startswith(f"{path}: row ") and "truncated" in msg and "\n" not in msg
    assert 1 < err.value.row < 40000
    path.write_bytes(data[:6])
    with pytest.raises(InputError, match="truncated"):
        read_sumstats(path)


def test_truncated_gzip_blank_separated(tmp_path):
    text = _big_ssf(40000).replace("\t", " ")
    data = gzip.compress(text.encode(), mtime=0)
    path = tmp_path / "cut.txt.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated"):
        read_sumstats(path, mapping={"rsid": "rsid", "beta": "beta", "se": "standard_error",
                                     "effect_allele": "effect_allele"})


def test_rsid_at_two_positions_is_an_error(tmp_path):
    text = (FIX / "gwas_ssf.tsv").read_text() + \
        "9\t100\tA\tG\t0.1\t0.1\t0.5\t0.5\tx\trs74143854\t100\n"
    path = _write(tmp_path, "dup.tsv", text)
    with pytest.raises(InputError) as err:
        read_sumstats(path)
    _assert_located(err, path, 7, "rsid", "rs74143854", "1:205811055 (row 2)", "9:100")


def test_duplicate_rows_keep_the_first_in_either_allele_order(tmp_path):
    text = (FIX / "gwas_ssf.tsv").read_text() + \
        "1\t205811055\tT\tC\t-0.5\t0.1\t0.5\t0.5\tx\trs74143854\t100\n" + \
        "1\t205811055\tC\tA\t0.7\t0.1\t0.5\t0.5\tx\trs74143854\t100\n"
    df = read_sumstats(_write(tmp_path, "d.tsv", text))
    site = _rows(df, "rs74143854")
    assert site["beta"].tolist() == [pytest.approx(0.0789589), 0.7]  # first C/T row, then C/A


# --------------------------------------------------------------------------- filters


@pytest.mark.parametrize("name", ["ieu_gwas.vcf.gz", "gwas_ssf.tsv.gz", "finngen_r5.tsv",
                                  "tsmr_exposure.csv"])
def test_p_max_keeps_only_p_below_the_threshold(name):
    full = read_sumstats(FIX / name)
    kept = read_sumstats(FIX / name, p_max=5e-8)
    expected = full[full["p"] < 5e-8].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, expected)
    assert len(kept) < len(full)
    assert (full["p"] == 0).sum() == (kept["p"] == 0).sum()  # underflow zeros are kept


def test_snps_and_p_max_combine():
    path = FIX / "gwas_ssf.tsv"
    assert read_sumstats(path, snps=["rs142640435", "rs1"])["rsid"].tolist() == ["rs142640435"]
    got = read_sumstats(path, p_max=1e-20, snps={"rs74143854", "rs5949232", "rs774624803"})
    assert got["rsid"].tolist() == ["rs74143854", "rs774624803"]
    assert len(read_sumstats(path, snps=[])) == 0
    assert tuple(read_sumstats(path, snps=[]).columns) == COLUMNS


def test_many_small_blocks_give_the_same_result(tmp_path, monkeypatch):
    path = _write(tmp_path, "big.tsv.gz", _big_ssf(3000), gz=True)
    whole = read_sumstats(path, p_max=5e-8)
    monkeypatch.setattr(readers, "_BLOCK", 4096)
    pd.testing.assert_frame_equal(read_sumstats(path, p_max=5e-8), whole)
    assert len(whole) == len(range(0, 3000, 97))
    bad = _big_ssf(3000).replace("rs2990\t100", "rs2990\t-5")
    path = _write(tmp_path, "bad.tsv.gz", bad, gz=True)
    with pytest.raises(InputError, match="row 2981, column 'n'"):
        read_sumstats(path, p_max=5e-8)
    bad = _big_ssf(3000).replace("\t1_3500_G_A\t", "\t1_3500_G_A\t\t")
    path = _write(tmp_path, "bad2.tsv", bad)
    with pytest.raises(InputError, match="row 2501: expected 11 fields"):
        read_sumstats(path)


def test_multi_member_gzip_like_bgzip(tmp_path):
    text = (FIX / "gwas_ssf.tsv").read_text()
    cut = text.index("\n2\t70478797")
    path = tmp_path / "bgz.tsv.gz"
    path.write_bytes(gzip.compress(text[: cut + 1].encode()) + gzip.compress(text[cut + 1:].encode()))
    pd.testing.assert_frame_equal(read_sumstats(path), read_sumstats(FIX / "gwas_ssf.tsv"))


def test_parameters_are_checked():
    with pytest.raises(ParameterError):
        read_sumstats(FIX / "gwas_ssf.tsv", p_max=0)
    with pytest.raises(ParameterError):
        read_sumstats(FIX / "tsmr_exposure.csv", role="instrument")
    with pytest.raises(InputError, match="not found"):
        read_sumstats(FIX / "nope.tsv")


def test_empty_file(tmp_path):
    path = _write(tmp_path, "e.tsv", "")
    with pytest.raises(InputError) as err:
        read_sumstats(path)
    _assert_located(err, path, 0, None, "empty")


# --------------------------------------------------------------------------- effective_p


def test_effective_p():
    d = pd.DataFrame({"p": [0.0, 0.05, np.nan, 0.0, np.nan],
                      "beta": [1.0, 0.1, 0.2, 0.0, np.nan],
                      "se": [0.02, 0.05, 0.1, 0.1, 0.1]})
    ep = effective_p(d)
    assert ep.iloc[0] > 0  # z = 50: exp underflows, clamped to the smallest double
    assert ep.iloc[1] == 0.05
    assert ep.iloc[2] == pytest.approx(2 * readers.special.ndtr(-2.0))
    assert ep.iloc[3] == pytest.approx(1.0)
    assert math.isnan(ep.iloc[4])
    lp = effective_p(d, log10=True)
    assert lp.iloc[0] == pytest.approx(544.665, abs=1e-3)
    assert lp.iloc[1] == pytest.approx(-math.log10(0.05))
    assert d["p"].iloc[0] == 0.0  # the input is not modified
    mid = pd.DataFrame({"p": [0.0], "beta": [30.0], "se": [1.0]})  # p ~ 5e-198, no underflow
    assert effective_p(mid).item() == pytest.approx(2 * readers.special.ndtr(-30.0), rel=1e-9)


# --------------------------------------------------------------------------- property


_CHR_IN = {"1": "1", "chr2": "2", "CHR10": "10", "23": "X", "X": "X", "chrX": "X", "24": "Y"}


@st.composite
def _ssf_tables(draw):
    n = draw(st.integers(1, 40))
    finite = dict(allow_nan=False, allow_infinity=False)
    rows = []
    for i in range(n):
        rows.append({
            "chromosome": draw(st.sampled_from(sorted(_CHR_IN))),
            "base_pair_location": i * 10 + draw(st.integers(1, 9)),
            "effect_allele": draw(st.sampled_from(["a", "C", "g", "T", "AT", "TTC"])),
            "other_allele": draw(st.sampled_from(["A", "c", "G", "t", "CA"])),
            "beta": draw(st.floats(-5, 5, **finite)),
            "standard_error": draw(st.floats(1e-6, 10, **finite)),
            "effect_allele_frequency": draw(st.one_of(st.none(), st.floats(0, 1, **finite))),
            "p_value": draw(st.one_of(st.just(0.0), st.floats(1e-300, 1, **finite))),
            "rsid": f"rs{i + 1}",
        })
    return pd.DataFrame(rows), draw(st.booleans()), draw(st.sampled_from([None, 5e-8, 0.5]))


@settings(max_examples=40, deadline=None)
@given(_ssf_tables())
def test_gwas_ssf_round_trip_and_filter(case):
    raw, gz, p_max = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("x.tsv.gz" if gz else "x.tsv")
        text = raw.to_csv(sep="\t", index=False, na_rep="NA", float_format="%.17g")
        path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
        df = read_sumstats(path, p_max=p_max)
    keep = raw if p_max is None else raw[raw["p_value"] < p_max]
    keep = keep.reset_index(drop=True)
    assert df["rsid"].tolist() == keep["rsid"].tolist()
    assert df["chr"].tolist() == [_CHR_IN[c] for c in keep["chromosome"]]
    assert df["pos"].tolist() == keep["base_pair_location"].tolist()
    assert df["effect_allele"].tolist() == keep["effect_allele"].str.upper().tolist()
    np.testing.assert_array_equal(df["beta"], keep["beta"])
    np.testing.assert_array_equal(df["p"], keep["p_value"])
    np.testing.assert_array_equal(df["eaf"], keep["effect_allele_frequency"].astype(float))


@pytest.mark.parametrize("dtype", [pd.Series(["a"]).dtype, "string", object])
def test_str_array_is_pd_array(dtype):
    """frames.str_array gives pd.array's array: type, dtype, values and missing values."""
    from mrbook.data.frames import str_array

    dtype = pd.api.types.pandas_dtype(dtype)
    for values in ([], ["a"], [None], [np.nan, "x"], ["é", None, "b"], [math.nan] * 3, ["a", 1]):
        got, want = str_array(values, dtype), pd.array(values, dtype=dtype)
        assert type(got) is type(want) and got.dtype == want.dtype
        pd.testing.assert_extension_array_equal(got, want)
        assert got.isna().tolist() == want.isna().tolist()


def test_tsmr_frame_without_copy_is_the_same_table():
    """tsmr_frame(copy=False) makes the table tsmr_frame makes, from arrays of each kind."""
    text = readers._TEXT
    cols = {c: pd.array([np.nan, 1.0]) for c in COLUMNS}  # numpy-backed pandas arrays
    cols.update(rsid=pd.array(["rs1", "rs2"], dtype=text), chr=pd.array(["1", None], dtype=text),
                pos=pd.array([5, None], dtype="Int64"), beta=np.array([0.1, -0.2]),
                proxy=np.array([False, True]))
    a = readers.tsmr_frame(cols, "outcome", "o1", "t", pd.RangeIndex(2))
    b = readers.tsmr_frame(cols, "outcome", "o1", "t", pd.RangeIndex(2), copy=False)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert list(a.dtypes) == list(b.dtypes) and type(a.index) is type(b.index)


def test_rows_take_is_take():
    """frames.Rows.take gives each array's own take (type, dtype, values, missing values)."""
    from mrbook.data.frames import Rows

    text = pd.Series(["a"]).dtype
    arrays = [pd.array(["a", None, "c", "d"], dtype=text), pd.array(["a", None, "c", "d"],
              dtype="string"), np.array([1.5, np.nan, 3.0, 4.0]), np.array(["x", None, 1, 2.0],
              dtype=object), pd.array([1, None, 3, 4], dtype="Int64"),
              pd.Categorical(["u", "v", "u", None]), np.array([True, False, True, True])]
    for pos in ([], [3, 0, 1], [1, 1, 2]):
        at = Rows(pos)
        for a in arrays:
            got, want = at.take(a), a.take(np.asarray(pos, dtype=np.intp))
            assert type(got) is type(want) and got.dtype == want.dtype
            assert pd.Series(got).equals(pd.Series(want))
