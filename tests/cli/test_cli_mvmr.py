"""``mrbook mvmr``: the acceptance commands of issue 17, and bad input as one-line errors.

Reference values and tolerances as tests/estimators/test_mv_estimators.py (lipids_mv,
1e-10; the median's estimate 1e-8, its SE 1e-10 with ``--rng r`` and 5 % with numpy's
generator) and tests/multivariable/test_mv_harmonise.py (TwoSampleMR's vignette).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import REFERENCE, SHARED, SKIP_SHARED
from mrbook.cli.main import main

CASE = REFERENCE / "lipids_mv"
EX = SHARED / "data" / "examples" / "twosamplemr"
NAMES = {"ldlc": "Bx1", "hdlc": "Bx2", "trig": "Bx3"}


def run_cli(args, capsys):
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def ref(package):
    return json.loads((CASE / f"{package}.json").read_text())["results"]


def rows_of(out, method):
    return {r["exposure"]: r for r in out["mvmr"] if r["method"] == method}


def close(a, b, rel):
    return abs(a - b) <= rel * abs(b)


@pytest.mark.skipif(not CASE.is_dir(), reason=SKIP_SHARED)
@pytest.mark.parametrize("rng", ["r", "numpy"])
def test_wide_table_equals_the_references(tmp_path, capsys, rng):
    out_path = tmp_path / "out.json"
    code, err = run_cli(["mvmr", CASE / "lipids_mv.csv", "--json", out_path, "--rng", rng], capsys)
    assert code == 0, err
    out = json.loads(out_path.read_text())
    tsmr = {r["id.exposure"]: r for r in ref("twosamplemr_mv")["mv_multiple_default"]["value"]["result"]}
    ivw = rows_of(out, "Multivariable IVW")
    for e, r in tsmr.items():
        assert ivw[e]["nsnp"] == r["nsnp"]
        for f in ("b", "se", "pval"):
            assert close(ivw[e][f], r[f], 1e-10), (e, f)
    mr = ref("mendelianrandomization")
    re_, eg, med = (rows_of(out, m) for m in ("Multivariable IVW (random effects)",
                                               "Multivariable MR-Egger",
                                               "Multivariable weighted median"))
    for j, (e, bx) in enumerate(NAMES.items()):
        v = mr["mvivw_default"]["value"]
        assert close(re_[e]["b"], v["Estimate"][bx], 1e-10) and close(re_[e]["se"], v["StdError"][bx], 1e-10)
        v = mr["mvegger_default"]["value"]
        assert close(eg[e]["b"], v["Estimate"][j], 1e-10) and close(eg[e]["se"], v["StdError.Est"][j], 1e-10)
        assert close(eg[e]["pval"], v["Pvalue.Est"][j], 1e-10)
        v = mr["mvmedian_default"]["value"]
        assert close(med[e]["b"], v["Estimate"][j], 1e-8)
        assert close(med[e]["se"], v["StdError"][j], 1e-10 if rng == "r" else 0.05)
    v = mr["mvegger_default"]["value"]
    assert close(out["pleiotropy"]["egger_intercept"], v["Intercept"], 1e-10)
    strength = ref("mvmr")["strength_mvmr"]["value"][0]
    for j, s in enumerate(out["strength"]):
        assert close(s["conditional_F"], strength[f"exposure{j + 1}"], 1e-10)
    q = ref("mvmr")["pleiotropy_mvmr"]["value"]
    assert close(out["heterogeneity"]["Q"], q["Qstat"], 1e-10)
    assert close(out["heterogeneity"]["Q_pval"], q["Qpval"], 1e-10)
    assert out["heterogeneity"]["Q_df"] == 24
    assert out["meta"]["rng"] == rng and out["snps"][0] == "snp01" and out["excluded"] == []


@pytest.mark.skipif(not (EX / "vig_mv_exposure_dat_lipids.csv").is_file(), reason=SKIP_SHARED)
def test_twosamplemr_long_tables(tmp_path, capsys):
    out_path = tmp_path / "out.json"
    code, err = run_cli(["mvmr", "--exposure-data", EX / "vig_mv_exposure_dat_lipids.csv",
                         "--outcome-data", EX / "vig_mv_outcome_dat_chd.csv", "--json", out_path,
                         "--iterations", "200"], capsys)
    assert code == 0, err
    out = json.loads(out_path.read_text())
    ivw = {r["id.exposure"]: r for r in out["mvmr"] if r["method"] == "Multivariable IVW"}
    # TwoSampleMR's vignette (see test_mv_harmonise.py), printed to 7 significant digits
    assert [ivw[e]["nsnp"] for e in ("ieu-a-299", "ieu-a-300", "ieu-a-302")] == [79, 68, 42]
    assert abs(ivw["ieu-a-300"]["b"] - 0.37853543) <= 5e-9
    assert abs(ivw["ieu-a-299"]["se"] - 0.05970552) <= 5e-9
    assert len(out["snps"]) == 143 and out["excluded"][0]["SNP"] == "rs2247056"


def test_from_demo_sources(tmp_path, capsys, demo_root, monkeypatch):
    monkeypatch.setenv("MRBOOK_CACHE", str(demo_root))
    out_path = tmp_path / "out.json"
    code, err = run_cli(["mvmr", "--exposures", "demo-mv:hypothyroidism+demo-mv:hyperthyroidism",
                         "--outcome", "demo-mv:osteoporosis", "--json", out_path,
                         "--iterations", "100"], capsys)
    assert code == 0, err
    out = json.loads(out_path.read_text())
    assert out["meta"]["simulated"] is True and len(out["snps"]) > 80
    assert {e["step"] for e in out["excluded"]} >= {"clumping", "palindromic", "confounder"}


def write(tmp_path, text, name="t.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("args,message", [
    ([], "give exactly one input"),
    (["TABLE", "--exposure-data", "x.csv", "--outcome-data", "y.csv"], "give exactly one input"),
    (["--exposure-data", "x.csv"], "--exposure-data and --outcome-data go together"),
    (["TABLE", "--iterations", "1"], "--iterations must be 0"),
    (["TABLE", "--methods", "mr_ivw"], "unknown multivariable method 'mr_ivw'"),
    (["missing.csv"], "missing.csv: file not found"),
    (["ONE"], "at least two exposures"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, args, message):
    table = write(tmp_path, "SNP,beta.a,se.a,beta.b,se.b,beta.outcome,se.outcome\n"
                            "rs1,0.1,0.01,0.02,0.01,0.05,0.02\n")
    one = write(tmp_path, "SNP,beta.a,se.a,beta.outcome,se.outcome\nrs1,0.1,0.01,0.05,0.02\n",
                "one.csv")
    args = [{"TABLE": table, "ONE": one}.get(a, a) for a in args]
    args = [str(tmp_path / a) if a == "missing.csv" else a for a in args]
    out_path = tmp_path / "out.json"
    code, err = run_cli(["mvmr", *args, "--json", out_path], capsys)
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert err.startswith("mrbook mvmr: error: ") and "Traceback" not in err
    assert not out_path.exists()


def test_help_lists_mvmr():
    out = subprocess.run([sys.executable, "-m", "mrbook.cli.main", "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert "mvmr" in out
