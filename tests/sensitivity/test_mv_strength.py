"""Conditional F and Q of multivariable MR against the MVMR package (0.4.6, gencov = 0).

Reference: ../shared/reference/lipids_mv/mvmr.json (EXTENDED.md). Both statistics
are closed forms of least-squares fits; relative 1e-10 (measured ~1e-15).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import REFERENCE, SKIP_SHARED
from mrbook.estimators.multivariable import mv_multiple
from mrbook.sensitivity.multivariable import conditional_f, mv_q_statistic

CASE = REFERENCE / "lipids_mv"
EXPOSURES = ["ldlc", "hdlc", "trig"]


@pytest.fixture(scope="module")
def lipids():
    if not CASE.is_dir():
        pytest.skip(SKIP_SHARED)
    d = pd.read_csv(CASE / "lipids_mv.csv")
    return (d[[f"beta.{e}" for e in EXPOSURES]].to_numpy(), d["beta.outcome"].to_numpy(),
            d[[f"se.{e}" for e in EXPOSURES]].to_numpy(), d["se.outcome"].to_numpy())


def mvmr() -> dict:
    return json.loads((CASE / "mvmr.json").read_text())["results"]


def test_conditional_f_equals_strength_mvmr(lipids):
    bx, by, sx, sy = lipids
    want = [mvmr()["strength_mvmr"]["value"][0][f"exposure{i}"] for i in (1, 2, 3)]
    np.testing.assert_allclose(conditional_f(bx, sx), want, rtol=1e-10, atol=0)
    # the legacy mvmr() prints the same statistics before dividing by the number of SNPs
    q = mvmr()["mvmr_legacy"]["value"]["Q_strength"][0]
    np.testing.assert_allclose(conditional_f(bx, sx) * len(by), [q[f"exposure{i}"] for i in (1, 2, 3)],
                               rtol=1e-10, atol=0)


def test_q_statistic_equals_pleiotropy_mvmr(lipids):
    bx, by, sx, sy = lipids
    got = mv_q_statistic(bx, by, sx, sy)
    v = mvmr()["pleiotropy_mvmr"]["value"]
    np.testing.assert_allclose([got["Q"], got["Q_pval"]], [v["Qstat"], v["Qpval"]], rtol=1e-10)
    assert got["Q_df"] == 24                     # "46.72664 on 24 DF": n - k - 1, as MVMR


def test_ivw_mvmr_is_the_same_fit(lipids):
    bx, by, sx, sy = lipids
    rows = mvmr()["ivw_mvmr"]["value"]["rows"]  # Estimate, Std. Error, t value, Pr(>|t|)
    got = mv_multiple(bx, by, sy, sx=sx)
    np.testing.assert_allclose(got["b"], [r[0] for r in rows], rtol=1e-10)
    np.testing.assert_allclose(got["se"], [r[1] for r in rows], rtol=1e-10)


def test_conditional_f_needs_two_exposures():
    with pytest.raises(ValueError, match="at least two exposures"):
        conditional_f(np.ones((5, 1)), np.ones((5, 1)))


def test_exposures_predicted_by_the_others_are_weak():
    # x1 and x2 nearly collinear: strong alone (mean z^2 = 100), weak given each other
    rng = np.random.default_rng(2)
    x1 = rng.normal(0, 0.1, 50)
    x2 = 0.8 * x1 + rng.normal(0, 0.002, 50)
    x3 = rng.normal(0, 0.1, 50)
    sx = np.full((50, 3), 0.01)
    f = conditional_f(np.column_stack([x1, x2, x3]), sx)
    assert np.mean((x1 / 0.01) ** 2) > 50
    assert f[0] < 10 and f[1] < 10 and f[2] > 50
