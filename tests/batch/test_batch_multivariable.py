"""mrbook batch: manifest rows that join several exposures with '+' (issue 17's batch bullet).

A '+' row is one multivariable analysis. The batch calls the function ``mrbook mvmr
--exposures A+B --outcome O`` calls (:func:`mrbook.multivariable.mvmr_from_sources`) with the
same settings, so its numbers must be *equal* to the command's, bootstrap SEs of the
weighted median included (the same seed and generator): the test compares with ``==``, no
tolerance. The data are the demo's SIMULATED multivariable extension (``demo-mv:``).
"""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal

from mrbook.batch import load_results, run_batch
from mrbook.cli.main import main

EXPOSURES = ["demo-mv:hypothyroidism", "demo-mv:hyperthyroidism", "demo-mv:hashimoto"]
MV_ROW = "+".join(EXPOSURES) + ",demo-mv:osteoporosis"
UNI_ROW = "demo-mv:hashimoto,demo-mv:osteoporosis"
RUN = {"nboot": 50, "presso_n_distribution": 0, "methods": ["mr_ivw", "mr_egger_regression"]}


@pytest.fixture
def cache(demo_root, monkeypatch):
    monkeypatch.setenv("MRBOOK_CACHE", str(demo_root))
    monkeypatch.delenv("OPENGWAS_JWT", raising=False)
    return demo_root


@pytest.fixture
def both_rows(cache, tmp_path_factory):
    """A batch of one '+' row and one univariable row of the same demo-mv data, in one process."""
    folder = tmp_path_factory.mktemp("mvbatch")
    man = folder / "m.csv"
    man.write_text(f"exposure,outcome\n{MV_ROW}\n{UNI_ROW}\n")
    res = run_batch(man, folder / "out", run=RUN, workers=0, progress=False)
    return man, res


def test_a_plus_row_equals_mrbook_mvmr(both_rows, tmp_path, capsys):
    _, res = both_rows
    assert res.exit_code == 0 and res.summary["pairs_done_total"] == 2
    assert res.summary["simulated"] is True
    out = tmp_path / "mv.json"
    assert main(["mvmr", "--exposures", "+".join(EXPOSURES), "--outcome", "demo-mv:osteoporosis",
                 "--json", str(out)]) == 0
    capsys.readouterr()
    one = json.loads(out.read_text())
    tabs = load_results(res.out)
    mv = tabs["mvmr"]
    assert len(mv) == 3 * 4 and mv["pair_id"].nunique() == 1 and (mv["row"] == 1).all()
    assert (mv["status"] == "ok").all()
    assert mv["exposures"].iloc[0] == "demo-mv-hypothyroidism+demo-mv-hyperthyroidism+demo-mv-hashimoto"
    assert not mv.duplicated(["pair_id", "id_exposure", "method"]).any()
    got = mv.set_index(["id_exposure", "method"])
    for r in one["mvmr"]:
        g = got.loc[(r["id.exposure"], r["method"])]
        assert (g["nsnp"], g["b"], g["se"], g["pval"]) == (r["nsnp"], r["b"], r["se"], r["pval"])
    f = {r["id.exposure"]: r["conditional_F"] for r in one["strength"]}
    assert dict(zip(mv["id_exposure"], mv["conditional_f"])) == f
    het = tabs["mv_heterogeneity"].iloc[0]
    assert (het["q"], het["q_df"], het["q_pval"]) == (one["heterogeneity"]["Q"],
                                                      one["heterogeneity"]["Q_df"],
                                                      one["heterogeneity"]["Q_pval"])
    assert het["egger_intercept"] == one["pleiotropy"]["egger_intercept"]
    assert het["nsnp"] == len(one["snps"])
    # every SNP that left the analysis, with the same step and reason
    ex = tabs["exclusions"]
    ex = ex[ex["exposure"].str.contains(" + ", regex=False)]
    assert sorted(zip(ex["snp"], ex["step"], ex["reason"])) == \
        sorted((e["SNP"], e["step"], e["reason"]) for e in one["excluded"])
    # the pair's row: SNP counts of the selection
    pairs = tabs["pairs"].set_index("row")
    assert pairs.loc[1, "status"] == "done" and pairs.loc[1, "final"] == len(one["snps"])
    assert pairs.loc[1, "id_exposure"] == mv["exposures"].iloc[0]
    # Benjamini-Hochberg per method over the multivariable rows
    from scipy.stats import false_discovery_control

    for _, g in mv.groupby("method"):
        assert g["pval_fdr"].tolist() == pytest.approx(
            false_discovery_control(g["pval"].to_numpy(), method="bh").tolist(), rel=1e-15)


def test_demo_mv_sources_run_in_a_univariable_row(both_rows):
    from mrbook.analysis import run_mr
    from mrbook.estimators import Params
    from mrbook.instruments import select_instruments

    _, res = both_rows
    r = load_results(res.out)["results"]
    assert set(r["id_exposure"]) == {"demo-mv-hashimoto"}
    ins = select_instruments("demo-mv:hashimoto", "demo-mv:osteoporosis")
    ref = run_mr(ins.harmonised, methods=RUN["methods"], params=Params(nboot=50), seed=1234)
    assert r["b"].tolist() == ref["b"].tolist() and r["se"].tolist() == ref["se"].tolist()


def test_a_plus_row_resumes(both_rows, tmp_path):
    """Run the '+' row alone, then the whole manifest: the '+' row is skipped as done and the
    final tables equal those of the batch run at once."""
    man, whole = both_rows
    first = tmp_path / "m1.csv"
    first.write_text(f"exposure,outcome\n{MV_ROW}\n")
    out = tmp_path / "out"
    r1 = run_batch(first, out, run=RUN, workers=0, progress=False)
    assert r1.summary["pairs_done_total"] == 1 and len(load_results(out)["mvmr"]) == 12
    # the full manifest, from the manifest's own folder (relative sources are the same)
    r2 = run_batch(man, out, run=RUN, workers=0, progress=False)
    assert r2.summary["pairs_skipped_done"] == 1 and r2.summary["pairs_run"] == 1
    assert r2.summary["pairs_done_total"] == 2
    a, b = load_results(whole.out), load_results(out)
    for name in ("mvmr", "mv_heterogeneity", "results"):
        assert_frame_equal(a[name], b[name], check_exact=True)
    # and a third run has nothing to do
    r3 = run_batch(man, out, run=RUN, workers=0, progress=False)
    assert r3.summary["pairs_skipped_done"] == 2 and r3.summary["pairs_run"] == 0
    assert_frame_equal(load_results(out)["mvmr"], a["mvmr"], check_exact=True)


def test_a_plus_row_on_dask_gives_the_serial_tables(both_rows, tmp_path):
    from distributed import Client, LocalCluster

    man, serial = both_rows
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.CRITICAL) as cluster, Client(cluster) as client:
        res = run_batch(man, tmp_path / "out", run=RUN, client=client, progress=False)
    assert res.exit_code == 0
    a, b = load_results(serial.out), load_results(res.out)
    for name in ("mvmr", "mv_heterogeneity", "results", "pairs"):
        assert_frame_equal(a[name], b[name], check_exact=True)


def test_a_failing_plus_row_fails_alone(cache, tmp_path):
    """An OpenGWAS exposure without a token: the row's one-line error, the other rows go on."""
    man = tmp_path / "m.csv"
    man.write_text(f"exposure,outcome\n{UNI_ROW}\n"
                   "demo-mv:hashimoto+ieu-a-300,demo-mv:osteoporosis\n")
    res = run_batch(man, tmp_path / "out", run=RUN, workers=0, progress=False)
    assert res.exit_code == 1 and res.summary["pairs_failed"] == 1
    err = pd.read_csv(tmp_path / "out" / "errors.csv")
    assert err["row"].tolist() == [2] and err["step"].tolist() == ["multivariable"]
    assert "OPENGWAS_JWT" in err["message"].iloc[0] and "\n" not in err["message"].iloc[0]
    assert "mvmr" not in load_results(tmp_path / "out")


@pytest.mark.parametrize("source, ok", [
    ("demo-mv:hypothyroidism", True), ("demo-mv:osteoporosis", True), ("demo:hashimoto", True),
    ("demo-mv:goitre", False), ("demo-mv:", False),
])
def test_source_kind_accepts_demo_mv(source, ok):
    from mrbook import params
    from mrbook.errors import ParameterError

    if ok:
        assert params.source_kind(source) == "demo"
        v = params.validate({"exposures": {"X": source}}, partial=True)
        assert v["exposures"] == {"X": source}
    else:
        with pytest.raises(ParameterError, match="unknown demo trait .* demo-mv:hashimoto"):
            params.source_kind(source)


# ----------------------------------------------------------------------------- random manifests


#: cells an adversary (or a spreadsheet) puts in a manifest
MANIFEST_CELLS = st.one_of(
    st.sampled_from(["", " ", "demo:hashimoto", "demo:osteoporosis", "demo-mv:hashimoto",
                     "demo-mv:hypo", "demo:goitre", "demo-mv:", "demo:", "a+b", "+", "demo-mv:ht+",
                     "demo-mv:hashimoto+demo-mv:hypothyroidism", "demo-mv:ht+demo-mv:hashimoto",
                     "x.tsv", "./x.tsv", "x.tsv+x.tsv", "missing.vcf.gz", "ieu-a-300",
                     "ebi-a-GCST90018862+demo-mv:ht", "sub", "sub/", "/dev/null", '"', "\x00",
                     "\ufeff", "a,b", "Hypo+Hyper"]),
    st.text(max_size=15),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.lists(st.sampled_from(["exposure", "outcome", "exposure_name", "outcome_name",
                                        "weight", ""]), max_size=5),
       rows=st.lists(st.lists(MANIFEST_CELLS, max_size=5), max_size=5),
       eol=st.sampled_from(["\n", "\r\n"]))
def test_random_manifests_give_pairs_or_one_clean_error(tmp_path, header, rows, eol):
    """read_manifest + check_ids (what the batch runs before any work): pairs, or one line."""
    import csv
    import io

    from mrbook.batch import read_manifest
    from mrbook.batch.plan import check_ids
    from mrbook.errors import InputError

    (tmp_path / "x.tsv").write_text("SNP\tbeta\n")
    (tmp_path / "sub").mkdir(exist_ok=True)
    buf = io.StringIO()
    csv.writer(buf, lineterminator=eol).writerows([header, *rows])
    man = tmp_path / "m.csv"
    man.write_text(buf.getvalue(), encoding="utf-8", errors="surrogatepass")
    try:
        pairs = read_manifest(man)
        check_ids(pairs, man)
    except InputError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(str(man))
        return
    for p in pairs:
        assert p.exposure and p.outcome and (not p.exposures or len(p.exposures) >= 2)
        assert len(set(p.exposures)) == len(p.exposures)
