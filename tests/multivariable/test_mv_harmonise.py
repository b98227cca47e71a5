"""TwoSampleMR's long exposure table + outcome (input b), harmonised as ``mv_harmonise_data``.

No R output of these files is stored in ../shared. The reference is TwoSampleMR's
own "perform_mr" vignette, which runs ``mv_harmonise_data(mv_exposure_dat,
mv_outcome_dat)`` and ``mv_multiple(mvdat)`` on exactly these objects
(``vig_perform_mr.RData``, see ../shared/data/PROVENANCE.md) and prints::

    id.exposure  nsnp           b         se         pval
    ieu-a-299      79 -0.08919724 0.05970552 1.351879e-01
    ieu-a-300      68  0.37853543 0.04976846 2.828614e-14
    ieu-a-302      42  0.13584165 0.06738291 4.380354e-02

(MRCIEU/TwoSampleMR, rendered vignette perform_mr.md). The numbers are printed to
7 significant digits, so they are compared to half a unit of their last digit.
The SNP set is checked against the algorithm of ``mv_harmonise_data``
(R/multivariable_mr.R) computed independently here with :func:`mrbook.harmonise`;
the code path is the one the lipids_mv reference checks (test_mv_estimators.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import SHARED, SKIP_SHARED
from mrbook.data.tsmr import read_tsmr
from mrbook.errors import InputError
from mrbook.harmonise import harmonise
from mrbook.multivariable import mv_harmonise, read_mv_exposures, read_mv_harmonised, run_mvmr

EX = SHARED / "data" / "examples" / "twosamplemr"
EXP, OUT = EX / "vig_mv_exposure_dat_lipids.csv", EX / "vig_mv_outcome_dat_chd.csv"
VIGNETTE = {"ieu-a-299": (79, "-0.08919724", "0.05970552", "1.351879e-01"),
            "ieu-a-300": (68, "0.37853543", "0.04976846", "2.828614e-14"),
            "ieu-a-302": (42, "0.13584165", "0.06738291", "4.380354e-02")}
pytestmark = pytest.mark.skipif(not EXP.is_file(), reason=SKIP_SHARED)


def half_unit(text: str) -> float:
    """Half a unit in the last printed digit of a number printed by R."""
    mant, _, exp = text.lower().partition("e")
    decimals = len(mant.split(".")[1]) if "." in mant else 0
    return 0.5 * 10.0 ** (-decimals) * 10.0 ** (int(exp) if exp else 0)


@pytest.fixture(scope="module")
def mvdat():
    return read_mv_harmonised(EXP, OUT)


def test_mv_multiple_equals_the_twosamplemr_vignette(mvdat):
    res = run_mvmr(mvdat, ["mv_multiple"])
    got = res.mvmr.set_index("id_exposure")
    for e, (nsnp, b, se, p) in VIGNETTE.items():
        assert got.loc[e, "nsnp"] == nsnp
        for field, text in (("b", b), ("se", se), ("pval", p)):
            assert abs(got.loc[e, field] - float(text)) <= half_unit(text), (e, field)


def test_the_snp_set_is_mv_harmonise_data_s(mvdat):
    exp, out = read_tsmr(EXP, "exposure"), read_tsmr(OUT, "outcome")
    counts = exp["SNP"].value_counts()
    complete = set(counts.index[counts == 3])                     # table(SNP) == nexp
    first = exp["id.exposure"].iloc[0]
    h = harmonise(exp[(exp["id.exposure"] == first) & exp["SNP"].isin(complete)], out)
    expected = set(h.loc[h["mr_keep"], "SNP"])
    assert set(mvdat.snps) == expected and mvdat.n == 143 == len(complete) - 1
    assert mvdat.exposures == ["ieu-a-299", "ieu-a-300", "ieu-a-302"]    # dcast's column order
    assert mvdat.meta["harmonised_to"] == "ieu-a-299"
    # the one SNP lost, with its reason
    assert mvdat.exclusions[["snp", "step", "reason"]].values.tolist() == [
        ["rs2247056", "missing_in_outcome", "absent from outcome data"]]
    # the outcome betas are harmonised to the first exposure's effect allele
    hh = h[h["mr_keep"]].set_index("SNP")
    assert np.array_equal(mvdat.by, hh.loc[mvdat.snps, "beta.outcome"].to_numpy(float))


def test_swapped_alleles_of_another_exposure_are_turned(mvdat, tmp_path):
    exp = pd.read_csv(EXP)
    rows = (exp["id.exposure"] == "ieu-a-302") & (exp.index % 2 == 0)
    ea = exp.loc[rows, "effect_allele.exposure"].copy()
    exp.loc[rows, "effect_allele.exposure"] = exp.loc[rows, "other_allele.exposure"]
    exp.loc[rows, "other_allele.exposure"] = ea
    exp.loc[rows, "beta.exposure"] = -exp.loc[rows, "beta.exposure"]
    exp.loc[rows, "eaf.exposure"] = 1 - exp.loc[rows, "eaf.exposure"]
    p = tmp_path / "exp.csv"
    exp.to_csv(p, index=False)
    d = read_mv_harmonised(p, OUT)
    assert d.snps == mvdat.snps and np.array_equal(d.bx, mvdat.bx)
    assert any("turned" in n for n in d.meta["notes"])


def test_unmatched_alleles_and_incomplete_snps_are_dropped_with_reasons(tmp_path):
    exp = pd.read_csv(EXP)
    i = exp.index[(exp["id.exposure"] == "ieu-a-300") & (exp["SNP"] == "rs103294")][0]
    exp.loc[i, ["effect_allele.exposure", "other_allele.exposure"]] = ["A", "C"]  # was T/C
    exp = exp.drop(exp.index[(exp["id.exposure"] == "ieu-a-302") & (exp["SNP"] == "rs10019888")])
    p = tmp_path / "exp.csv"
    exp.to_csv(p, index=False)
    d = read_mv_harmonised(p, OUT)
    ex = d.exclusions.set_index("snp")
    assert ex.loc["rs103294", "step"] == "exposure_alleles"
    assert "do not match" in ex.loc["rs103294", "reason"]
    assert ex.loc["rs10019888", "step"] == "missing_in_exposure"
    assert "ieu-a-302" in ex.loc["rs10019888", "reason"]
    assert d.n == 141 and "rs103294" not in d.snps


def test_one_exposure_is_an_error(tmp_path):
    exp = pd.read_csv(EXP)
    p = tmp_path / "one.csv"
    exp[exp["id.exposure"] == "ieu-a-299"].to_csv(p, index=False)
    with pytest.raises(InputError, match="at least two exposures"):
        read_mv_harmonised(p, OUT)


def test_a_table_without_id_exposure_is_an_error(tmp_path):
    p = tmp_path / "noid.csv"
    pd.read_csv(EXP).drop(columns=["id.exposure"]).to_csv(p, index=False)
    with pytest.raises(InputError, match="column 'id.exposure'"):
        read_mv_exposures(p)


def test_harmonised_from_frames_equals_from_files(mvdat):
    d = mv_harmonise(read_mv_exposures(EXP), read_tsmr(OUT, "outcome"))
    assert d.snps == mvdat.snps and np.array_equal(d.by, mvdat.by)
