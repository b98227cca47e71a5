"""pandas >= 3 (copy-on-write): no write into an array that pandas lends (issue 9).

Under copy-on-write, ``Series.to_numpy()``, ``.values`` and ``np.asarray(series)`` may
return a read-only view of the frame's data; writing into it raises
``ValueError: assignment destination is read-only``. The suite runs on the newest pandas
pyproject allows (CI's second run) and on the lock (pandas 3 today); on pandas 2 the
fixture below switches copy-on-write on, so the same tests bite there too.

Two kinds of check:

- a static one over ``src/mrbook``: a name bound from ``to_numpy``/``.values``/
  ``np.asarray`` (without ``copy=True``/``.copy()``) is never written in place later in
  the same function;
- behaviour: the harmonised-table reader, the summary-statistics readers, harmonisation,
  instrument selection and ``mrbook mr`` on tables with missing values, and the acceptance
  check of issue 9 on the 79-SNP BMI -> CHD reference table.
"""

from __future__ import annotations

import ast
import gzip
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mrbook.cli.main import main
from mrbook.data.readers import read_sumstats, to_tsmr
from mrbook.data.tsmr import read_harmonised, read_tsmr
from mrbook.harmonise import harmonise_with_exclusions

from conftest import REFERENCE, ROOT, SKIP_SHARED

PKG = ROOT / "src" / "mrbook"
BMI_CHD = REFERENCE / "bmi_chd_79snp" / "test_commondata_harmonised.csv"


@pytest.fixture(autouse=True)
def copy_on_write():
    """Copy-on-write on: the default from pandas 3 on, switched on for pandas 2."""
    if int(pd.__version__.split(".")[0]) >= 3:
        yield
        return
    with pd.option_context("mode.copy_on_write", True):  # pragma: no cover (pandas 2 only)
        yield


# --------------------------------------------------------------------------- static audit

_LENDERS = ("to_numpy", "values", "asarray")


def _lends(node: ast.AST) -> bool:
    """An expression that may return pandas' own buffer: x.to_numpy(...) / x.values /
    np.asarray(x), unless copied (copy=True, .copy(), np.array(...))."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr == "copy":
            return False
        if node.func.attr in ("to_numpy", "asarray"):
            return not any(k.arg == "copy" and isinstance(k.value, ast.Constant) and k.value.value
                           for k in node.keywords)
        return _lends(node.func.value) if node.func.attr in ("ravel", "reshape", "view") else False
    if isinstance(node, ast.Attribute) and node.attr == "values":
        return True
    if isinstance(node, ast.Subscript):  # x.to_numpy()[mask] copies; x.to_numpy()[a:b] does not
        return isinstance(node.slice, ast.Slice) and _lends(node.value)
    return False


def _in_place_writes(fn: ast.FunctionDef) -> list[tuple[str, int]]:
    out = []
    for node in ast.walk(fn):
        if isinstance(node, (ast.Assign, ast.AugAssign)):
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name):
                    out.append((t.value.id, node.lineno))
                elif isinstance(node, ast.AugAssign) and isinstance(t, ast.Name):
                    out.append((t.id, node.lineno))
        elif isinstance(node, ast.Call):
            for k in node.keywords:
                if k.arg == "out" and isinstance(k.value, ast.Name):
                    out.append((k.value.id, node.lineno))
            if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) \
                    and node.func.attr in ("sort", "fill", "partition", "put", "itemset"):
                out.append((node.func.value.id, node.lineno))
    return out


def test_no_write_into_an_array_lent_by_pandas():
    problems = []
    for path in sorted(PKG.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            lent = {}
            for node in ast.walk(fn):
                if isinstance(node, ast.Assign) and _lends(node.value):
                    for t in node.targets:
                        if isinstance(t, ast.Name):
                            lent.setdefault(t.id, node.lineno)
            for name, line in _in_place_writes(fn):
                if name in lent and line > lent[name]:
                    problems.append(f"{path.relative_to(ROOT)}:{line}: writes into {name!r}, "
                                    f"bound at line {lent[name]} from an array pandas may lend")
    assert not problems, "\n".join(problems)


def test_the_audit_finds_the_bug_of_issue_9():
    """The check is not vacuous: the code of the reported crash is caught."""
    src = ('def f(df):\n    keep = df["mr_keep"].to_numpy(bool)\n    keep[0] = False\n'
           'def g(df):\n    keep = df["mr_keep"].to_numpy(bool, copy=True)\n    keep[0] = False\n')
    fns = [n for n in ast.parse(src).body]
    flagged = []
    for fn in fns:
        lent = {t.id: n.lineno for n in ast.walk(fn) if isinstance(n, ast.Assign) and _lends(n.value)
                for t in n.targets if isinstance(t, ast.Name)}
        flagged += [fn.name for name, _ in _in_place_writes(fn) if name in lent]
    assert flagged == ["f"]


def test_pandas_really_lends_read_only_arrays_here():
    """Documents the mechanism: with copy-on-write the array behind a column is read-only."""
    s = pd.DataFrame({"x": [1.0, 2.0]})["x"]
    arr = s.to_numpy()
    assert not arr.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        arr[0] = 0.0


# --------------------------------------------------------------------------- behaviour

HEADER = ("SNP,beta.exposure,se.exposure,beta.outcome,se.outcome,effect_allele.exposure,"
          "other_allele.exposure,eaf.exposure,pval.exposure,mr_keep")
ROWS = [
    "rs1,0.10,0.01,0.05,0.02,A,G,0.3,1e-20,TRUE",
    "rs2,0.12,0.01,NA,0.02,C,T,0.4,1e-25,TRUE",
    "rs3,-0.08,0.01,-0.03,0.02,AT,A,NA,0,TRUE",
    "rs4,0.09,,0.02,0.02,G,A,0.7,1e-15,TRUE",
    "rs5,0.11,0.012,0.07,0.025,G,A,0.5,1e-18,FALSE",
    "rs6,0.13,0.011,0.06,0.021,T,C,0.2,1e-19,TRUE",
]


def test_harmonised_reader_with_missing_values(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text(HEADER + "\n" + "\n".join(ROWS) + "\n")
    d = read_harmonised(p)
    assert d["mr_keep"].tolist() == [True, False, True, False, False, True]
    assert d["mr_keep_reason"].tolist() == [None, "missing beta.outcome", None,
                                            "missing se.exposure", "mr_keep is FALSE in the input",
                                            None]
    assert math.isnan(d.loc[3, "eaf.exposure"])


def _rows(path: Path) -> list[list[str]]:
    import csv

    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def _write_rows(path: Path, rows: list[list[str]]) -> Path:
    import csv

    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def test_mr_with_one_missing_beta_equals_the_table_without_that_snp(tmp_path, capsys):
    """Acceptance (issue 9): same estimates, bit for bit, as without the SNP (same seed:
    the bootstrap draws depend only on the SNPs used)."""
    if not BMI_CHD.is_file():
        pytest.skip(SKIP_SHARED)
    rows = _rows(BMI_CHD)
    col = rows[0].index("beta.outcome")
    dropped = rows[7][rows[0].index("SNP")]
    with_na = _write_rows(tmp_path / "with_na.csv", rows[:7] + [rows[7][:col] + ["NA"]
                                                                 + rows[7][col + 1:]] + rows[8:])
    without = _write_rows(tmp_path / "without.csv", rows[:7] + rows[8:])
    res = {}
    for p in (with_na, without):
        code = main(["mr", str(p), "--json", str(p.with_suffix(".json")), "--nboot", "200"])
        assert code == 0, capsys.readouterr().err
        res[p.stem] = json.loads(p.with_suffix(".json").read_text())
    assert res["with_na"]["mr"] == res["without"]["mr"]
    assert len(res["with_na"]["mr"]) == 5 and all(r["nsnp"] == 78 for r in res["with_na"]["mr"])
    assert res["with_na"]["heterogeneity"] == res["without"]["heterogeneity"]
    assert res["with_na"]["excluded"] == [{"SNP": dropped, "reason": "missing beta.outcome"}]


def test_mr_with_every_beta_missing_is_one_line_exit_2(tmp_path, capsys):
    if not BMI_CHD.is_file():
        pytest.skip(SKIP_SHARED)
    rows = _rows(BMI_CHD)
    col = rows[0].index("beta.outcome")
    p = _write_rows(tmp_path / "all_na.csv",
                    rows[:1] + [r[:col] + ["NA"] + r[col + 1:] for r in rows[1:]])
    code = main(["mr", str(p), "--json", str(tmp_path / "o.json")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert f"{p}: no usable SNP" in err
    assert not (tmp_path / "o.json").exists()


def test_harmonise_with_missing_values(tmp_path):
    exp = tmp_path / "e.csv"
    exp.write_text("SNP,beta.exposure,se.exposure,effect_allele.exposure,other_allele.exposure,"
                   "eaf.exposure\nrs1,0.1,0.01,A,G,0.3\nrs2,0.2,0.01,C,T,NA\nrs3,NA,0.01,G,A,0.1\n"
                   "rs4,0.3,0.02,T,G,0.6\n")
    out = tmp_path / "o.csv"
    out.write_text("SNP,beta.outcome,se.outcome,effect_allele.outcome,other_allele.outcome,"
                   "eaf.outcome\nrs1,0.05,0.02,G,A,0.7\nrs2,NA,0.02,C,T,0.4\nrs3,0.01,0.02,G,A,NA\n"
                   "rs4,0.02,,T,G,0.6\n")
    h, excl = harmonise_with_exclusions(read_tsmr(exp, "exposure"), read_tsmr(out, "outcome"))
    h = h.set_index("SNP")
    assert h.loc["rs1", "beta.outcome"] == -0.05 and bool(h.loc["rs1", "mr_keep"])  # flipped
    assert not h.loc[["rs2", "rs3", "rs4"], "mr_keep"].any()
    h.to_csv(tmp_path / "h.csv")
    d = read_harmonised(tmp_path / "h.csv")
    assert d["mr_keep"].sum() == 1


def test_summary_statistics_readers_with_missing_values(tmp_path):
    text = ("chromosome\tbase_pair_location\teffect_allele\tother_allele\tbeta\tstandard_error\t"
            "effect_allele_frequency\tp_value\trsid\n"
            "1\t100\tA\tG\t0.2\t0.01\tNA\t1e-30\trs1\n"
            "1\t200\tC\tT\tNA\t0.01\t0.3\tNA\trs2\n"
            "2\t300\tG\tA\t0.1\tNA\t0.4\t1e-9\trs3\n"
            "2\t400\tT\tC\t-0.3\t0.02\t0.5\t\trs4\n")
    p = tmp_path / "s.tsv.gz"
    p.write_bytes(gzip.compress(text.encode()))
    d = read_sumstats(p)
    assert d["rsid"].tolist() == ["rs1", "rs2", "rs3", "rs4"]
    assert d["beta"].isna().tolist() == [False, True, False, False]
    assert d["p"].isna().tolist() == [False, True, False, True]  # an empty p stays missing
    from mrbook.data.readers import effective_p

    assert effective_p(d).iloc[3] == pytest.approx(math.erfc(15 / math.sqrt(2)), rel=1e-9)
    t = to_tsmr(d, "exposure")
    assert t["beta.exposure"].isna().sum() == 1
    kept = read_sumstats(p, p_max=5e-8)
    assert kept["rsid"].tolist() == ["rs1", "rs3"]  # an unknown p is dropped by p_max


def test_instruments_with_missing_outcome_values(demo_folder, tmp_path, monkeypatch):
    """The whole selection on a FinnGen outcome whose betas are missing for two instruments."""
    from mrbook.data import demo
    from mrbook.instruments import select_instruments

    monkeypatch.delenv("OPENGWAS_JWT", raising=False)
    man = demo.load_manifest(demo_folder)
    final = man["design"]["hashimoto"]["final"]
    blank = set(final[:2])
    src = demo_folder / man["files"]["osteoporosis"]
    lines = gzip.decompress(src.read_bytes()).decode().splitlines()
    header = lines[0].split("\t")
    rs, beta = header.index("rsids"), header.index("beta")
    out = []
    for line in lines:
        cells = line.split("\t")
        if cells[rs] in blank:
            cells[beta] = "NA"
        out.append("\t".join(cells))
    outcome = tmp_path / "osteoporosis_na.tsv.gz"
    outcome.write_bytes(gzip.compress(("\n".join(out) + "\n").encode()))
    base = select_instruments(demo_folder / man["files"]["hashimoto"], src,
                              ld_ref=demo_folder / man["files"]["panel"], confounder_table=False)
    ins = select_instruments(demo_folder / man["files"]["hashimoto"], outcome,
                             ld_ref=demo_folder / man["files"]["panel"], confounder_table=False)
    snps = ins.snps.set_index("snp").loc[sorted(blank)]
    assert snps["excluded_at"].tolist() == ["harmonise"] * 2
    assert snps["reason"].tolist() == ["missing beta.outcome"] * 2
    assert not snps["final"].any()
    assert ins.summary["final"] == base.summary["final"] - 2
    h = ins.harmonised[ins.harmonised["mr_keep"].astype(bool)].set_index("SNP")
    kept = base.harmonised[base.harmonised["mr_keep"].astype(bool)]
    rest = kept[~kept["SNP"].isin(blank)].set_index("SNP")
    assert sorted(h.index) == sorted(rest.index)
    np.testing.assert_array_equal(h.loc[rest.index, "beta.outcome"], rest["beta.outcome"])


def test_effective_p_and_harmonised_frames_are_not_modified(tmp_path):
    from mrbook.data.readers import effective_p

    d = pd.DataFrame({"p": [0.0, np.nan, 0.2], "beta": [1.0, 0.2, 0.1], "se": [0.02, 0.1, 0.1]})
    before = d.copy()
    effective_p(d)
    pd.testing.assert_frame_equal(d, before)
    p = tmp_path / "h.csv"
    p.write_text(HEADER + "\n" + "\n".join(ROWS) + "\n")
    h = read_harmonised(p)
    snap = h.copy()
    from mrbook.analysis import run_mr

    run_mr(h, methods=["mr_ivw", "mr_egger_regression"])
    pd.testing.assert_frame_equal(h, snap)
