"""mrbook batch with the estimators beyond the paper (issue 18) in its ``methods``.

A batch runs :func:`mrbook.analysis.run_mr` on each pair's harmonised rows, so
any registered key works there; this checks it end to end on a small SIMULATED
phenome (2 exposures x 1 outcome, 15 loci): every requested method has a row
per pair, equal to ``run_mr`` on that pair's harmonised instruments (read back
from harmonised.parquet) to a relative 1e-12 (the same function on the same
rows; robust IVW/Egger reseed R's generator at the run's seed for every pair,
so their lmrob subsamples are the same too), and robust MR-Egger's intercept
fields travel into results.parquet.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mrbook.analysis import run_mr
from mrbook.batch import load_results, run_batch
from mrbook.estimators import METHODS, Params

BEYOND = ["mr_raps", "mr_divw", "mr_ivw_penalised", "mr_ivw_robust", "mr_egger_robust"]

PARAMS = f"""\
# batch test: the paper's IVW and the estimators beyond the paper
methods: [mr_ivw, {", ".join(BEYOND)}]
nboot: 100
seed: 1234
presso_n_distribution: 0
"""


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    from mrbook.data import phenome as ph

    root = tmp_path_factory.mktemp("beyond")
    phen = ph.generate(root / "ph", exposures=2, outcomes=1, seed=11, loci=15)
    params_file = root / "batch.yaml"
    params_file.write_text(PARAMS)
    res = run_batch(phen["manifest"], root / "out", params_file=params_file, workers=0,
                    progress=False)
    return res


def test_batch_runs_the_extended_estimators_as_run_mr(batch):
    assert batch.exit_code == 0
    res = load_results(Path(batch.out))
    results, harm = res["results"], res["harmonised"]
    pairs = results[["id_exposure", "id_outcome"]].drop_duplicates()
    assert len(pairs) == 2
    names = {METHODS[k].name for k in ["mr_ivw"] + BEYOND}
    for ide, ido in pairs.itertuples(index=False):
        got = results[(results["id_exposure"] == ide) & (results["id_outcome"] == ido)]
        assert set(got["method"]) == names
        dat = harm[(harm["id.exposure"] == ide) & (harm["id.outcome"] == ido)]
        ref = run_mr(dat, ["mr_ivw"] + BEYOND, params=Params(nboot=100), seed=1234)
        for _, r in ref.iterrows():
            g = got.set_index("method").loc[r["method"]]
            assert g["nsnp"] == r["nsnp"]
            for k in ("b", "se", "pval"):
                assert g[k] == pytest.approx(r[k], rel=1e-12, abs=0), (r["method"], k)
        egger = got.set_index("method").loc["Robust MR-Egger"]
        want = ref.set_index("method").loc["Robust MR-Egger"]
        for k in ("intercept", "intercept_se", "intercept_pval"):
            assert np.isfinite(egger[k]) and egger[k] == pytest.approx(want[k], rel=1e-12, abs=0)
        # the other methods' rows carry no intercept
        assert got.set_index("method").drop("Robust MR-Egger")["intercept"].isna().all()
