"""The wide multivariable table (input a) and the shipped lipid data: reading, checks, exclusions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import REFERENCE, SHARED, SKIP_SHARED
from mrbook.data.shipped import (LIPID_EXPOSURES, provenance_path, read_lipids_chd, sha256,
                                 shipped_path)
from mrbook.errors import InputError
from mrbook.multivariable import mv_from_frame, read_mv_table, run_mvmr

LIPIDS_MV = REFERENCE / "lipids_mv" / "lipids_mv.csv"
HEADER = "SNP,beta.a,se.a,beta.b,se.b,beta.outcome,se.outcome\n"
ROWS = ["rs1,0.10,0.01,0.02,0.01,0.05,0.02", "rs2,0.02,0.01,0.12,0.01,0.04,0.02",
        "rs3,0.08,0.01,0.07,0.01,0.03,0.02", "rs4,0.09,0.01,0.01,0.01,0.06,0.02",
        "rs5,0.03,0.01,0.10,0.01,-0.01,0.02"]


def write(tmp_path, rows, header=HEADER):
    p = tmp_path / "mv.csv"
    p.write_text(header + "\n".join(rows) + "\n")
    return p


def test_reads_the_reference_table_as_mvmr_formats_it():
    if not LIPIDS_MV.is_file():
        pytest.skip(SKIP_SHARED)
    d = read_mv_table(LIPIDS_MV)
    assert d.exposures == ["ldlc", "hdlc", "trig"] and d.n == 28 and d.exclusions.empty
    ref = json.loads((REFERENCE / "lipids_mv" / "mvmr.json").read_text())
    rows = ref["results"]["format_mvmr"]["value"]
    assert d.snps == [r["SNP"] for r in rows]
    for j in range(3):
        assert d.bx[:, j].tolist() == [r[f"betaX{j + 1}"] for r in rows]
        assert d.sx[:, j].tolist() == [r[f"sebetaX{j + 1}"] for r in rows]
    assert d.by.tolist() == [r["betaYG"] for r in rows] and d.sy.tolist() == [r["sebetaYG"] for r in rows]
    # no P column: P from beta/se, as the reference's mvdat (EXTENDED.md), and said so
    assert "computed" in " ".join(d.meta["notes"])


def test_shipped_lipids_are_the_reference_data_byte_for_byte():
    assert sha256(shipped_path("lipids_chd")) == \
        "6c3a070491870877f7326830d5cb678b48f57116d31737dddcfb561fde06d899"
    assert "6c3a070491870877f7326830d5cb678b48f57116d31737dddcfb561fde06d899" in \
        provenance_path().read_text()
    lip = read_lipids_chd()
    assert list(lip["SNP"])[:2] == ["snp01", "snp02"] and len(lip) == 28
    d = mv_from_frame(lip, exposure_names=LIPID_EXPOSURES)
    assert d.exposure_names == ["LDL cholesterol", "HDL cholesterol", "Triglycerides"]
    src = SHARED / "data" / "examples" / "mendelianrandomization" / "lipids_chd_waterworth2010.csv"
    if not (src.is_file() and LIPIDS_MV.is_file()):
        pytest.skip(SKIP_SHARED)
    assert src.read_bytes() == shipped_path("lipids_chd").read_bytes()
    ref = read_mv_table(LIPIDS_MV)
    assert d.snps == ref.snps
    for a, b in ((d.bx, ref.bx), (d.sx, ref.sx), (d.by, ref.by), (d.sy, ref.sy)):
        assert np.array_equal(a, b)


def test_missing_values_drop_the_snp_with_its_reason(tmp_path):
    rows = list(ROWS)
    rows[1] = "rs2,0.02,0.01,NA,0.01,0.04,0.02"
    rows[3] = "rs4,0.09,0.01,0.01,0.01,0.06,"
    d = read_mv_table(write(tmp_path, rows))
    assert d.snps == ["rs1", "rs3", "rs5"]
    ex = d.exclusions.set_index("snp")
    assert ex.loc["rs2", "reason"] == "missing beta.b" and ex.loc["rs2", "exposure"] == "b"
    assert ex.loc["rs4", "reason"] == "missing se.outcome"


@pytest.mark.parametrize("header,rows,message", [
    ("SNP,beta.a,se.a,beta.outcome,se.outcome\n", ["rs1,0.1,0.01,0.05,0.02"],
     "at least two exposures"),
    ("SNP,beta.a,se.a,beta.b,beta.outcome,se.outcome\n", ["rs1,0.1,0.01,0.1,0.05,0.02"],
     "beta.b has no se.b"),
    ("SNP,beta.a,se.a,beta.b,se.b,beta.outcome\n", ["rs1,0.1,0.01,0.1,0.01,0.05"],
     "missing required column(s) se.outcome"),
    (HEADER, ROWS[:2] + ["rs3,0.08,0.01,abc,0.01,0.03,0.02"], "row 3, column 'beta.b': expected a number"),
    (HEADER, ROWS[:2] + ["rs3,0.08,0,0.07,0.01,0.03,0.02"], "row 3, column 'se.a': standard errors"),
    (HEADER, ROWS[:2] + ["rs1,0.08,0.01,0.07,0.01,0.03,0.02"], "row 3, column 'SNP': SNP rs1 appears twice"),
    (HEADER, ["rs1,NA,0.01,0.1,0.01,0.05,0.02"], "no usable SNP"),
])
def test_bad_tables_are_one_line_errors(tmp_path, header, rows, message):
    with pytest.raises(InputError) as err:
        read_mv_table(write(tmp_path, rows, header))
    assert message in str(err.value) and "mv.csv" in str(err.value) and "\n" not in str(err.value)


def test_too_few_snps_for_a_method_is_reported_not_run(tmp_path):
    d = read_mv_table(write(tmp_path, ROWS[:4]))      # 4 SNPs, 2 exposures: Egger needs 4 -> runs
    res = run_mvmr(d, iterations=50)
    assert (res.mvmr["status"] == "ok").all()
    d3 = read_mv_table(write(tmp_path, ROWS[:3]))
    res3 = run_mvmr(d3, iterations=50)
    egger = res3.mvmr[res3.mvmr["method"] == "Multivariable MR-Egger"]
    assert (egger["status"] == "not run").all()
    assert egger["reason"].iloc[0] == "needs at least 4 SNPs for 2 exposures, 3 available"
    assert (res3.mvmr[res3.mvmr["method"] != "Multivariable MR-Egger"]["status"] == "ok").all()
    assert res3.to_json()["not_run"][0]["method"] == "Multivariable MR-Egger"


def test_p_values_in_the_table_are_used(tmp_path):
    header = "SNP,beta.a,se.a,pval.a,beta.b,se.b,pval.b,beta.outcome,se.outcome\n"
    rows = [r.split(",") for r in ROWS]
    text = [",".join([r[0], r[1], r[2], "1e-9", r[3], r[4], "0.5", r[5], r[6]]) for r in rows]
    d = read_mv_table(write(tmp_path, text, header))
    res = run_mvmr(d, ["mv_multiple"])
    assert res.mvmr["nsnp"].tolist() == [5, 0] and d.meta["notes"] == []
    assert isinstance(pd.DataFrame(res.to_json()["mvmr"]), pd.DataFrame)
