"""``mrbook mr`` and ``mrbook harmonise`` on good and bad input (SPEC section 5)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mrbook.cli.main import main

HEADER = ("SNP,beta.exposure,se.exposure,beta.outcome,se.outcome,effect_allele.exposure,"
          "other_allele.exposure,pval.exposure\n")
GOOD = [
    "rs1,0.10,0.01,0.05,0.02,A,G,1e-20",
    "rs2,0.12,0.01,0.04,0.02,C,T,1e-25",
    "rs3,-0.08,0.01,-0.03,0.02,AT,A,0",      # indel allele and P = 0 (underflow) are fine
    "rs4,0.09,0.01,0.02,0.02,I,D,1e-15",
    "rs5,0.11,0.012,0.07,0.025,G,A,1e-18",
]


def write(tmp_path: Path, rows, header=HEADER, name="h.csv") -> Path:
    p = tmp_path / name
    p.write_text(header + "\n".join(rows) + "\n")
    return p


def run_cli(args, capsys):
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.err


def test_good_input_writes_contract(tmp_path, capsys):
    out = tmp_path / "out.json"
    code, err = run_cli(["mr", write(tmp_path, GOOD), "--json", out, "--nboot", "200"], capsys)
    assert code == 0, err
    d = json.loads(out.read_text())
    methods = [r["method"] for r in d["mr"]]
    assert methods == ["MR Egger", "Weighted median", "Inverse variance weighted",
                       "Simple mode", "Weighted mode"] or "Simple mode" not in methods
    for key in ("heterogeneity", "pleiotropy", "leaveoneout", "singlesnp"):
        assert key in d
    assert {r["SNP"] for r in d["singlesnp"]} >= {"rs1", "rs2", "rs3", "rs4", "rs5"}
    assert d["leaveoneout"][-1]["SNP"] == "All"
    assert set(d["pleiotropy"]) == {"egger_intercept", "se", "pval"}


def test_missing_values_drop_the_snp_with_reason(tmp_path, capsys):
    rows = GOOD + ["rs6,0.1,0.01,NA,0.02,A,G,1e-9", "rs7,0.1,,0.03,0.02,A,G,1e-9"]
    out = tmp_path / "out.json"
    code, err = run_cli(["mr", write(tmp_path, rows), "--json", out, "--nboot", "100"], capsys)
    assert code == 0, err
    d = json.loads(out.read_text())
    assert {e["SNP"]: e["reason"] for e in d["excluded"]} == {
        "rs6": "missing beta.outcome", "rs7": "missing se.exposure"}
    assert all(r["nsnp"] == 5 for r in d["mr"])


def test_too_few_snps_reports_methods_not_run(tmp_path, capsys):
    out = tmp_path / "out.json"
    code, err = run_cli(["mr", write(tmp_path, GOOD[:2]), "--json", out], capsys)
    assert code == 0, err
    d = json.loads(out.read_text())
    assert [r["method"] for r in d["mr"]] == ["Inverse variance weighted"]
    assert {r["method"] for r in d["not_run"]} >= {"MR Egger", "Weighted median"}
    assert all("needs at least 3 SNPs, 2 available" == r["reason"] for r in d["not_run"])


def test_several_pairs_carry_ids(tmp_path, capsys):
    header = HEADER.strip() + ",id.exposure,id.outcome\n"
    rows = [r + ",X1,Y" for r in GOOD] + [r + ",X2,Y" for r in GOOD]
    out = tmp_path / "out.json"
    code, err = run_cli(["mr", write(tmp_path, rows, header), "--json", out, "--nboot", "50"], capsys)
    assert code == 0, err
    d = json.loads(out.read_text())
    for part in ("mr", "heterogeneity", "leaveoneout", "singlesnp", "pleiotropy"):
        assert isinstance(d[part], list)
        assert all({"id.exposure", "id.outcome"} <= set(r) for r in d[part]), part
    assert {r["id.exposure"] for r in d["mr"]} == {"X1", "X2"}


BAD = [
    # (description, header, rows, expected fragments of the one-line error)
    ("missing column", "SNP,beta.exposure,se.exposure,beta.outcome\n", ["rs1,0.1,0.01,0.02"],
     ["column 'se.outcome'", "missing required column"]),
    ("text", HEADER, GOOD[:2] + ["rs9,0.1,abc,0.02,0.01,A,G,1e-9"],
     ["row 3", "column 'se.exposure'", "expected a number, got 'abc'"]),
    ("infinite", HEADER, GOOD[:2] + ["rs9,Inf,0.01,0.02,0.01,A,G,1e-9"],
     ["row 3", "column 'beta.exposure'", "finite"]),
    ("zero se", HEADER, GOOD[:3] + ["rs9,0.1,0.01,0.02,0,A,G,1e-9"],
     ["row 4", "column 'se.outcome'", "> 0"]),
    ("negative se", HEADER, ["rs9,0.1,-0.01,0.02,0.1,A,G,1e-9"] + GOOD,
     ["row 1", "column 'se.exposure'", "> 0"]),
    ("duplicate", HEADER, GOOD + [GOOD[1]], ["row 6", "column 'SNP'", "rs2 appears twice"]),
    ("allele", HEADER, GOOD[:1] + ["rs9,0.1,0.01,0.02,0.1,A,X,1e-9"],
     ["row 2", "column 'other_allele.exposure'", "'X'"]),
    ("p out of range", HEADER, GOOD[:1] + ["rs9,0.1,0.01,0.02,0.1,A,G,1.5"],
     ["row 2", "column 'pval.exposure'", "[0, 1]"]),
    ("no usable snp", HEADER, ["rs1,NA,0.01,0.02,0.1,A,G,1e-9", "rs2,0.1,0.01,,0.1,A,G,1e-9"],
     ["no usable SNP"]),
    ("empty", "", [], ["empty"]),
    ("header only", HEADER, [], ["no data rows"]),
]


@pytest.mark.parametrize("desc,header,rows,frags", BAD, ids=[b[0] for b in BAD])
def test_bad_input_one_line_error_and_nothing_written(tmp_path, capsys, desc, header, rows, frags):
    path = write(tmp_path, rows, header)
    out = tmp_path / "out.json"
    code, err = run_cli(["mr", path, "--json", out], capsys)
    assert code != 0
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert str(path) in err or "no usable" in err
    for f in frags:
        assert f in err, (f, err)
    assert not out.exists() and not any(p.name.startswith(".out.json") for p in tmp_path.iterdir())


def test_unreadable_gzip(tmp_path, capsys):
    p = tmp_path / "h.csv.gz"
    data = gzip.compress((HEADER + "\n".join(GOOD)).encode())
    p.write_bytes(data[: len(data) // 2])
    code, err = run_cli(["mr", p, "--json", tmp_path / "o.json"], capsys)
    assert code != 0 and "cannot read" in err and err.count("\n") == 1


def test_missing_file_and_unknown_method(tmp_path, capsys):
    code, err = run_cli(["mr", tmp_path / "nope.csv", "--json", tmp_path / "o.json"], capsys)
    assert code != 0 and "file not found" in err
    code, err = run_cli(["mr", write(tmp_path, GOOD), "--json", tmp_path / "o.json",
                         "--methods", "mr_ivw,mr_magic"], capsys)
    assert code != 0 and "unknown MR method 'mr_magic'" in err and "mr_ivw" in err


def test_console_script_no_traceback(tmp_path):
    exe = Path(sys.executable).with_name("mrbook")
    if not exe.exists():
        pytest.skip("console script not installed in this environment")
    p = write(tmp_path, GOOD[:1] + ["rs9,0.1,abc,0.02,0.01,A,G,1e-9"])
    r = subprocess.run([exe, "mr", p, "--json", tmp_path / "o.json"], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1


def test_harmonise_then_mr_end_to_end_matches_twosamplemr(tmp_path, capsys, shared_dir):
    """Raw exposure + outcome CSVs -> harmonise -> mr, against TwoSampleMR's run."""
    case = shared_dir / "reference" / "synthetic30_raw"
    ref = json.loads((case / "twosamplemr.json").read_text())
    h = tmp_path / "h.csv"
    code, err = run_cli(["harmonise", case / "synthetic30_exposure.csv",
                         case / "synthetic30_outcome.csv", "--out", h, "--action", "2"], capsys)
    assert code == 0, err
    excl = (tmp_path / "h_exclusions.csv").read_text()
    assert "absent from outcome data" in excl and "palindromic" in excl
    out = tmp_path / "o.json"
    code, err = run_cli(["mr", h, "--json", out, "--rng", "r", "--seed", "1234"], capsys)
    assert code == 0, err
    got = {r["method"]: r for r in json.loads(out.read_text())["mr"]}
    for r in ref["mr"]:
        if r["method"] in got:
            for f in ("b", "se", "pval"):
                assert abs(got[r["method"]][f] - r[f]) <= 1e-10 * abs(r[f]), (r["method"], f)
