"""Instrument selection on the SIMULATED demo reproduces SPEC section 1's counts.

Expected numbers: Li et al. 2024 (West China Medical Journal 39(10):1617-1624),
instrument table as transcribed in SPEC section 1 (candidates, missing in outcome,
palindromic SNPs by rsID, confounder SNPs, final count, F range; reverse MR 22).
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mrbook.data import demo
from mrbook.data import ld
from mrbook.cli.main import main
from mrbook.errors import InputError, ParameterError
from mrbook.instruments import (read_confounder_table, select_instruments,
                                write_instruments)

#: SPEC section 1: candidates, missing, palindromic rsIDs, confounder, final, F range
PAPER = {
    "hypothyroidism": (90, 4, ["rs148844907", "rs187707293", "rs2114702", "rs2921053",
                               "rs3118469", "rs34536443", "rs41444548", "rs9265699"],
                       9, 69, (31.17, 124.85)),
    "hyperthyroidism": (20, 2, ["rs12662112", "rs385863", "rs56401801"], 0, 15,
                        (30.37, 194.78)),
    "hashimoto": (18, 1, ["rs1993945", "rs2072109", "rs757024", "rs7754251"], 3, 10,
                  (32.38, 173.77)),
}
#: SPEC section 1: published IVW ln OR (back-calculated) of each exposure on OP
THETA = {"hypothyroidism": 0.0926, "hyperthyroidism": 0.0853, "hashimoto": 0.1740}


@pytest.fixture(scope="session")
def forward(demo_root):
    return {t: select_instruments(f"demo:{t}", "demo:osteoporosis", cache_dir=demo_root)
            for t in PAPER}


@pytest.mark.parametrize("trait", list(PAPER))
def test_forward_counts_match_the_paper(forward, trait):
    cand, miss, pal, conf, final, (f_lo, f_hi) = PAPER[trait]
    s = forward[trait].summary
    assert s["candidates"] == cand
    assert s["missing_in_outcome"] == miss
    assert s["palindromic"] == len(pal)
    assert s["palindromic_snps"] == sorted(pal)
    assert s["confounder"] == conf
    assert s["harmonise_other"] == 0 and s["steiger_removed"] == 0
    assert s["final"] == final == cand - miss - len(pal) - conf
    assert s["simulated"] is True
    # F statistics: all > 10 and inside the published range, which the extremes reach
    assert f_lo <= s["f_min"] and s["f_max"] <= f_hi
    assert round(s["f_min"], 2) == f_lo and round(s["f_max"], 2) == f_hi
    snps = forward[trait].snps
    f_cand = snps.loc[snps["candidate"], "f_stat"]
    assert (f_cand > 10).all() and f_cand.between(f_lo, f_hi).all()
    assert s["weak_instruments"] == 0


@pytest.mark.parametrize("trait", list(PAPER))
def test_forward_tables_are_consistent(forward, trait):
    ins = forward[trait]
    h = ins.harmonised
    assert len(h) == ins.summary["final"]
    assert h["mr_keep"].astype(bool).all()
    assert not h["SNP"].duplicated().any()
    for col in ("SNP", "beta.exposure", "se.exposure", "beta.outcome", "se.outcome",
                "effect_allele.exposure", "other_allele.exposure", "eaf.exposure"):
        assert col in h.columns
    ex = ins.exclusions
    assert list(ex.columns[:3]) == ["snp", "step", "reason"]
    assert ex["reason"].str.len().gt(0).all()
    assert set(ex["snp"]).isdisjoint(set(h["SNP"]))
    pal = ex[ex["step"] == "palindromic"]
    assert sorted(pal["snp"]) == sorted(PAPER[trait][2])
    assert pal["reason"].str.contains("palindromic with ambiguous allele frequency").all()
    conf = ex[ex["step"] == "confounder"]
    assert conf["reason"].str.match(r"associated with .+ \(P=[0-9.e+-]+").all()
    clumped = ex[ex["step"] == "clumping"]
    assert clumped["reason"].str.match(r"in LD with rs\d+ \(r²=0\.\d{3}\)").all()
    s = ins.snps
    assert len(s) == ins.summary["p_threshold_hits"]
    assert s["candidate"].sum() == ins.summary["candidates"]
    assert s["final"].sum() == ins.summary["final"]
    flow = ins.summary["flow"]
    assert flow[-1]["remaining"] == ins.summary["final"]


def _ivw_fixed(h: pd.DataFrame) -> tuple[float, float]:
    """IVW estimate and its fixed-effect SE from a harmonised table (Burgess et al. 2013)."""
    bx, by = h["beta.exposure"].to_numpy(float), h["beta.outcome"].to_numpy(float)
    w = 1 / h["se.outcome"].to_numpy(float) ** 2
    return float(np.sum(w * bx * by) / np.sum(w * bx * bx)), float(1 / np.sqrt(np.sum(w * bx * bx)))


def test_forward_outcome_associations_are_truth_plus_sampling_noise(forward):
    """SPEC section 4: beta_out = theta * beta_exp + e, e ~ N(0, se_out²) for valid instruments.

    The standardised residuals (beta_out - theta * beta_exp) / se_out of the 94 final
    instruments must look like independent N(0, 1) draws: their sum of squares is a
    chi-square with 94 df and their distribution passes a Kolmogorov-Smirnov test
    (both two-sided at 0.001). A demo whose outcome betas were tuned onto the
    published estimate (or drawn with a wrong SE) fails one of the two.
    """
    r = []
    for t, ins in forward.items():
        h = ins.harmonised
        r.append((h["beta.outcome"] - THETA[t] * h["beta.exposure"]) / h["se.outcome"])
    r = np.concatenate([x.to_numpy(float) for x in r])
    assert len(r) == 69 + 15 + 10
    ss = float(np.sum(r ** 2))
    p_chi2 = 2 * min(stats.chi2.sf(ss, len(r)), stats.chi2.cdf(ss, len(r)))
    assert p_chi2 > 0.001, (ss, p_chi2)
    assert stats.kstest(r, "norm").pvalue > 0.001
    assert np.abs(r).max() < 5


def test_demo_estimates_differ_from_the_planted_truth_by_sampling_error(forward, demo_root):
    """The IVW estimates are the planted truth plus a realistic error, not the truth to 1e-8.

    Planted truth: the published ln OR forward (SPEC section 1), 0 in reverse. The
    IVW error (b - theta) has standard deviation se_fixed = 1 / sqrt(sum w bx²)
    when the outcome noise has the outcome's SE, so z = (b - theta) / se_fixed is a
    standard normal draw per analysis: each |z| stays below 4, and the six z² sum to
    a chi-square with 6 df, two-sided P > 0.001 (a calibrated demo, z = 0, fails).
    """
    zs = {}
    for t, ins in forward.items():
        b, se_fixed = _ivw_fixed(ins.harmonised)
        assert abs(b - THETA[t]) > 1e-4, (t, b)  # not planted to the digit
        zs[t] = (b - THETA[t]) / se_fixed
        rev = select_instruments("demo:osteoporosis", f"demo:{t}", cache_dir=demo_root)
        b, se_fixed = _ivw_fixed(rev.harmonised)
        zs[f"{t} (reverse)"] = b / se_fixed
    z = np.array(list(zs.values()))
    assert (np.abs(z) < 4).all(), zs
    p = stats.chi2.sf(float(np.sum(z ** 2)), len(z))
    assert 0.001 < p < 0.999, (zs, p)


@pytest.mark.parametrize("trait", list(PAPER))
def test_reverse_mr_has_22_instruments(demo_root, trait):
    s = select_instruments("demo:osteoporosis", f"demo:{trait}", cache_dir=demo_root).summary
    assert s["candidates"] == 22 and s["final"] == 22
    assert s["missing_in_outcome"] == s["palindromic"] == s["confounder"] == 0
    assert s["f_min"] > 10


def test_decoy_associations_do_not_exclude(forward, demo_folder):
    """Non-confounder traits and confounder hits at 5e-8 < P stay; earlier steps win."""
    man = demo.load_manifest(demo_folder)
    table = read_confounder_table(demo_folder / man["files"]["confounders"])
    final = set(forward["hypothyroidism"].harmonised["SNP"])
    kept_rows = table[table["snp"].isin(final)]
    assert {"Height", "Hypothyroidism", "Body mass index"} <= set(kept_rows["trait"])
    assert (kept_rows[kept_rows["trait"] == "Body mass index"]["p"] > 5e-8).all()
    ex = forward["hypothyroidism"].exclusions.set_index("snp")
    missing = man["design"]["hypothyroidism"]["missing_in_outcome"]
    bmi_missing = table[(table["trait"] == "Body mass index") & table["snp"].isin(missing)]
    assert len(bmi_missing) == 1
    assert ex.loc[bmi_missing["snp"].iloc[0], "step"] == "missing_in_outcome"


def test_confounder_step_settings(demo_root):
    base = dict(cache_dir=demo_root)
    s = select_instruments("demo:hashimoto", "demo:osteoporosis", confounder_table=False,
                           **base).summary
    assert s["confounder"] == 0 and s["final"] == 13
    s = select_instruments("demo:hashimoto", "demo:osteoporosis",
                           confounder_traits=("rheumatoid arthritis",), **base).summary
    assert s["confounder"] == 1 and s["final"] == 12
    with pytest.raises(ParameterError, match="confounder_traits"):
        select_instruments("demo:hashimoto", "demo:osteoporosis", ld_ref=None,
                           confounder_table=Path(__file__), **base)


def test_confounder_table_parsing(tmp_path):
    p = tmp_path / "cat.tsv"
    p.write_text("SNPS\tDISEASE/TRAIT\tMAPPED_TRAIT\tP-VALUE\tPUBMEDID\n"
                 "rs1; rs2\tBody mass index\tbody mass index\t3E-9\t123\n"
                 "rs3 x rs4\tHeight\tbody height\t1E-20\t456\n")
    t = read_confounder_table(p)
    assert list(t["snp"]) == ["rs1", "rs2", "rs3", "rs4"]
    assert t["p"].tolist() == [3e-9, 3e-9, 1e-20, 1e-20]
    p.write_text("SNPS\tDISEASE/TRAIT\tP-VALUE\nrs1\tBMI\tabc\n")
    with pytest.raises(InputError, match="row 1, column 'P-VALUE'"):
        read_confounder_table(p)
    p.write_text("snp\tp\nrs1\t0.1\n")
    with pytest.raises(InputError, match="lacks column"):
        read_confounder_table(p)


def test_engines_agree_through_the_pipeline(demo_root):
    if ld.find_plink() is None:
        pytest.skip("plink 1.9 is not installed (apt-get install plink1.9)")
    a = select_instruments("demo:hypothyroidism", "demo:osteoporosis", cache_dir=demo_root,
                           clump_engine="python")
    b = select_instruments("demo:hypothyroidism", "demo:osteoporosis", cache_dir=demo_root,
                           clump_engine="plink")
    assert a.summary["settings"]["clump_engine"] == "python"
    assert b.summary["settings"]["clump_engine"] == "plink"
    assert a.harmonised["SNP"].tolist() == b.harmonised["SNP"].tolist()
    assert a.exclusions.equals(b.exclusions)


def _outcome_without(folder: Path, man: dict, drop: str, dest: Path) -> None:
    src = folder / man["files"]["osteoporosis"]
    with gzip.open(src, "rt") as fh:
        lines = [ln for ln in fh if f"\t{drop}\t" not in ln]
    with gzip.open(dest, "wt") as fh:
        fh.writelines(lines)


def test_ld_proxy_replaces_a_missing_snp(demo_folder, demo_root, tmp_path):
    man = demo.load_manifest(demo_folder)
    panel = ld.read_panel(demo_folder / man["files"]["panel"])
    final = man["design"]["hashimoto"]["final"]
    prox = ld.find_proxies(panel, final, r2_min=0.8, kb=500)
    assert len(prox), "the demo should have at least one lead with a strong proxy"
    target, proxy = prox["target"].iloc[0], prox["proxy"].iloc[0]
    out = tmp_path / "op_without_target.tsv.gz"
    _outcome_without(demo_folder, man, target, out)
    ins = select_instruments("demo:hashimoto", out, cache_dir=demo_root)
    s = ins.summary
    # the demo's own missing SNP has no proxy; the removed lead is replaced by its proxy
    assert s["missing_in_outcome"] == 1 and s["proxies_used"] == 1
    assert s["proxy_snps"] == {target: proxy}
    assert s["final"] == 10
    row = ins.snps.set_index("snp").loc[target]
    assert row["proxy_snp"] == proxy and row["proxy_r2"] >= 0.8
    h = ins.harmonised.set_index("SNP")
    # the proxy's association, mapped to the target's alleles: same sign as the truth
    orig = select_instruments("demo:hashimoto", "demo:osteoporosis", cache_dir=demo_root)
    b_true = orig.harmonised.set_index("SNP").loc[target, "beta.outcome"]
    assert target in h.index
    assert np.sign(h.loc[target, "beta.outcome"]) == np.sign(b_true) or \
        abs(b_true) < 2 * h.loc[target, "se.outcome"]
    s2 = select_instruments("demo:hashimoto", out, cache_dir=demo_root, proxies=False).summary
    assert s2["missing_in_outcome"] == 2 and s2["final"] == 9
    assert s["exposure"]["kind"] == "demo" and s["outcome"]["kind"] == "file"


def test_indexed_outcome_rows_and_proxies_give_the_same_instruments(demo_folder, demo_root,
                                                                    tmp_path):
    """read_outcome may answer with every row it holds (OutcomeRows) and find_proxies with
    every candidate's proxies (ProxyTable), as mrbook batch does: the pair's tables are
    those of the file read for exactly the SNPs asked."""
    from mrbook.instruments import (OutcomeRows, ProxyTable, _read_outcome,
                                    instruments_for_outcome, reference_panel, resolve_source,
                                    select_exposure)

    man = demo.load_manifest(demo_folder)
    panel, ld_desc = reference_panel(None, demo_folder)
    prox = ld.find_proxies(panel, man["design"]["hashimoto"]["final"], r2_min=0.8, kb=500)
    out = tmp_path / "op_without_target.tsv.gz"
    _outcome_without(demo_folder, man, prox["target"].iloc[0], out)
    sel = select_exposure(resolve_source("demo:hashimoto", cache_dir=demo_root), panel=panel)
    out_src = resolve_source(str(out))
    every = ld.find_proxies(panel, sel.kept, r2_min=0.8, kb=500, best_only=False)
    rows = OutcomeRows(_read_outcome(out_src, sorted({*sel.kept, *every["proxy"]})))
    kw = dict(panel=panel, ld_desc=ld_desc, demo_folder=demo_folder)
    plain = instruments_for_outcome(sel, out_src, **kw)
    indexed = instruments_for_outcome(sel, out_src, read_outcome=lambda snps: rows,
                                      find_proxies=lambda snps: ProxyTable(every), **kw)
    assert plain.summary["proxies_used"] == 1 and plain.summary == indexed.summary
    rows_read = list(indexed.exclusion_rows())  # (before the table is made)
    for name in ("harmonised", "exclusions", "outcome_dat", "exposure_dat", "snps"):
        a, b = getattr(plain, name), getattr(indexed, name)
        pd.testing.assert_frame_equal(a, b, check_exact=True)
        assert list(a.dtypes) == list(b.dtypes) and a.attrs == b.attrs, name
    assert rows_read == list(plain.exclusions.itertuples(index=False, name=None))


def test_steiger_option_runs(demo_root):
    s = select_instruments("demo:hyperthyroidism", "demo:osteoporosis", steiger=True,
                           cache_dir=demo_root).summary
    assert s["settings"]["steiger"] is True
    assert s["final"] == 15 - s["steiger_removed"]


def test_cli_writes_the_three_files(demo_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MRBOOK_CACHE", str(demo_root))
    out = tmp_path / "ins"
    rc = main(["instruments", "--exposure", "demo:hyperthyroidism", "--outcome",
               "demo:osteoporosis", "--out", str(out), "--p", "5e-8", "--r2", "0.01",
               "--kb", "10000", "--palindromes", "2"])
    assert rc == 0
    assert "15 final instruments" in capsys.readouterr().out
    for name in ("harmonised.csv", "exclusions.csv", "summary.json", "snps.csv", "exposure.csv",
                 "outcome.csv"):
        assert (out / name).is_file()
    summary = json.loads((out / "summary.json").read_text())
    for key in ("candidates", "missing_in_outcome", "palindromic", "confounder", "final",
                "palindromic_snps", "f_min", "f_max", "settings", "exposure", "outcome",
                "simulated"):
        assert key in summary
    assert summary["simulated"] is True and summary["final"] == 15
    h = pd.read_csv(out / "harmonised.csv")
    assert len(h) == 15
    # ready for mrbook mr
    rc = main(["mr", str(out / "harmonised.csv"), "--json", str(tmp_path / "mr.json"),
               "--nboot", "50"])
    assert rc == 0
    mr = json.loads((tmp_path / "mr.json").read_text())
    ivw = [r for r in mr["mr"] if r["method"] == "Inverse variance weighted"][0]
    assert ivw["nsnp"] == 15
    # the IVW of the harmonised table the command wrote (the planted truth plus sampling
    # error since the demo draws outcome noise, SPEC section 4)
    b, se_fixed = _ivw_fixed(h)
    assert ivw["b"] == pytest.approx(b, rel=1e-12)
    assert abs(ivw["b"] - THETA["hyperthyroidism"]) < 4 * se_fixed
    # exposure.csv and outcome.csv are the input of 'mrbook harmonise' (TwoSampleMR format,
    # before harmonisation): 20 candidates, 18 found in the outcome; harmonising them
    # again keeps the 15 final SNPs and flags the 3 palindromes (no confounder here)
    rc = main(["harmonise", str(out / "exposure.csv"), str(out / "outcome.csv"), "--out",
               str(tmp_path / "h.csv")])
    assert rc == 0
    assert len(pd.read_csv(out / "exposure.csv")) == 20
    h2 = pd.read_csv(tmp_path / "h.csv")
    assert len(h2) == 18
    assert sorted(h2.loc[h2["mr_keep"], "SNP"]) == sorted(h["SNP"])
    assert sorted(h2.loc[~h2["mr_keep"], "SNP"]) == sorted(PAPER["hyperthyroidism"][2])
    kept = h2[h2["mr_keep"]].set_index("SNP").loc[h["SNP"]]
    assert (kept["beta.outcome"].to_numpy() == h["beta.outcome"].to_numpy()).all()


def test_cli_bad_input_is_one_line_and_leaves_nothing(demo_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MRBOOK_CACHE", str(demo_root))
    out = tmp_path / "never"
    rc = main(["instruments", "--exposure", "demo:thyroid", "--outcome", "demo:osteoporosis",
               "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert "unknown demo trait 'thyroid'" in err and "hypothyroidism" in err
    assert not out.exists()
    rc = main(["instruments", "--exposure", str(tmp_path / "nope.vcf.gz"), "--outcome",
               "demo:osteoporosis", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "file not found" in err
    assert not out.exists()
    assert not any(p.name.startswith(".never") for p in tmp_path.iterdir())


def test_write_is_atomic_replacing_a_previous_result(forward, tmp_path):
    # issue 16.3: the six result files are replaced together; a file of the user's in the
    # folder is never moved or deleted (until then the whole folder was swapped, deleting it)
    out = tmp_path / "res"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    (out / "summary.json").write_text("{}")
    paths = write_instruments(forward["hashimoto"], out)
    assert (out / "stale.txt").read_text() == "old"
    assert json.loads(paths["summary"].read_text())["final"] == 10
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["stale.txt", "harmonised.csv", "exclusions.csv", "snps.csv", "summary.json",
         "exposure.csv", "outcome.csv"])
    assert [p.name for p in tmp_path.iterdir()] == ["res"]


def test_local_file_exposure_without_ld_reference(demo_folder, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENGWAS_JWT", raising=False)
    man = demo.load_manifest(demo_folder)
    expo = demo_folder / man["files"]["hashimoto"]
    out = demo_folder / man["files"]["osteoporosis"]
    with pytest.raises(ParameterError, match="LD reference"):
        select_instruments(expo, out, confounder_table=False)
    s = select_instruments(expo, out, ld_ref=demo_folder / man["files"]["panel"],
                           confounder_table=demo_folder / man["files"]["confounders"],
                           confounder_traits=demo.DEFAULT_CONFOUNDER_TRAITS).summary
    assert (s["candidates"], s["final"]) == (18, 10)
    assert s["simulated"] is False  # a plain file: the tool cannot know


def test_bad_settings(demo_root):
    with pytest.raises(ParameterError):
        select_instruments("demo:hashimoto", "demo:osteoporosis", p=0, cache_dir=demo_root)
    with pytest.raises(ParameterError):
        select_instruments("demo:hashimoto", "demo:osteoporosis", palindrome_action=4,
                           cache_dir=demo_root)
    with pytest.raises(ParameterError, match="unknown demo trait"):
        select_instruments("demo:nothing", "demo:osteoporosis", cache_dir=demo_root)
    assert math.isfinite(PAPER["hashimoto"][5][0])


def test_opengwas_ids_use_the_client(demo_folder, monkeypatch):
    """The OpenGWAS path (server clumping, outcome associations), with the client mocked
    by the demo's files: no network, no token."""
    from mrbook.data import opengwas
    from mrbook.data.readers import read_sumstats

    man = demo.load_manifest(demo_folder)
    design = man["design"]["hashimoto"]
    cands = (design["final"] + design["missing_in_outcome"] + design["palindromic"]
             + list(design["confounder"]))
    calls = []

    def tophits(self, id, pval=5e-8, clump=True, r2=0.001, kb=10000, **kw):
        calls.append(("tophits", id, clump, r2, kb))
        df = read_sumstats(demo_folder / man["files"]["hashimoto"], p_max=pval)
        df = df[df["rsid"].isin(cands)] if clump else df
        return df.assign(id=id, trait="Hashimoto thyroiditis (mock)")

    def associations(self, variants, ids, proxies=True, r2=0.8, **kw):
        calls.append(("associations", ids, proxies))
        df = read_sumstats(demo_folder / man["files"]["osteoporosis"], snps=list(variants))
        return df.assign(id=ids, trait="Osteoporosis (mock)", proxy=False, target_rsid=None,
                         proxy_rsid=None, target_a1=None, target_a2=None, proxy_a1=None,
                         proxy_a2=None)

    monkeypatch.setattr(opengwas.OpenGWAS, "tophits", tophits)
    monkeypatch.setattr(opengwas.OpenGWAS, "associations", associations)
    ins = select_instruments("ebi-a-GCST90018855", "finn-b-M13_OSTEOPOROSIS",
                             r2=0.01, kb=10000,
                             confounder_table=demo_folder / man["files"]["confounders"],
                             confounder_traits=demo.DEFAULT_CONFOUNDER_TRAITS)
    s = ins.summary
    assert calls[0] == ("tophits", "ebi-a-GCST90018855", True, 0.01, 10000)
    assert calls[1][0] == "associations"
    assert s["settings"]["clump_engine"] == "opengwas"
    assert (s["candidates"], s["missing_in_outcome"], s["palindromic"], s["confounder"],
            s["final"]) == (18, 1, 4, 3, 10)
    assert s["exposure"]["kind"] == "opengwas" and s["simulated"] is False
    assert s["exposure"]["trait"] == "Hashimoto thyroiditis (mock)"
    assert "no proxy returned by OpenGWAS" in \
        ins.exclusions.set_index("step").loc["missing_in_outcome", "reason"]
