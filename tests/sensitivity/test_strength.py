"""Instrument strength against the reference run.

Reference numbers: ../shared/reference/*/twosamplemr.json,
``per_combination[*]["instrument_strength"]`` (F per SNP as TwoSampleMR R/moe.R
``system_metrics``, ``Isq`` of R/rucker.R, and the documented R² conventions; see
CONVENTIONS.md), on the ``mr_keep`` rows. Deterministic: relative 1e-10.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from conftest import case_params, load_reference, reference_cases
from mrbook.sensitivity.strength import instrument_strength, instrument_strength_table, isq

REL = 1e-10
CASES = reference_cases()

SUMMARY_MAP = {
    "meanF": "mean_f", "medianF": "median_f", "varF": "var_f", "minF": "min_f", "maxF": "max_f",
    "I2GX_tsmr": "i2gx", "I2GX_MendelianRandomization": "i2gx_mr", "I2GX_tsmr_noabs": "i2gx_noabs",
    "rsq_total_bsen": "rsq_total_bsen", "F_total_from_rsq": "f_total_from_rsq",
}


def _case_data(case, ref) -> pd.DataFrame:
    inp = ref["meta"]["input"]
    if "harmonised_csv" in inp:
        return pd.read_csv(case / inp["harmonised_csv"])
    return pd.DataFrame(ref["harmonised_data"])


@pytest.mark.parametrize("case", case_params(CASES))
def test_instrument_strength_matches_reference(case):
    ref = load_reference(case)
    res = instrument_strength_table(_case_data(case, ref))
    for key, combo in ref["per_combination"].items():
        want = combo.get("instrument_strength")
        if not isinstance(want, dict) or "error" in want:
            continue
        ide, ido = key.split(" -> ")
        got = res["summary"][(res["summary"].id_exposure == ide) & (res["summary"].id_outcome == ido)]
        assert len(got) == 1
        got = got.iloc[0]
        assert got["nsnp"] == len(want["SNP"])
        for theirs, ours in SUMMARY_MAP.items():
            if theirs not in want:
                continue
            if want[theirs] is None:
                assert math.isnan(got[ours]), ours
            else:
                assert abs(got[ours] - want[theirs]) <= REL * abs(want[theirs]), ours
        per = res["per_snp"][(res["per_snp"].id_exposure == ide) & (res["per_snp"].id_outcome == ido)]
        w = pd.DataFrame({"snp": want["SNP"], "F": want["F_per_snp"]})
        if "rsq_per_snp_bsen" in want:
            w["rsq"] = want["rsq_per_snp_bsen"]
        m = per.merge(w, on="snp")
        assert len(m) == len(w)
        np.testing.assert_allclose(m["f_stat"], m["F"], rtol=REL)
        if "rsq" in m:
            np.testing.assert_allclose(m["rsq_bsen"], m["rsq"], rtol=REL)


def test_isq_formula():
    y = np.array([0.1, 0.2, 0.15, 0.3])
    s = np.array([0.01, 0.02, 0.015, 0.05])
    w = 1 / s ** 2
    q = np.sum(w * (y - np.sum(w * y) / np.sum(w)) ** 2)
    assert isq(y, s) == pytest.approx(max(0.0, (q - 3) / q), rel=1e-15)
    assert isq([0.1, 0.1], [0.01, 0.01]) is not None
    assert isq([0.1, 0.1001], [1.0, 1.0]) == 0.0  # Q < k - 1 is truncated at 0
    assert math.isnan(isq([0.1], [0.01]))


def test_infinite_f_is_300_and_conventions():
    res = instrument_strength([0.1, 0.2, 0.05], [0.01, 0.0, 0.01], sy=[0.02, 0.02, 0.02],
                              n=[1000, 1000, 1000], eaf=[0.3, 0.5, 0.1], snps=["a", "b", "c"])
    per = res["per_snp"]
    assert per["f_stat"].tolist() == pytest.approx([100.0, 300.0, 25.0])
    assert per.loc[0, "rsq_bsen"] == pytest.approx(100 / (998 + 100))
    assert per.loc[2, "rsq_eaf"] == pytest.approx(2 * 0.05 ** 2 * 0.1 * 0.9)
    s = res["summary"]
    assert s["min_f"] == pytest.approx(25.0) and s["max_f"] == 300.0
    assert s["median_f"] == pytest.approx(100.0)
    assert s["var_f"] == pytest.approx(np.var([100, 300, 25], ddof=1))


def test_simulated_strong_instruments():
    g = np.random.default_rng(42)
    k = 40
    bx = g.uniform(0.02, 0.06, k) * g.choice([-1, 1], k)
    sx = np.full(k, 0.002)
    res = instrument_strength(bx, sx, sy=np.full(k, 0.01), n=100_000)
    s = res["summary"]
    assert s["min_f"] > 10
    assert s["i2gx"] > 0.9  # strong, heterogeneous |bx|: little regression dilution
    assert s["i2gx_noabs"] > s["i2gx"]  # signed effects are more spread out
    r2 = np.sum((bx / sx) ** 2 / (100_000 - 2 + (bx / sx) ** 2))
    assert s["f_total_from_rsq"] == pytest.approx(r2 * (100_000 - k - 1) / ((1 - r2) * k))
