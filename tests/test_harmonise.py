"""Harmonisation: parity with TwoSampleMR 0.7.9 ``harmonise_data()`` and the rules one by one."""

from __future__ import annotations

import math
import random

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SHARED, SKIP_SHARED, case_params, load_reference, reference_cases
from mrbook.errors import InputError, ParameterError
from mrbook.harmonise import (
    _BASE_CODE,
    _BASES,
    EXCLUSION_COLUMNS,
    _collation_key_cached,
    _harmonise_22,
    _harmonise_22_bases,
    _r_isort_with_index,
    _r_merge_pairs,
    harmonise,
    harmonise_log,
    harmonise_with_exclusions,
    r_collation_key,
)

EXAMPLES = SHARED / "data" / "examples" / "twosamplemr"


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------

def _exp(rows, id_="X", name="Exposure"):
    """rows: (SNP, ea, oa, beta, eaf[, se])."""
    out = []
    for r in rows:
        snp, ea, oa, b, f = r[:5]
        se = r[5] if len(r) > 5 else 0.01
        out.append({"SNP": snp, "beta.exposure": b, "se.exposure": se, "effect_allele.exposure": ea,
                    "other_allele.exposure": oa, "eaf.exposure": f, "pval.exposure": 1e-10,
                    "samplesize.exposure": 1000, "id.exposure": id_, "exposure": name})
    return pd.DataFrame(out)


def _out(rows, id_="Y", name="Outcome"):
    out = []
    for r in rows:
        snp, ea, oa, b, f = r[:5]
        se = r[5] if len(r) > 5 else 0.02
        out.append({"SNP": snp, "beta.outcome": b, "se.outcome": se, "effect_allele.outcome": ea,
                    "other_allele.outcome": oa, "eaf.outcome": f, "pval.outcome": 0.01,
                    "samplesize.outcome": 2000, "id.outcome": id_, "outcome": name})
    return pd.DataFrame(out)


def _one(ea, oa, b, f, oea, ooa, ob, of, action=2):
    h = harmonise(_exp([("rs1", ea, oa, b, f)]), _out([("rs1", oea, ooa, ob, of)]), action=action)
    assert len(h) == 1
    return h.iloc[0]


def _same(u, v, rel=1e-12) -> bool:
    na_u = u is None or (isinstance(u, float) and math.isnan(u))
    na_v = v is None or (isinstance(v, float) and math.isnan(v))
    if na_u or na_v:
        return na_u and na_v
    if isinstance(u, (bool, np.bool_)) or isinstance(v, bool):
        return bool(u) == bool(v)
    if isinstance(v, (int, float)) and isinstance(u, (int, float, np.integer, np.floating)):
        return u == v or abs(u - v) <= rel * abs(v)
    return str(u) == str(v)


def _raw_cases():
    cases = []
    for case in reference_cases():
        inp = load_reference(case).get("meta", {}).get("input", {})
        if inp.get("exposure_csv") and inp.get("outcome_csv"):
            cases.append(case)
    return cases


# --------------------------------------------------------------------------------------
# parity with TwoSampleMR on the reference data
# --------------------------------------------------------------------------------------

RAW_CASES = _raw_cases()


@pytest.mark.skipif(not SHARED.is_dir(), reason=SKIP_SHARED)
def test_raw_reference_cases_exist():
    assert RAW_CASES, "no reference folder with exposure and outcome CSVs"


@pytest.mark.parametrize("case", case_params(RAW_CASES))
def test_reference_harmonised_data(case):
    ref = load_reference(case)
    inp = ref["meta"]["input"]
    exp = pd.read_csv(case / inp["exposure_csv"])
    out = pd.read_csv(case / inp["outcome_csv"])
    h = harmonise(exp, out, action=inp.get("action", 2))
    r = pd.DataFrame(ref["harmonised_data"])
    # the same rows in the same order
    assert h["SNP"].tolist() == r["SNP"].tolist()
    assert h["id.exposure"].astype(str).tolist() == r["id.exposure"].astype(str).tolist()
    checked = 0
    for col in r.columns:
        assert col in h.columns, col
        for i, (u, v) in enumerate(zip(h[col].tolist(), r[col].tolist())):
            assert _same(u, v), (col, r["SNP"].iloc[i], u, v)
        checked += 1
    for col in ("effect_allele.exposure", "other_allele.exposure", "effect_allele.outcome",
                "other_allele.outcome", "beta.exposure", "beta.outcome", "eaf.exposure",
                "eaf.outcome", "remove", "palindromic", "ambiguous", "mr_keep"):
        assert col in r.columns
    # every dropped row says why, every kept row has no reason
    assert (h["mr_keep_reason"].isna() == h["mr_keep"]).all()
    # the log
    log = harmonise_log(h)
    ref_log = pd.DataFrame(ref["harmonise_log"])
    assert list(log.columns) == list(ref_log.columns)
    assert len(log) == len(ref_log)
    for col in ref_log.columns:
        for u, v in zip(log[col].tolist(), ref_log[col].tolist()):
            assert _same(u, v), (col, u, v)


@pytest.mark.parametrize("case", case_params(RAW_CASES))
def test_reference_exclusions_account_for_every_snp(case):
    ref = load_reference(case)
    inp = ref["meta"]["input"]
    exp = pd.read_csv(case / inp["exposure_csv"])
    out = pd.read_csv(case / inp["outcome_csv"])
    h, ex = harmonise_with_exclusions(exp, out, action=inp.get("action", 2))
    assert list(ex.columns) == EXCLUSION_COLUMNS
    assert (ex["step"] == "harmonise").all()
    kept = set(h.loc[h["mr_keep"], "SNP"])
    lost = set(ex.loc[ex["id_exposure"].notna(), "snp"])
    assert kept | lost == set(exp["SNP"])
    assert not kept & lost
    log = harmonise_log(h)
    n_abs = int((ex["reason"] == "absent from outcome data").sum())
    assert n_abs == int(log["variants_absent_from_reference"].iloc[0])
    outcome_only = set(out["SNP"]) - set(exp["SNP"])
    assert set(ex.loc[ex["id_exposure"].isna(), "snp"]) == outcome_only


def test_synthetic30_known_content():
    case = SHARED / "reference" / "synthetic30_raw"
    if not case.is_dir():
        pytest.skip(SKIP_SHARED)
    exp = pd.read_csv(case / "synthetic30_exposure.csv")
    out = pd.read_csv(case / "synthetic30_outcome.csv")
    h, ex = harmonise_with_exclusions(exp, out)
    reasons = dict(zip(ex["snp"], ex["reason"]))
    assert reasons["rs2110"] == "absent from outcome data"
    assert reasons["rs999999"] == "absent from exposure data (outcome only)"
    assert reasons["rs1444"] == ("palindromic with ambiguous allele frequency (eaf.exposure 0.45, "
                                 "eaf.outcome 0.45, inside 0.42-0.58)")
    assert reasons["rs2036"].startswith("palindromic with ambiguous allele frequency")
    assert len(ex) == 4


def test_twosamplemr_vignette_triple():
    """vig_bmi_exp_dat + vig_chd_out_dat -> TwoSampleMR's own harmonised `dat` (action = 1)."""
    if not EXAMPLES.is_dir():
        pytest.skip(SKIP_SHARED)
    exp = pd.read_csv(EXAMPLES / "vig_bmi_exp_dat_ieu-a-2.csv")
    out = pd.read_csv(EXAMPLES / "vig_chd_out_dat_ieu-a-7.csv")
    ref = pd.read_csv(EXAMPLES / "harmonised_bmi_ieu-a-2_chd_ieu-a-7.csv")
    h = harmonise(exp, out, action=1)
    assert h["SNP"].tolist() == ref["SNP"].tolist()
    # SNP_index and the ncase/units columns were added by a later step of that file's making
    cols = [c for c in ref.columns if c in h.columns]
    assert len(cols) >= 35
    n_ref_cols = [c for c in ref.columns if c not in h.columns]
    assert set(n_ref_cols) <= {"SNP_index", "ncase.exposure", "ncontrol.exposure", "units.exposure",
                               "sd.exposure", "ncase.outcome", "ncontrol.outcome", "units.outcome",
                               "sd.outcome"}
    for col in cols:
        for u, v in zip(h[col].tolist(), ref[col].tolist()):
            assert _same(u, v), (col, u, v)
    # column order as R's merge() makes it
    assert [c for c in h.columns if c in ref.columns] == cols
    # action 2 gives the same data here (no palindrome near 0.5)
    h2 = harmonise(exp, out, action=2)
    for col in ("beta.outcome", "mr_keep", "ambiguous"):
        assert h2[col].tolist() == h[col].tolist()
    log = harmonise_log(h).iloc[0]
    assert log["candidate_variants"] == 79 and log["total_variants_for_mr"] == 79


def test_alleles_txt_cases():
    """TwoSampleMR's inst/extdata/alleles.txt: 12 hand-made cases, expected outcome beta."""
    path = EXAMPLES / "alleles.txt"
    if not path.is_file():
        pytest.skip(SKIP_SHARED)
    rows = [line.split() for line in path.read_text().splitlines()[1:] if line.strip()]
    exp = _exp([(r[0], r[1], r[2], float(r[5]), float(r[7])) for r in rows])
    out = _out([(r[0], r[3], r[4], float(r[6]), float(r[8])) for r in rows])
    h = harmonise(exp, out).set_index("SNP")
    for r in rows:
        snp, expected, note = r[0], float(r[9]), r[10]
        row = h.loc[snp]
        if expected == 0:
            assert row["remove"] and not row["mr_keep"], snp
        else:
            assert row["beta.outcome"] == expected, (snp, note)
        if note == "palindromic" or note == "palindromic_to_swap":
            assert row["ambiguous"] and not row["mr_keep"]


# --------------------------------------------------------------------------------------
# the rules, one at a time
# --------------------------------------------------------------------------------------

def test_match_unchanged():
    r = _one("A", "G", 0.1, 0.3, "A", "G", 0.2, 0.31)
    assert (r["beta.outcome"], r["eaf.outcome"], r["mr_keep"]) == (0.2, 0.31, True)
    assert not r["remove"] and not r["palindromic"] and not r["ambiguous"]
    assert r["mr_keep_reason"] is None


def test_swap():
    r = _one("A", "G", 0.1, 0.3, "G", "A", 0.2, 0.7)
    assert r["effect_allele.outcome"] == "A" and r["other_allele.outcome"] == "G"
    assert r["beta.outcome"] == -0.2 and r["eaf.outcome"] == pytest.approx(0.3, abs=1e-15)
    assert r["mr_keep"]


def test_strand_flip():
    r = _one("A", "G", 0.1, 0.3, "T", "C", 0.2, 0.3)
    assert (r["effect_allele.outcome"], r["other_allele.outcome"]) == ("A", "G")
    assert r["beta.outcome"] == 0.2 and r["eaf.outcome"] == 0.3 and r["mr_keep"]


def test_strand_flip_and_swap():
    r = _one("A", "G", 0.1, 0.3, "C", "T", 0.2, 0.7)
    assert (r["effect_allele.outcome"], r["other_allele.outcome"]) == ("A", "G")
    assert r["beta.outcome"] == -0.2 and r["mr_keep"]
    log = harmonise_log(harmonise(_exp([("rs1", "A", "G", 0.1, 0.3)]),
                                  _out([("rs1", "C", "T", 0.2, 0.7)]))).iloc[0]
    assert (log["switched_alleles"], log["flipped_alleles_basic"]) == (0, 1)


def test_incompatible_alleles():
    r = _one("A", "G", 0.1, 0.3, "A", "C", 0.2, 0.3)
    assert r["remove"] and not r["mr_keep"]
    assert r["mr_keep_reason"] == "incompatible alleles A/G vs A/C"
    # action 1 also drops incompatible alleles
    assert not _one("A", "G", 0.1, 0.3, "A", "C", 0.2, 0.3, action=1)["mr_keep"]


def test_lowercase_alleles_are_upper_cased():
    r = _one("a", "g", 0.1, 0.3, "g", "a", 0.2, 0.7)
    assert (r["effect_allele.exposure"], r["effect_allele.outcome"]) == ("A", "A")
    assert r["beta.outcome"] == -0.2


@pytest.mark.parametrize("eaf,ambiguous", [(0.42, False), (0.58, False), (0.43, True), (0.57, True),
                                           (0.4199, False), (0.5, True), (0.2, False)])
def test_palindrome_band_is_open(eaf, ambiguous):
    # exposure and outcome with the same allele frequency, palindromic A/T
    r = _one("A", "T", 0.1, eaf, "A", "T", 0.2, eaf)
    assert bool(r["palindromic"]) is True
    assert bool(r["ambiguous"]) is ambiguous
    assert bool(r["mr_keep"]) is (not ambiguous)
    if ambiguous:
        assert "inside 0.42-0.58" in r["mr_keep_reason"]


def test_palindrome_band_after_swap_uses_1_minus_eaf():
    # the outcome is swapped first (T/A -> A/T), so its eaf becomes 1 - 0.58 = 0.42000000000000004,
    # which is inside the open band: R finds it ambiguous too
    r = _one("A", "T", 0.1, 0.2, "T", "A", 0.2, 0.58)
    assert r["ambiguous"] and not r["mr_keep"]


def test_palindrome_flipped_by_frequency_action_2():
    r = _one("A", "T", 0.1, 0.2, "A", "T", 0.3, 0.8)
    assert r["palindromic"] and not r["ambiguous"] and r["mr_keep"]
    assert r["beta.outcome"] == -0.3 and r["eaf.outcome"] == pytest.approx(0.2, abs=1e-15)
    # alleles are not swapped, only beta and eaf (as in TwoSampleMR)
    assert (r["effect_allele.outcome"], r["other_allele.outcome"]) == ("A", "T")
    # action 1: nothing is inferred, the SNP is kept as it is
    r1 = _one("A", "T", 0.1, 0.2, "A", "T", 0.3, 0.8, action=1)
    assert r1["beta.outcome"] == 0.3 and r1["mr_keep"]
    # action 3: palindromic SNPs are dropped
    r3 = _one("A", "T", 0.1, 0.2, "A", "T", 0.3, 0.8, action=3)
    assert r3["beta.outcome"] == 0.3 and not r3["mr_keep"]
    assert r3["mr_keep_reason"] == "palindromic A/T (action 3 drops palindromic SNPs)"


def test_palindrome_missing_eaf_is_ambiguous():
    r = _one("G", "C", 0.1, float("nan"), "G", "C", 0.3, 0.1)
    assert r["ambiguous"] and not r["mr_keep"]
    assert "eaf.exposure missing, taken as 0.5" in r["mr_keep_reason"]
    assert math.isnan(r["eaf.exposure"])
    assert _one("G", "C", 0.1, float("nan"), "G", "C", 0.3, 0.1, action=1)["mr_keep"]


def test_non_palindromic_ignores_eaf():
    r = _one("A", "G", 0.1, 0.5, "A", "G", 0.3, 0.5)
    assert not r["ambiguous"] and r["mr_keep"]


def test_nr_eaf_outcome_is_missing():
    out = _out([("rs1", "A", "T", 0.3, 0.2)])
    out["eaf.outcome"] = ["NR"]
    h = harmonise(_exp([("rs1", "A", "T", 0.1, 0.2)]), out)
    assert math.isnan(h["eaf.outcome"].iloc[0]) and h["ambiguous"].iloc[0]


def test_missing_beta_or_se_drops_snp():
    exp = _exp([("rs1", "A", "G", 0.1, 0.3), ("rs2", "C", "T", 0.2, 0.3)])
    out = _out([("rs1", "A", "G", float("nan"), 0.3), ("rs2", "C", "T", 0.1, 0.3, float("nan"))])
    h = harmonise(exp, out)
    assert not h["mr_keep"].any()
    assert h["mr_keep_reason"].tolist() == ["missing beta.outcome", "missing se.outcome"]
    log = harmonise_log(h).iloc[0]
    assert log["total_variants"] == 2 and log["total_variants_for_mr"] == 0


def test_indel_outcome_coded_i_d():
    exp = _exp([("rs1", "AT", "A", 0.1, 0.3), ("rs2", "A", "AT", 0.1, 0.3), ("rs3", "AT", "A", 0.1, 0.3)])
    out = _out([("rs1", "I", "D", 0.2, 0.3), ("rs2", "I", "D", 0.2, 0.7), ("rs3", "D", "I", 0.2, 0.7)])
    h = harmonise(exp, out).set_index("SNP")
    # rs1: the insertion is the longer allele AT -> I/D becomes AT/A, a match
    assert (h.loc["rs1", "effect_allele.outcome"], h.loc["rs1", "other_allele.outcome"]) == ("AT", "A")
    assert h.loc["rs1", "beta.outcome"] == 0.2 and h.loc["rs1", "mr_keep"]
    # rs2: exposure effect allele is the deletion: I/D -> AT/A, then swapped
    assert h.loc["rs2", "effect_allele.outcome"] == "A" and h.loc["rs2", "beta.outcome"] == -0.2
    # rs3: D/I with an insertion effect allele: D -> A, I -> AT, then swapped
    assert h.loc["rs3", "effect_allele.outcome"] == "AT" and h.loc["rs3", "beta.outcome"] == -0.2
    assert h["mr_keep"].all()


def test_indel_exposure_coded_i_d():
    exp = _exp([("rs1", "I", "D", 0.1, 0.3), ("rs2", "D", "I", 0.1, 0.3)])
    out = _out([("rs1", "GCA", "G", 0.2, 0.3), ("rs2", "GCA", "G", 0.2, 0.3)])
    h = harmonise(exp, out).set_index("SNP")
    assert (h.loc["rs1", "effect_allele.exposure"], h.loc["rs1", "other_allele.exposure"]) == ("GCA", "G")
    assert h.loc["rs1", "beta.outcome"] == 0.2
    assert (h.loc["rs2", "effect_allele.exposure"], h.loc["rs2", "other_allele.exposure"]) == ("G", "GCA")
    assert h.loc["rs2", "beta.outcome"] == -0.2
    assert h["mr_keep"].all()


def test_indel_equal_length_cannot_be_recoded():
    h = harmonise(_exp([("rs1", "AT", "GC", 0.1, 0.3)]), _out([("rs1", "I", "D", 0.2, 0.3)]))
    assert h["remove"].iloc[0] and not h["mr_keep"].iloc[0]
    assert h["mr_keep_reason"].iloc[0] == "indel alleles cannot be matched AT/GC vs I/D"


def test_multi_letter_indels_strand_flip():
    # sequence-coded indels are never palindromic; the complement strand is tried
    r = _one("AT", "A", 0.1, 0.3, "TA", "T", 0.2, 0.3)
    assert (r["effect_allele.outcome"], r["other_allele.outcome"]) == ("AT", "A")
    assert r["beta.outcome"] == 0.2 and r["mr_keep"] and not r["palindromic"]


def test_case_2_1_outcome_other_allele_missing():
    # swap resolved by clear allele frequencies
    r = _one("A", "G", 0.1, 0.2, "G", None, 0.1, 0.8)
    assert (r["effect_allele.outcome"], r["other_allele.outcome"]) == ("A", "G")
    assert r["beta.outcome"] == -0.1 and r["eaf.outcome"] == pytest.approx(0.2, abs=1e-15)
    assert not r["ambiguous"] and r["mr_keep"]
    # frequencies near 0.5 cannot confirm a one-allele match
    r = _one("A", "G", 0.1, 0.5, "A", None, 0.1, 0.5)
    assert r["ambiguous"] and not r["mr_keep"] and "only one allele" in r["mr_keep_reason"]
    assert _one("A", "G", 0.1, 0.5, "A", None, 0.1, 0.5, action=1)["mr_keep"]
    # the outcome's single allele matches neither: flipped, and ambiguous
    r = _one("A", "G", 0.1, 0.2, "C", None, 0.1, 0.8)
    assert (r["effect_allele.outcome"], r["other_allele.outcome"]) == ("A", "G")
    assert r["beta.outcome"] == -0.1 and r["ambiguous"] and not r["mr_keep"]
    # a palindromic exposure with one outcome allele is removed
    r = _one("A", "T", 0.1, 0.2, "A", None, 0.1, 0.2)
    assert r["remove"] and r["palindromic"] and not r["mr_keep"]
    # an empty other allele in the outcome counts as missing
    r = _one("A", "G", 0.1, 0.2, "G", "", 0.1, 0.8)
    assert r["other_allele.outcome"] == "G" and r["beta.outcome"] == -0.1
    log = harmonise_log(harmonise(_exp([("rs1", "A", "G", 0.1, 0.2)]), _out([("rs1", "G", None, 0.1, 0.8)])))
    assert log["alleles"].tolist() == ["2-1"]
    assert log.iloc[0]["switched_alleles"] == 1 and log.iloc[0]["flipped_alleles_no_oa"] == 0


def test_case_1_2_exposure_other_allele_missing():
    r = _one("A", None, 0.1, 0.2, "G", "A", 0.3, 0.8)
    # TwoSampleMR re-expresses the exposure on the outcome's effect allele
    assert (r["effect_allele.exposure"], r["other_allele.exposure"]) == ("G", "A")
    assert r["beta.exposure"] == -0.1 and r["eaf.exposure"] == pytest.approx(0.8)
    assert r["beta.outcome"] == 0.3 and r["mr_keep"]
    r = _one("A", None, 0.1, 0.2, "G", "C", 0.3, 0.8)
    assert r["palindromic"] and r["remove"] and not r["mr_keep"]


def test_case_1_1_only_effect_alleles():
    r = _one("A", None, 0.1, 0.2, "A", None, 0.3, 0.25)
    assert not r["remove"] and not r["ambiguous"] and r["mr_keep"]
    assert r["other_allele.exposure"] is None and r["other_allele.outcome"] is None
    r = _one("A", None, 0.1, 0.2, "G", None, 0.3, 0.25)
    assert r["remove"] and not r["mr_keep"] and r["mr_keep_reason"].startswith("effect alleles differ")
    r = _one("A", None, 0.1, 0.45, "A", None, 0.3, 0.45)
    assert r["ambiguous"] and not r["mr_keep"]


def test_missing_effect_allele_is_reported_not_silent():
    exp = _exp([("rs1", "A", "G", 0.1, 0.2), ("rs2", None, "G", 0.1, 0.2)])
    out = _out([("rs1", "A", "G", 0.1, 0.2), ("rs2", "A", "G", 0.1, 0.2)])
    h, ex = harmonise_with_exclusions(exp, out)
    assert h["SNP"].tolist() == ["rs1"]  # TwoSampleMR drops the row
    assert ex["snp"].tolist() == ["rs2"]
    assert "missing effect_allele.exposure" in ex["reason"].iloc[0]
    assert harmonise_log(h).iloc[0]["variants_absent_from_reference"] == 1


def test_action_3_and_reasons_combined():
    exp = _exp([("rs1", "A", "T", 0.1, 0.2), ("rs2", "A", "T", 0.1, 0.45), ("rs3", "A", "G", 0.1, 0.2)])
    out = _out([("rs1", "A", "T", 0.1, 0.2), ("rs2", "C", "G", 0.1, 0.45), ("rs3", "A", "G", 0.1, 0.2)])
    h = harmonise(exp, out, action=3).set_index("SNP")
    assert h["mr_keep"].tolist() == [False, False, True]
    assert h.loc["rs2", "mr_keep_reason"].startswith("incompatible alleles A/T vs C/G; palindromic")
    log = harmonise_log(h.reset_index()).iloc[0]
    assert log["ambiguous_alleles"] == 1 and log["incompatible_alleles"] == 1
    # action 1 has no ambiguous_alleles column in the log
    assert "ambiguous_alleles" not in harmonise_log(harmonise(exp, out, action=1)).columns
    h2 = harmonise(exp, out, action=2).set_index("SNP")
    assert h2["mr_keep"].tolist() == [True, False, True]


def test_two_exposures_against_one_outcome():
    exp = pd.concat([_exp([("rs5", "A", "G", 0.1, 0.2), ("rs1", "A", "G", 0.2, 0.2),
                           ("rs7", "A", "G", 0.2, 0.2)], id_="X2"),
                     _exp([("rs3", "C", "T", 0.3, 0.2), ("rs1", "A", "G", 0.4, 0.2)], id_="X1")],
                    ignore_index=True)
    out = _out([("rs1", "G", "A", 1.0, 0.8), ("rs3", "C", "T", 2.0, 0.2), ("rs5", "A", "G", 3.0, 0.2)])
    h, ex = harmonise_with_exclusions(exp, out)
    # pairs in order of first appearance in the SNP-sorted merge; SNP order within a pair
    assert list(zip(h["id.exposure"], h["SNP"])) == [("X2", "rs1"), ("X2", "rs5"), ("X1", "rs1"),
                                                     ("X1", "rs3")]
    assert h["beta.outcome"].tolist() == [-1.0, 3.0, -1.0, 2.0]
    log = harmonise_log(h)
    assert log["id.exposure"].tolist() == ["X2", "X1"]
    assert log["candidate_variants"].tolist() == [3, 2]
    assert log["variants_absent_from_reference"].tolist() == [1, 0]
    assert ex[["snp", "id_exposure", "reason"]].values.tolist() == [["rs7", "X2", "absent from outcome data"]]


def test_action_per_outcome():
    exp = _exp([("rs1", "A", "T", 0.1, 0.2)])
    out = pd.concat([_out([("rs1", "A", "T", 0.1, 0.2)], id_="O1"),
                     _out([("rs1", "A", "T", 0.1, 0.2)], id_="O2")], ignore_index=True)
    h = harmonise(exp, out, action=[2, 3])
    assert h["id.outcome"].tolist() == ["O1", "O2"]
    assert h["action"].tolist() == [2, 3]
    assert h["mr_keep"].tolist() == [True, False]
    with pytest.raises(ParameterError):
        harmonise(exp, out, action=[1, 2, 3])
    with pytest.raises(ParameterError):
        harmonise(exp, out, action=4)


def test_row_order_icu_collation():
    snps = ["rs9", "rs100", "rs10", "rs11", "RS2", "rs1_a"]
    exp = _exp([(s, "A", "G", 0.1, 0.2) for s in snps])
    out = _out([(s, "A", "G", 0.1, 0.2) for s in reversed(snps)])
    h = harmonise(exp, out)
    # the pair key is paste0(SNP, "_", 1): "rs1_a_1" < "rs10_1" < "rs100_1" < "rs11_1" < "RS2_1" < "rs9_1"
    assert h["SNP"].tolist() == ["rs1_a", "rs10", "rs100", "rs11", "RS2", "rs9"]


def test_duplicate_snp_within_a_pair_is_kept_with_index():
    exp = _exp([("rs1", "A", "G", 0.1, 0.2), ("rs10", "A", "G", 0.3, 0.2)])
    out = _out([("rs1", "A", "G", 1.0, 0.2), ("rs1", "G", "A", 2.0, 0.8), ("rs10", "A", "G", 3.0, 0.2)])
    h = harmonise(exp, out)
    assert h["SNP"].tolist() == ["rs1", "rs1", "rs10"]
    assert h["beta.outcome"].tolist() == [1.0, -2.0, 3.0]


def test_columns_shared_by_both_inputs_get_r_suffixes():
    exp = _exp([("rs1", "A", "G", 0.1, 0.2)])
    out = _out([("rs1", "A", "G", 0.1, 0.2)])
    exp["chr"] = [1]
    out["chr"] = [2]
    h = harmonise(exp, out)
    assert h["chr.x"].tolist() == [2] and h["chr.y"].tolist() == [1]


def test_output_columns():
    h = harmonise(_exp([("rs1", "A", "G", 0.1, 0.2)]), _out([("rs1", "A", "G", 0.1, 0.2)]))
    assert list(h.columns[:12]) == ["SNP", "effect_allele.exposure", "other_allele.exposure",
                                    "effect_allele.outcome", "other_allele.outcome", "beta.exposure",
                                    "beta.outcome", "eaf.exposure", "eaf.outcome", "remove",
                                    "palindromic", "ambiguous"]
    assert h.columns[12] == "id.outcome"
    assert list(h.columns[-3:]) == ["action", "mr_keep", "mr_keep_reason"]
    for c in ("remove", "palindromic", "ambiguous", "mr_keep"):
        assert h[c].dtype == bool


def test_no_overlap():
    h, ex = harmonise_with_exclusions(_exp([("rs1", "A", "G", 0.1, 0.2)]),
                                      _out([("rs2", "A", "G", 0.1, 0.2)]))
    assert len(h) == 0 and "mr_keep" in h.columns
    assert harmonise_log(h).empty
    assert ex["reason"].tolist() == ["absent from outcome data", "absent from exposure data (outcome only)"]


def test_input_errors():
    exp = _exp([("rs1", "A", "G", 0.1, 0.2)])
    out = _out([("rs1", "A", "G", 0.1, 0.2)])
    with pytest.raises(InputError) as e:
        harmonise(exp.drop(columns=["se.exposure"]), out, exposure_path="exp.csv")
    assert e.value.column == "se.exposure" and "exp.csv" in str(e.value)
    bad = out.copy()
    bad["beta.outcome"] = ["abc"]
    with pytest.raises(InputError) as e:
        harmonise(exp, bad, outcome_path="out.csv")
    assert (e.value.row, e.value.column) == (1, "beta.outcome") and "'abc'" in str(e.value)
    bad = exp.copy()
    bad["SNP"] = [None]
    with pytest.raises(InputError):
        harmonise(bad, out)
    with pytest.raises(ParameterError):
        harmonise(exp, out, tolerance=0.6)


def test_numbers_given_as_text():
    exp = _exp([("rs1", "A", "G", "0.1", "0.2")])
    out = _out([("rs1", "A", "G", "NA", "NR")])
    h = harmonise(exp, out)
    assert h["beta.exposure"].iloc[0] == 0.1 and math.isnan(h["beta.outcome"].iloc[0])
    assert h["mr_keep_reason"].iloc[0] == "missing beta.outcome"


# --------------------------------------------------------------------------------------
# R internals reproduced for the row order
# --------------------------------------------------------------------------------------

def _isort_literal(x):
    x = list(x)
    idx = list(range(len(x)))
    n = len(x)
    h = 1
    while h <= n // 9:
        h = 3 * h + 1
    while h > 0:
        for i in range(h, n):
            v, iv, j = x[i], idx[i], i
            while j >= h and x[j - h] > v:
                x[j], idx[j] = x[j - h], idx[j - h]
                j -= h
            x[j], idx[j] = v, iv
        h //= 3
    return idx


@given(st.lists(st.integers(0, 5), max_size=200))
def test_isort_with_index_matches_r_shell_sort(xs):
    assert _r_isort_with_index(np.array(xs, dtype=np.int64)).tolist() == _isort_literal(xs)


def test_isort_is_not_stable_like_r():
    xs = [2, 1, 1, 2, 1, 1, 2, 1, 1, 2, 1, 1, 2, 1, 1, 2, 1, 1]
    perm = _r_isort_with_index(np.array(xs))
    assert perm.tolist() == _isort_literal(xs)
    assert perm.tolist() != sorted(range(len(xs)), key=lambda i: xs[i])


def test_merge_pairs():
    xi, yi = _r_merge_pairs(["b", "a", "b"], ["a", "b", "b", "c"])
    assert list(zip(xi.tolist(), yi.tolist())) == [(1, 0), (0, 1), (0, 2), (2, 1), (2, 2)]


def test_collation_key():
    words = ["rs10_1", "rs100_1", "rs1_1", "rs9_1", "rs1_2", "a", "A", "b", "_x", "-x", "1"]
    assert sorted(words, key=r_collation_key) == ["_x", "-x", "1", "a", "A", "b", "rs1_1", "rs1_2",
                                                   "rs10_1", "rs100_1", "rs9_1"]


def test_collation_string_key_sorts_as_the_tuple_key():
    rng = random.Random(11)
    alphabet = [chr(i) for i in range(1, 128)] + ["é", "ß", "Ā", "\uffff", "\U0010ffff"]
    for _ in range(2000):
        a = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 5)))
        b = (a[:rng.randint(0, len(a))] + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 2)))
             if rng.random() < 0.5 else "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 5))))
        ka, kb = r_collation_key(a), r_collation_key(b)
        sa, sb = _collation_key_cached(a), _collation_key_cached(b)
        assert ((ka < kb), (ka == kb)) == ((sa < sb), (sa == sb)), (a, b)


def test_single_base_rows_at_once_are_the_row_function():
    """The 2-2 rows of single bases harmonised at once give, bit for bit, what the row
    function gives: every allele combination, frequencies at and around the band edges,
    missing values, all actions and tolerances."""
    combos = [(a1, a2, b1, b2) for a1 in "ACGT" for a2 in "ACGT" for b1 in "ACGT" for b2 in "ACGT"]
    freqs = [0.1, 0.42, 0.4200000000000001, 0.5, 0.58, 0.5799999999999999, 0.9, math.nan]
    rng = random.Random(3)
    rows = []
    for c in combos:
        for _ in range(6):
            rows.append((*c, rng.choice([0.3, -0.2, -0.0, math.nan]), rng.choice([0.1, -0.4, math.nan]),
                         rng.choice(freqs), rng.choice(freqs)))
    codes = np.array([[_BASE_CODE[r[j]] for r in rows] for j in range(4)], dtype=np.int64)
    bB = np.array([r[5] for r in rows])
    fA = np.array([r[6] for r in rows])
    fB = np.array([r[7] for r in rows])
    counters = ["switched_alleles", "flipped_alleles_basic", "flipped_alleles_palindrome"]
    for tol in (0.08, 0.0, 0.2):
        for action in (1, 2, 3):
            log_at_once = dict.fromkeys(counters, 0)
            h = _harmonise_22_bases(codes, bB, fA, fB, tol, action, log_at_once)
            log_by_row = dict.fromkeys(counters, 0)
            for k, (a1, a2, b1, b2, bA_, bB_, fA_, fB_) in enumerate(rows):
                want = _harmonise_22(dict(A1=a1, A2=a2, B1=b1, B2=b2, bA=bA_, bB=bB_, fA=fA_, fB=fB_,
                                          orig=(a1, a2, b1, b2)), tol, action, log_by_row)
                assert (_BASES[h["B1"][k]], _BASES[h["B2"][k]]) == (want["B1"], want["B2"])
                for key in ("bB", "fB"):  # the same float, NaN and sign of zero included
                    assert np.float64(h[key][k]).tobytes() == np.float64(want[key]).tobytes(), key
                for key in ("remove", "palindromic", "ambiguous"):
                    assert bool(h[key][k]) == want[key], key
            assert log_at_once == log_by_row


def test_collation_against_icu_if_available():
    icu = pytest.importorskip("icu")
    coll = icu.Collator.createInstance(icu.Locale.getRoot())
    rng = random.Random(7)
    alphabet = [chr(i) for i in range(32, 127)]
    for _ in range(300):
        words = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(20)]
        assert sorted(words, key=r_collation_key) == sorted(words, key=coll.getSortKey)


# --------------------------------------------------------------------------------------
# property: the coding of an input allele does not change the harmonised result
# --------------------------------------------------------------------------------------

_PAIRS = [(a, b) for a in "ACGT" for b in "ACGT" if a != b]
_COMP = str.maketrans("ACGT", "TGCA")


@st.composite
def _snp(draw):
    ea, oa = draw(st.sampled_from(_PAIRS))
    coding = draw(st.sampled_from(["same", "swap", "flip", "flipswap", "other"]))
    f = draw(st.floats(0.01, 0.99))
    fo = draw(st.one_of(st.just(f), st.floats(0.01, 0.99)))
    bx = draw(st.floats(-1, 1).filter(lambda v: abs(v) > 1e-6))
    by = draw(st.floats(-1, 1).filter(lambda v: abs(v) > 1e-6))
    if coding == "same":
        oea, ooa, ob, of = ea, oa, by, fo
    elif coding == "swap":
        oea, ooa, ob, of = oa, ea, -by, 1 - fo
    elif coding == "flip":
        oea, ooa, ob, of = ea.translate(_COMP), oa.translate(_COMP), by, fo
    elif coding == "flipswap":
        oea, ooa, ob, of = oa.translate(_COMP), ea.translate(_COMP), -by, 1 - fo
    else:
        oea, ooa = draw(st.sampled_from(_PAIRS))
        ob, of = by, fo
    return (ea, oa, bx, f, oea, ooa, ob, of)


def _far(f):
    return all(abs(f - t) > 1e-9 for t in (0.42, 0.5, 0.58))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snps=st.lists(_snp(), min_size=1, max_size=8),
       flips=st.lists(st.sampled_from(["none", "exposure", "outcome", "both"]), min_size=8, max_size=8),
       action=st.sampled_from([1, 2, 3]))
def test_recoding_an_input_allele_changes_nothing(snps, flips, action):
    names = [f"rs{i}" for i in range(len(snps))]
    e1 = _exp([(n, s[0], s[1], s[2], s[3]) for n, s in zip(names, snps)])
    o1 = _out([(n, s[4], s[5], s[6], s[7]) for n, s in zip(names, snps)])
    e2_rows, o2_rows = [], []
    for n, s, fl in zip(names, snps, flips):
        ea, oa, bx, f, oea, ooa, ob, of = s
        if fl in ("exposure", "both"):
            e2_rows.append((n, oa, ea, -bx, 1 - f))
        else:
            e2_rows.append((n, ea, oa, bx, f))
        if fl in ("outcome", "both"):
            o2_rows.append((n, ooa, oea, -ob, 1 - of))
        else:
            o2_rows.append((n, oea, ooa, ob, of))
    h1 = harmonise(e1, o1, action=action).set_index("SNP")
    h2 = harmonise(_exp(e2_rows), _out(o2_rows), action=action).set_index("SNP")
    assert list(h1.index) == list(h2.index)
    for n, s, fl in zip(names, snps, flips):
        r1, r2 = h1.loc[n], h2.loc[n]
        pal = r1["palindromic"]
        assert r2["palindromic"] == pal
        if pal and not all(_far(v) for v in (s[3], s[7], 1 - s[3], 1 - s[7])):
            continue  # 1 - (1 - f) may cross the band edge or 0.5 by one ulp
        assert r2["mr_keep"] == r1["mr_keep"], n
        assert r2["remove"] == r1["remove"]
        if r1["remove"]:
            continue
        sign = -1.0 if fl in ("exposure", "both") else 1.0
        assert r2["beta.exposure"] == sign * r1["beta.exposure"]
        assert r2["beta.outcome"] == sign * r1["beta.outcome"]
        # the Wald ratio does not depend on the coding at all
        assert r2["beta.outcome"] / r2["beta.exposure"] == r1["beta.outcome"] / r1["beta.exposure"]


def _taken(df, rows):
    out = df.take(rows)
    out.index = pd.RangeIndex(len(rows))
    return out


def test_rows_of_the_inputs_are_the_tables_of_those_rows():
    """``exposure_rows``/``outcome_rows`` give, bit for bit, the result of the tables of
    those rows (log, exclusions, dtypes), and errors count rows in the selection;
    ``as_columns`` gives the same table, and its rows as ``take`` does."""
    rng = random.Random(11)
    bases = "ACGT"
    rows = [(f"rs{k}", *rng.sample(bases, 2), rng.uniform(-1, 1), rng.choice([0.1, 0.45, 0.7]))
            for k in range(40)]
    exp = _exp(rows)
    out = _out([(s, *(rng.sample(bases, 2) if rng.random() < 0.3 else (a, b)), -bb, f)
                for s, a, b, bb, f in rows[5:]] + [("rs99", "A", "G", 0.1, 0.2)])
    for df in (exp, out):  # texts as pandas' strings (pandas >= 3) and as objects
        df["chr"] = pd.array(["1"] * len(df), dtype="str")
    out["eaf.outcome"] = out["eaf.outcome"].astype(object)
    out.loc[3, "eaf.outcome"] = "NR"
    e_at = np.array(sorted(rng.sample(range(len(exp)), 30)))
    o_at = np.array([29, 0, 4, 3, 17, 35, 2, 8, 11, 12, 13, 20, 21, 22, 30, 31])
    for action in (1, 2, 3):
        for ea, oa in ((e_at, o_at), (None, o_at), (e_at, None)):
            want_h, want_x = harmonise_with_exclusions(
                exp if ea is None else _taken(exp, ea), out if oa is None else _taken(out, oa),
                action=action)
            h, x = harmonise_with_exclusions(exp, out, action=action, exposure_rows=ea,
                                             outcome_rows=oa)
            for got, want in ((h, want_h), (x, want_x)):
                pd.testing.assert_frame_equal(got, want, check_exact=True)
                assert list(got.dtypes) == list(want.dtypes)
            assert h.attrs == want_h.attrs
            cols, xcols = harmonise_with_exclusions(exp, out, action=action, exposure_rows=ea,
                                                    outcome_rows=oa, as_columns=True)
            assert cols.attrs == want_h.attrs and len(cols) == len(want_h)
            pd.testing.assert_frame_equal(cols.frame(), h, check_exact=True)
            pd.testing.assert_frame_equal(xcols.frame(), x, check_exact=True)
            assert list(xcols.frame().dtypes) == list(x.dtypes)
            for pos in ([], [0], list(range(len(h)))[::-2]):
                got, want = cols.rows(pos), _taken(cols.frame(), pos)
                pd.testing.assert_frame_equal(got, want, check_exact=True)
                assert list(got.dtypes) == list(want.dtypes) and not got.attrs
    bad = out.copy()
    bad["beta.outcome"] = bad["beta.outcome"].astype(object)
    bad.loc[4, "beta.outcome"] = "abc"
    with pytest.raises(InputError) as e:
        harmonise_with_exclusions(exp, bad, outcome_rows=o_at)
    assert (e.value.row, e.value.column) == (3, "beta.outcome")
    bad = exp.copy()
    bad.loc[e_at[5], "SNP"] = None
    with pytest.raises(InputError) as e:
        harmonise_with_exclusions(bad, out, exposure_rows=e_at)
    assert (e.value.row, e.value.column) == (6, "SNP")
