"""mrbook batch: the same numbers as one pair at a time, on every engine, through faults.

The phenome is a small simulated one (3 exposures x 2 outcomes, 12 loci each, nboot
100: the machine has 2 shared cores); one LocalCluster of 2 worker processes serves
the session and is closed at its end.
Equality with ``mrbook instruments`` + ``mrbook mr`` is exact in practice (the batch
calls the same functions on the same rows); the tests allow a relative 1e-12 for
deterministic numbers, as the issue asks, and require the bootstrap SEs to be equal.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from scipy.stats import false_discovery_control

from mrbook.batch import bh_fdr, load_results, read_manifest, run_batch
from mrbook.batch import store
from mrbook.batch.tasks import ChunkResult
from mrbook.cli.main import main
from mrbook.errors import InputError, ParameterError


#: the batch parameters of these tests (the schema of mrbook build)
PARAMS = """\
# batch tests: the paper's methods, fewer bootstrap draws
methods: [mr_egger_regression, mr_weighted_median, mr_ivw, mr_simple_mode, mr_weighted_mode]
nboot: 100
seed: 1234
presso_n_distribution: 0
"""


@pytest.fixture(scope="module")
def phenome(tmp_path_factory) -> dict:
    """A SIMULATED phenome: 3 exposures x 2 outcomes = 6 pairs (paths of generate())."""
    from mrbook.data import phenome as ph

    return ph.generate(tmp_path_factory.mktemp("phenome") / "ph", exposures=3, outcomes=2, seed=7,
                       loci=12)


@pytest.fixture(scope="module")
def params_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("params") / "batch.yaml"
    p.write_text(PARAMS)
    return p


@pytest.fixture(scope="module")
def serial_run(phenome, params_file, tmp_path_factory):
    """The phenome's batch in one process (no Dask): the reference of the other engines."""
    from mrbook.batch import run_batch

    out = tmp_path_factory.mktemp("serial") / "out"
    res = run_batch(phenome["manifest"], out, params_file=params_file, workers=0,
                    progress=False)
    return res


@pytest.fixture(scope="module")
def dask_client():
    """A LocalCluster of 2 worker processes (nannies, so a killed worker is restarted)."""
    from distributed import Client, LocalCluster

    os.environ.pop("OPENGWAS_JWT", None)
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.CRITICAL)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


TABLES = ("results", "heterogeneity", "pleiotropy", "exclusions", "harmonised", "pairs")
PAPER = "mr_egger_regression,mr_weighted_median,mr_ivw,mr_simple_mode,mr_weighted_mode"


def _same_tables(a: Path, b: Path) -> None:
    """Two batch folders hold the same final tables, value for value and byte for byte."""
    for name in TABLES:
        ta, tb = pd.read_parquet(a / f"{name}.parquet"), pd.read_parquet(b / f"{name}.parquet")
        assert_frame_equal(ta, tb, check_exact=True)
        assert (a / f"{name}.parquet").read_bytes() == (b / f"{name}.parquet").read_bytes(), name
    assert (a / "errors.csv").read_text() == (b / "errors.csv").read_text()


def _chunk_pairs(out: Path) -> pd.DataFrame:
    frames = [pd.read_parquet(d / "pairs.parquet").assign(chunk=d.name)
              for d in sorted((out / "chunks").iterdir()) if d.name.startswith("r")]
    return pd.concat(frames, ignore_index=True)


# ----------------------------------------------------------------------------- one process

def test_serial_batch_runs_every_pair_once(serial_run, phenome):
    s = serial_run.summary
    assert serial_run.exit_code == 0
    assert (s["pairs_planned"], s["pairs_done_total"], s["pairs_failed"]) == (6, 6, 0)
    assert s["simulated"] is True and s["engine"].startswith("serial")
    res = load_results(serial_run.out)
    r = res["results"]
    assert len(r) == 6 * 5
    assert not r.duplicated(["id_exposure", "id_outcome", "method"]).any()
    assert set(r["method"]) == {"MR Egger", "Weighted median", "Inverse variance weighted",
                                "Simple mode", "Weighted mode"}
    for col in ("id_exposure", "id_outcome", "exposure", "outcome", "method", "nsnp", "b", "se",
                "pval", "or", "or_lci95", "or_uci95", "pval_fdr"):
        assert col in r.columns
    np.testing.assert_allclose(r["or"], np.exp(r["b"]), rtol=1e-15)
    assert len(res["heterogeneity"]) == 12 and len(res["pleiotropy"]) == 6
    assert res["errors"].empty
    # every exclusion with its step and reason, for every pair
    ex = res["exclusions"]
    assert set(ex["step"]) >= {"clumping", "palindromic", "confounder"}
    assert ex["reason"].str.len().min() > 0
    # the names of the manifest
    man = pd.read_csv(phenome["manifest"])
    assert set(r["exposure"]) == set(man["exposure_name"])


def test_each_file_is_read_once(phenome, params_file, tmp_path, monkeypatch):
    """E exposure files and O outcome files are read once each: the pairs read nothing."""
    from mrbook.data import readers

    calls = []
    real = readers.read_sumstats

    def counting(path, *a, **k):
        calls.append(Path(path).name)
        return real(path, *a, **k)

    monkeypatch.setattr(readers, "read_sumstats", counting)
    res = run_batch(phenome["manifest"], tmp_path / "out", params_file=params_file, workers=0,
                    progress=False)
    assert sorted(calls) == ["x01.vcf.gz", "x02.tsv.gz", "x03.csv.gz", "y1.tsv.gz", "y2.tsv.gz"]
    reads = res.summary["file_reads"]
    assert (reads["exposure_files"], reads["outcome_files"]) == (3, 2)
    assert (reads["per_exposure"], reads["per_outcome"]) == (1.0, 1.0)


def test_an_exposures_brief_names_its_candidates_and_their_proxies(phenome, params_file):
    """The outcome tasks read the briefs, not the exposures' tables: a brief's rsIDs are the
    exposure's kept candidates and every LD proxy found for them, and its counts are the
    result's."""
    from mrbook.batch import plan as P, tasks as T

    settings = P.make_settings(P.load_parameters(params_file), phenome["manifest"])
    work = P.plan(P.read_manifest(phenome["manifest"]), settings, 50)
    for key, job in work.exposures.items():
        res = T.exposure_task(job, settings)
        b = T.brief(res)
        assert res.failure is None and res.proxies is not None and len(res.proxies)
        want = set(map(str, res.selection.kept)) | set(res.proxies["proxy"].astype(str))
        assert b.needed == tuple(sorted(want))
        assert (b.key, b.failure, b.reads, b.seconds) == (key, None, 1, res.seconds)
    bad = T.exposure_task(P.ExposureJob("k", str(phenome["manifest"].parent / "missing.tsv"),
                                        None, None), settings)
    assert bad.failure is not None and bad.failure.step == "source"
    assert T.brief(bad).failure == bad.failure and T.brief(bad).needed == ()


@pytest.mark.parametrize("row", [1, 5])
def test_each_pair_equals_the_single_pair_commands(serial_run, phenome, row, tmp_path):
    """`mrbook instruments` + `mrbook mr` on one pair give the batch's rows of that pair."""
    pair = next(p for p in read_manifest(phenome["manifest"]) if p.row == row)
    folder = Path(phenome["manifest"]).parent
    inst = tmp_path / "inst"
    assert main(["instruments", "--exposure", pair.exposure, "--outcome", pair.outcome,
                 "--out", str(inst), "--ld-ref", str(folder / "ld_panel" / "phenome"),
                 "--confounders", str(phenome["confounders"]), "--confounder-traits",
                 "body mass index,smoking,vitamin d,type 2 diabetes,rheumatoid arthritis"]) == 0
    assert main(["mr", str(inst / "harmonised.csv"), "--json", str(tmp_path / "mr.json"),
                 "--seed", "1234", "--nboot", "100", "--methods", PAPER]) == 0
    one = json.loads((tmp_path / "mr.json").read_text())
    res = load_results(serial_run.out)
    ide, ido = Path(pair.exposure).name.split(".")[0], Path(pair.outcome).name.split(".")[0]

    def rows(name):
        t = res[name]
        e, o = ("id.exposure", "id.outcome") if name == "harmonised" else ("id_exposure",
                                                                            "id_outcome")
        return t[(t[e] == ide) & (t[o] == ido)]

    mr = rows("results").set_index("method")
    assert len(one["mr"]) == 5
    for m in one["mr"]:
        got = mr.loc[m["method"]]
        assert got["nsnp"] == m["nsnp"]
        for k in ("b", "se", "pval"):  # bootstrap SEs included: the same draws
            assert got[k] == pytest.approx(m[k], rel=1e-12, abs=0)
        assert got["se"] == m["se"]
    het = rows("heterogeneity").set_index("method")
    for h in one["heterogeneity"]:
        assert het.loc[h["method"], "q"] == pytest.approx(h["Q"], rel=1e-12)
        assert het.loc[h["method"], "q_df"] == h["Q_df"]
        assert het.loc[h["method"], "q_pval"] == pytest.approx(h["Q_pval"], rel=1e-12)
    ple = rows("pleiotropy").iloc[0]
    assert ple["egger_intercept"] == pytest.approx(one["pleiotropy"]["egger_intercept"], rel=1e-12)
    assert ple["pval"] == pytest.approx(one["pleiotropy"]["pval"], rel=1e-12)
    # the same SNPs left the pair, at the same steps, for the same reasons
    ex_cli = pd.read_csv(inst / "exclusions.csv")
    ex_b = rows("exclusions")
    assert sorted(zip(ex_cli["snp"], ex_cli["step"], ex_cli["reason"])) == \
        sorted(zip(ex_b["snp"], ex_b["step"], ex_b["reason"]))
    harm_cli = pd.read_csv(inst / "harmonised.csv")
    assert rows("harmonised")["SNP"].tolist() == harm_cli["SNP"].tolist()


def test_demo_sources_run_as_select_instruments(tmp_path, demo_root, monkeypatch):
    """demo:<trait> sources take the demo's panel and association table, as one pair does."""
    from mrbook.analysis import run_mr
    from mrbook.estimators import Params
    from mrbook.instruments import select_instruments

    monkeypatch.setenv("MRBOOK_CACHE", str(demo_root))
    man = tmp_path / "m.csv"
    man.write_text("exposure,outcome\ndemo:hashimoto,demo:osteoporosis\n")
    res = run_batch(man, tmp_path / "out", run={"nboot": 100, "presso_n_distribution": 0},
                    workers=0, progress=False)
    assert res.exit_code == 0 and res.summary["simulated"] is True
    ins = select_instruments("demo:hashimoto", "demo:osteoporosis", cache_dir=demo_root)
    ref = run_mr(ins.harmonised, methods=PAPER.split(","), params=Params(nboot=100), seed=1234)
    got = load_results(res.out)["results"]
    assert got["nsnp"].tolist() == ref["nsnp"].tolist() == [10] * 5
    assert got["b"].tolist() == ref["b"].tolist() and got["se"].tolist() == ref["se"].tolist()


# ----------------------------------------------------------------------------- FDR

def test_fdr_is_benjamini_hochberg_per_method(serial_run):
    r = load_results(serial_run.out)["results"]
    for method, g in r.groupby("method"):
        np.testing.assert_allclose(g["pval_fdr"], false_discovery_control(g["pval"], method="bh"),
                                   rtol=0, atol=0)


def test_bh_fdr_leaves_out_methods_that_did_not_run():
    rng = np.random.default_rng(3)
    p = rng.uniform(0, 1, 40) ** 3
    t = pd.DataFrame({"method": ["a", "b"] * 20, "pval": p})
    t.loc[[3, 8], "pval"] = np.nan  # a method not run for two pairs
    q = bh_fdr(t)
    assert q.isna().tolist() == t["pval"].isna().tolist()
    for m in ("a", "b"):
        ok = (t["method"] == m) & t["pval"].notna()
        np.testing.assert_array_equal(q[ok], false_discovery_control(t.loc[ok, "pval"],
                                                                     method="bh"))


def _families(rng):
    """P-value families for the BH comparison: random sizes and shapes, ties, 0 and 1."""
    for m in (2, 3, 5, 10, 37, 200, 1000, 2000):
        yield rng.uniform(0, 1, m)
        yield rng.uniform(0, 1, m) ** 8                     # many small P, as MR gives
        yield rng.choice([0.0, 1e-300, 1e-8, 0.01, 0.05, 0.5, 1.0], m)  # ties, 0 and 1
        yield np.round(rng.uniform(0, 1, m), 2)             # ties everywhere
        yield np.full(m, rng.uniform())                      # one value m times
        p = rng.uniform(0, 1, m)
        p[rng.integers(0, m, max(1, m // 4))] = 0.0
        p[rng.integers(0, m, max(1, m // 4))] = 1.0
        yield p
    yield np.array([0.3])                                   # a single value
    yield np.array([], dtype=float)
    yield np.array([5e-324, 1.0, 0.0, 2.2250738585072014e-308])   # subnormals and limits


def test_bh_adjust_is_scipys_false_discovery_control_bit_for_bit():
    rng = np.random.default_rng(20261205)
    for p in _families(rng):
        want = false_discovery_control(p, method="bh")
        got = store.bh_adjust(p)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.tobytes() == want.tobytes(), p
        assert p.tobytes() == p.copy().tobytes()  # the input is left as it was
    for bad in ([0.1, np.nan], [0.2, 1.5], [-0.1, 0.3]):  # scipy refuses them too
        with pytest.raises(ValueError):
            false_discovery_control(np.array(bad), method="bh")
        with pytest.raises(ValueError):
            store.bh_adjust(np.array(bad))


def test_bh_fdr_equals_scipy_with_nan_and_single_values():
    """bh_fdr per method: NaN and infinite P left out (NaN FDR), a method with one P, ties."""
    rng = np.random.default_rng(11)
    p = np.concatenate([rng.uniform(0, 1, 300) ** 4, [0.0, 1.0, 1.0, 0.0, 0.5, 0.5]])
    t = pd.DataFrame({"method": rng.choice(["ivw", "egger", "median"], len(p)), "pval": p})
    t.loc[[1, 7, 50], "pval"] = np.nan
    t.loc[9, "pval"] = np.inf
    t = pd.concat([t, pd.DataFrame({"method": ["single"], "pval": [0.03]})], ignore_index=True)
    q = bh_fdr(t)
    assert q.isna().tolist() == (~np.isfinite(t["pval"])).tolist()
    for m, g in t.groupby("method"):
        ok = g.index[np.isfinite(g["pval"])]
        want = false_discovery_control(t.loc[ok, "pval"].to_numpy(), method="bh")
        assert q[ok].to_numpy().tobytes() == np.asarray(want, dtype=float).tobytes(), m
    assert q.iloc[-1] == 0.03


def test_the_batch_does_not_import_scipy_stats(phenome, params_file, tmp_path):
    """The Dask client's process (plan, chunks, final tables with their FDR) never imports
    scipy.stats: the final step took ~0.5 s more for it."""
    code = ("import sys\nfrom mrbook.batch import run_batch\n"
            f"res = run_batch({str(phenome['manifest'])!r}, {str(tmp_path / 'out')!r}, "
            f"params_file={str(params_file)!r}, workers=1, progress=False, dashboard=False)\n"
            "assert res.summary['pairs_done_total'] == 6\n"
            "print(sorted(m for m in ('scipy.stats', 'numba') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    assert len(pd.read_parquet(tmp_path / "out" / "results.parquet")["pval_fdr"]) == 30


# ----------------------------------------------------------------------------- Dask

def test_local_cluster_gives_the_serial_results(dask_client, serial_run, phenome, params_file,
                                                tmp_path):
    res = run_batch(phenome["manifest"], tmp_path / "out", params_file=params_file,
                    client=dask_client, chunk_size=2, progress=False)
    assert res.exit_code == 0 and res.summary["pairs_done_total"] == 6
    assert res.summary["workers"] == 2 and res.summary["scheduler"].startswith("tcp://127.0.0.1")
    assert res.summary["chunks_written_by"] == {"workers": 3, "client": 0}
    assert not [p for p in res.out.iterdir() if p.name.startswith(".")]  # the marker is gone
    _same_tables(serial_run.out, res.out)


def test_exposures_grouped_per_task_give_the_serial_results(dask_client, phenome, params_file,
                                                             tmp_path, monkeypatch):
    """On Dask the exposures run a few per task: one task of all three here, while one
    outcome has only one of them (its task reads only that exposure's SNPs)."""
    from mrbook.batch import plan as plan_mod

    rows = pd.read_csv(phenome["manifest"])
    y2 = sorted(rows["outcome"].unique())[1]
    keep = rows[(rows["outcome"] != y2) | (rows["exposure"] == rows["exposure"].min())]
    manifest = phenome["manifest"].parent / "grouped.csv"
    keep.to_csv(manifest, index=False)
    assert len(keep) == 4
    serial = run_batch(manifest, tmp_path / "serial", params_file=params_file, workers=0,
                       progress=False)
    groups = []

    def one_group(keys, workers):
        groups.append(tuple(keys))
        return [tuple(keys)]

    monkeypatch.setattr(plan_mod, "exposure_groups", one_group)
    res = run_batch(manifest, tmp_path / "dask", params_file=params_file, client=dask_client,
                    chunk_size=1, progress=False)
    assert [len(g) for g in groups] == [3]
    assert res.exit_code == 0 and res.summary["pairs_done_total"] == 4
    _same_tables(serial.out, res.out)
    reads = [r.summary["file_reads"]["snps_read_per_outcome"] for r in (serial, res)]
    assert reads[0] == reads[1] and len(set(reads[0].values())) == 2


def test_workers_without_the_folder_send_their_chunks_to_the_client(
        dask_client, serial_run, phenome, params_file, tmp_path, monkeypatch):
    """Workers that do not see the run's marker (another machine's disk) return the tables;
    the client writes them, the same tables."""
    real = store.open_target

    def elsewhere(out, run):
        target = real(out, run)
        return store.ChunkTarget(out=target.out, run=run, marker=target.marker + "-elsewhere")

    monkeypatch.setattr(store, "open_target", elsewhere)
    res = run_batch(phenome["manifest"], tmp_path / "out", params_file=params_file,
                    client=dask_client, chunk_size=2, progress=False)
    assert res.exit_code == 0 and res.summary["chunks_written_by"] == {"workers": 0, "client": 3}
    _same_tables(serial_run.out, res.out)


def test_a_worker_killed_mid_batch(dask_client, serial_run, phenome, params_file, tmp_path):
    """Dask runs the dead worker's tasks again; no pair is lost or written twice."""
    killed = []

    def kill_one(info):
        if not killed:
            pids = dask_client.run(os.getpid)
            victim = sorted(pids.values())[0]
            os.kill(victim, signal.SIGKILL)
            killed.append((victim, info["done"]))

    res = run_batch(phenome["manifest"], tmp_path / "out", params_file=params_file,
                    client=dask_client, chunk_size=1, progress=False, on_chunk=kill_one)
    assert killed and killed[0][1] < 6, "the worker was killed before the batch ended"
    assert res.exit_code == 0 and res.summary["pairs_done_total"] == 6
    assert res.summary["chunks_written_by"] == {"workers": 6, "client": 0}
    chunks = _chunk_pairs(res.out)
    assert len(chunks) == 6 and chunks["pair_key"].is_unique
    _same_tables(serial_run.out, res.out)
    dask_client.wait_for_workers(2, timeout=120)  # the nanny restarts it


@pytest.fixture
def scheduler_and_workers(tmp_path):
    """`dask scheduler` and two `dask worker` processes, started and stopped by the test."""
    exe = Path(sys.executable).parent / "dask"
    sched_file = tmp_path / "scheduler.json"
    env = dict(os.environ)
    env.pop("OPENGWAS_JWT", None)
    procs = [subprocess.Popen([str(exe), "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", str(sched_file)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        t0 = time.time()
        while not sched_file.is_file() and time.time() - t0 < 60:
            time.sleep(0.2)
        for _ in range(2):
            procs.append(subprocess.Popen(
                [str(exe), "worker", "--scheduler-file", str(sched_file), "--nworkers", "1",
                 "--nthreads", "1", "--no-dashboard"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(scheduler_file=str(sched_file), timeout="60s") as c:
            c.wait_for_workers(2, timeout=120)
            address = c.scheduler_info()["address"]
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def test_an_existing_scheduler_gives_the_same_results(scheduler_and_workers, serial_run, phenome,
                                                      params_file, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "mrbook.cli.main", "batch",
                           str(phenome["manifest"]), "--out", str(out), "--params",
                           str(params_file), "--scheduler", scheduler_and_workers,
                           "--no-progress"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    s = json.loads((out / "summary.json").read_text())
    assert s["engine"] == "dask.distributed scheduler" and s["workers"] == 2
    assert s["scheduler"] == scheduler_and_workers
    assert s["chunks_written_by"]["client"] == 0  # the workers share the folder: they wrote
    _same_tables(serial_run.out, out)


# ----------------------------------------------------------------------------- resuming

def test_an_interrupted_batch_resumes(serial_run, phenome, params_file, tmp_path):
    """Ctrl-C after two chunks; the same call again runs only the four pairs not done."""
    seen = []

    def interrupt(info):
        seen.append(info["chunk"])
        if len(seen) == 2:
            raise KeyboardInterrupt

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_batch(phenome["manifest"], out, params_file=params_file, workers=0, chunk_size=1,
                  progress=False, on_chunk=interrupt)
    assert len(_chunk_pairs(out)) == 2 and not (out / "results.parquet").exists()
    res = run_batch(phenome["manifest"], out, params_file=params_file, workers=0, chunk_size=1,
                    progress=False)
    s = res.summary
    assert (s["pairs_skipped_done"], s["pairs_run"], s["pairs_done_total"]) == (2, 4, 6)
    assert _chunk_pairs(out)["pair_key"].is_unique
    _same_tables(serial_run.out, out)
    # and once more: nothing to run, no cluster started, the same tables
    again = run_batch(phenome["manifest"], out, params_file=params_file, progress=False)
    assert (again.summary["pairs_skipped_done"], again.summary["pairs_run"]) == (6, 0)
    assert again.summary["scheduler"] is None
    assert again.summary["tables_rebuilt"] is False
    _same_tables(serial_run.out, out)


def test_a_batch_with_nothing_new_keeps_its_tables(serial_run, phenome, params_file, tmp_path):
    """Run again with nothing to do, the final tables are kept (not rebuilt from every chunk);
    a missing table, another manifest or a new chunk rebuilds them."""
    import shutil

    out = tmp_path / "out"
    shutil.copytree(serial_run.out, out)
    files = sorted(p for p in out.iterdir() if p.is_file() and p.name != "summary.json")
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in files}
    again = run_batch(phenome["manifest"], out, params_file=params_file, workers=0,
                      progress=False)
    s = again.summary
    assert s["tables_rebuilt"] is False and s["pairs_run"] == 0
    for key in ("pairs_planned", "pairs_done_total", "pairs_failed", "pairs_not_run", "rows"):
        assert s[key] == serial_run.summary[key], key
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in files} == before
    # a table deleted by hand: rebuilt, byte for byte as before
    (out / "results.parquet").unlink()
    again = run_batch(phenome["manifest"], out, params_file=params_file, workers=0,
                      progress=False)
    assert again.summary["tables_rebuilt"] is True
    _same_tables(serial_run.out, out)
    # another manifest (a subset of the pairs) in the same folder: its own tables
    sub = tmp_path / "two.csv"
    folder = Path(phenome["manifest"]).parent
    two_rows = pd.read_csv(phenome["manifest"]).iloc[:2]
    for col in ("exposure", "outcome"):
        two_rows[col] = [str(folder / v) for v in two_rows[col]]
    two_rows.to_csv(sub, index=False)
    params = tmp_path / "p.yaml"
    params.write_text(params_file.read_text() + f"ld_ref: {folder / 'ld_panel' / 'phenome'}\n"
                      f"confounder_table: {phenome['confounders']}\n")
    two = run_batch(sub, out, params_file=params, workers=0, progress=False)
    assert two.summary["tables_rebuilt"] is True and two.summary["pairs_planned"] == 2
    assert len(pd.read_parquet(out / "pairs.parquet")) == 2


def test_a_killed_batch_resumes(serial_run, phenome, params_file, tmp_path):
    """The command killed (SIGKILL) after its first chunk, then run again."""
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "mrbook.cli.main", "batch", str(phenome["manifest"]), "--out",
           str(out), "--params", str(params_file), "--workers", "0", "--chunk-size", "1",
           "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while time.time() - t0 < 300 and proc.poll() is None:
        if (out / "chunks").is_dir() and any(d.name.startswith("r")
                                             for d in (out / "chunks").iterdir()):
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the batch finished before it could be killed"
    first = len(_chunk_pairs(out))
    assert 1 <= first < 6
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    s = json.loads((out / "summary.json").read_text())
    assert (s["pairs_skipped_done"], s["pairs_run"]) == (first, 6 - first)
    assert not [d for d in (out / "chunks").iterdir() if not d.name.startswith("r")]
    _same_tables(serial_run.out, out)


def test_other_parameters_in_the_same_folder_are_refused(serial_run, phenome):
    with pytest.raises(ParameterError, match="other parameters.*nboot 100 -> 200"):
        run_batch(phenome["manifest"], serial_run.out,
                  run={"nboot": 200, "presso_n_distribution": 0, "methods": PAPER.split(",")},
                  workers=0, progress=False)


# ----------------------------------------------------------------------------- faults

def test_a_broken_file_and_an_unknown_id_fail_their_pairs_only(phenome, params_file, tmp_path,
                                                                capsys, monkeypatch):
    monkeypatch.delenv("OPENGWAS_JWT", raising=False)
    monkeypatch.setenv("MRBOOK_CACHE", str(tmp_path / "cache"))
    folder = Path(phenome["manifest"]).parent
    broken = tmp_path / "broken.vcf.gz"
    broken.write_bytes((folder / "sumstats" / "x01.vcf.gz").read_bytes()[:5000])  # truncated
    params = tmp_path / "p.yaml"  # the manifest is not in the phenome's folder: say its panel
    params.write_text(params_file.read_text() + f"ld_ref: {folder / 'ld_panel' / 'phenome'}\n"
                      f"confounder_table: {phenome['confounders']}\n")
    man = tmp_path / "manifest.csv"
    good = pd.read_csv(phenome["manifest"]).iloc[:2]
    lines = ["exposure,outcome"] + [f"{folder / e},{folder / o}" for e, o in
                                    zip(good["exposure"], good["outcome"])]
    lines += [f"{broken},{folder / 'sumstats' / 'y1.tsv.gz'}",
              f"ebi-a-GCST99999999,{folder / 'sumstats' / 'y1.tsv.gz'}"]
    man.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    code = main(["batch", str(man), "--out", str(out), "--params", str(params), "--workers", "0",
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err and "2 pair(s) failed" in err
    errors = pd.read_csv(out / "errors.csv")
    assert len(errors) == 2 and errors["row"].tolist() == [3, 4]
    assert errors["step"].tolist() == ["exposure", "exposure"]
    assert "broken.vcf.gz" in errors["message"].iloc[0]
    assert "OPENGWAS_JWT" in errors["message"].iloc[1]
    assert all("\n" not in m for m in errors["message"])
    s = json.loads((out / "summary.json").read_text())
    assert (s["pairs_planned"], s["pairs_done_total"], s["pairs_failed"]) == (4, 2, 2)
    assert len(pd.read_parquet(out / "results.parquet")) == 2 * 5


@pytest.mark.parametrize("content, match", [
    ("exposure\nx.vcf\n", "lacks column.*outcome"),
    ("exposure,outcome,weight\na,b,1\n", "unknown manifest column 'weight'"),
    ("exposure,outcome\na,\n", "row 1, column 'outcome': empty data source"),
    ("exposure,outcome\ndemo:hashimoto,demo:osteoporosis\ndemo:hashimoto,demo:osteoporosis\n",
     "row 2: the pair of row 1 is listed again"),
    ("exposure,outcome\n", "lists no pair"),
])
def test_bad_manifests_are_one_line_errors(tmp_path, content, match):
    man = tmp_path / "m.csv"
    man.write_text(content)
    with pytest.raises(InputError, match=match):
        read_manifest(man)


def test_bad_usage_exits_2_without_traceback(phenome, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("nboot: 0\n")
    cases = [
        ["batch", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o1"), "--workers", "0"],
        ["batch", str(phenome["manifest"]), "--out", str(tmp_path / "o2"), "--params", str(bad)],
    ]
    for argv in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    with pytest.raises(SystemExit) as exc:  # argparse: --workers and --scheduler together
        main(["batch", str(phenome["manifest"]), "--out", str(tmp_path / "o3"), "--workers", "2",
              "--scheduler", "tcp://127.0.0.1:1"])
    assert exc.value.code == 2
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


def test_chunks_are_written_whole(serial_run, tmp_path):
    """A chunk folder appears by one rename; a failed write leaves nothing behind."""
    class Boom(Exception):
        pass

    class Bad:
        index = 9
        pairs = pd.DataFrame({"pair_key": ["k"], "status": ["done"]})
        errors = pd.DataFrame({"pair_key": []})

        @property
        def tables(self):
            raise Boom

    with pytest.raises(Boom):
        store.write_chunk(tmp_path, 1, Bad())
    assert list((tmp_path / "chunks").iterdir()) == []


def _a_chunk_result(index=4):
    pairs = pd.DataFrame({"pair_key": ["a", "b", "c"], "status": ["done", "failed", "done"]})
    return ChunkResult(index=index, pairs=pairs, errors=pd.DataFrame({"pair_key": ["b"]}),
                       tables={"results": pd.DataFrame({"pair_key": ["a", "c"], "b": [0.5, 1.5]})},
                       seconds=2.5)


def test_a_worker_writes_its_chunk_once(tmp_path):
    """run_chunk on a worker that shares the folder: the folder written whole, by one rename;
    a retried task (its first worker died after the rename) and a twin attempt do not run or
    write it again; a worker that does not see the run's marker, or cannot write, returns the
    tables; a run that is over writes nothing."""
    from mrbook.batch.plan import Chunk

    calls = []

    def task(chunk, x):
        calls.append(x)
        return _a_chunk_result(chunk.index)

    target = store.open_target(tmp_path, 3)
    assert target.visible() and Path(target.out).is_absolute()
    got = store.run_chunk(target, task, Chunk(index=4, pairs=()), "x")
    assert got == store.ChunkWritten(index=4, folder="r0003-c00004", done=2, failed=1, seconds=2.5)
    folder = tmp_path / "chunks" / "r0003-c00004"
    files = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert sorted(files) == ["errors.parquet", "pairs.parquet", "results.parquet"]
    assert pd.read_parquet(folder / "results.parquet")["b"].tolist() == [0.5, 1.5]
    # Dask runs the task again (its worker died after the rename): not run, not written
    again = store.run_chunk(target, task, Chunk(index=4, pairs=()), "y")
    assert again == store.ChunkWritten(index=4, folder="r0003-c00004", done=2, failed=1)
    assert calls == ["x"]
    # a twin attempt that finished second: its rename loses, the first folder stays
    assert store.write_chunk(tmp_path, 3, _a_chunk_result(4)) == folder
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == files
    # a worker on another disk (no marker there): the tables go back to the client
    other = store.ChunkTarget(out=target.out, run=3, marker=target.marker + "-other")
    back = store.run_chunk(other, task, Chunk(index=5, pairs=()), "z")
    assert isinstance(back, ChunkResult) and calls == ["x", "z"]
    assert not (tmp_path / "chunks" / "r0003-c00005").exists()
    # a half-written chunk of a dead worker is removed when the run ends, with the marker
    (tmp_path / "chunks" / ".r0003-c00006.abc").mkdir()
    (tmp_path / "chunks" / ".r0003-c00006.abc" / "pairs.parquet").write_text("half")
    store.close_target(target)
    assert sorted(p.name for p in (tmp_path / "chunks").iterdir()) == ["r0003-c00004"]
    assert not target.visible() and not [p for p in tmp_path.iterdir() if p.is_file()]
    # a task of that run still running afterwards writes nothing
    late = store.run_chunk(target, task, Chunk(index=7, pairs=()), "w")
    assert isinstance(late, ChunkResult)
    assert not (tmp_path / "chunks" / "r0003-c00007").exists()


def test_a_worker_that_cannot_write_returns_its_tables(tmp_path, monkeypatch):
    from mrbook.batch.plan import Chunk

    target = store.open_target(tmp_path, 1)

    def full_disk(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "write_chunk", full_disk)
    back = store.run_chunk(target, lambda chunk: _a_chunk_result(chunk.index),
                           Chunk(index=1, pairs=()))
    assert isinstance(back, ChunkResult) and back.index == 1


def test_a_killed_runs_marker_is_removed_on_resume(serial_run, phenome, params_file, tmp_path):
    import shutil

    out = tmp_path / "out"
    shutil.copytree(serial_run.out, out)
    (out / ".run-r0001-deadbeef").write_text("mrbook batch run\n")
    run_batch(phenome["manifest"], out, params_file=params_file, workers=0, progress=False)
    assert not (out / ".run-r0001-deadbeef").exists()


def test_phenome_chapter_reuses_only_the_same_demo_phenome(tmp_path):
    # the chapter makes its SIMULATED phenome again unless the same one (size, seed,
    # version, every file) is in its folder already
    import pandas as pd

    from mrbook.batch import run as R
    from mrbook.data import phenome as ph

    folder = tmp_path / "demo"
    paths = ph.generate(folder, exposures=2, outcomes=1, seed=3)
    run = {"phenome_exposures": 2, "phenome_outcomes": 1, "phenome_seed": 3}
    assert R._same_phenome(folder, run) == paths["manifest"]
    assert R._same_phenome(folder, dict(run, phenome_seed=4)) is None
    assert R._same_phenome(folder, dict(run, phenome_exposures=3)) is None
    assert R._same_phenome(tmp_path / "nothing", run) is None
    (folder / pd.read_csv(paths["manifest"])["outcome"][0]).unlink()
    assert R._same_phenome(folder, run) is None


def test_phenome_chapter_parameters_leave_presso_out():
    # the chapter shows no MR-PRESSO, so its batch does not run it, and its parameter table
    # does not list it
    from mrbook import params
    from mrbook.batch import page_parameters
    from mrbook.batch.run import CHAPTER_SKIPS

    shown = page_parameters(params.defaults())
    assert CHAPTER_SKIPS == ("presso_n_distribution",)
    assert "presso_n_distribution" not in shown
    assert {"nboot", "seed", "methods", "phenome_workers", "phenome_exposures"} <= set(shown)


@pytest.mark.parametrize("attrs", ["same", "different"])
def test_chunk_concat_in_layout_groups_is_pandas_concat(attrs):
    from mrbook.batch.tasks import _concat

    def frame(n, proxy=False, flag=True, seed=0):
        g = np.random.default_rng(seed)
        d = {"SNP": [f"rs{seed}{i}" for i in range(n)], "b": g.normal(size=n),
             "pos": np.arange(n, dtype=np.int64), "note": [None] * n}
        if flag:
            d["flag"] = np.arange(n) % 2 == 0
        if proxy:
            d["proxy"] = [f"rs9{i}" for i in range(n)]
        f = pd.DataFrame(d)
        f.attrs["log"] = ["x"] if attrs == "same" else [seed]
        return f

    frames = [frame(3, seed=1), frame(2, proxy=True, seed=2), frame(4, seed=3),
              frame(1, flag=False, seed=4), frame(2, proxy=True, seed=5), frame(3, seed=6)]
    got, want = _concat(frames), pd.concat(frames, ignore_index=True)
    assert_frame_equal(got, want, check_exact=True)
    assert list(got.dtypes.astype(str)) == list(want.dtypes.astype(str))
    assert type(got.index) is type(want.index) and got.attrs == want.attrs
    for c in want.columns:
        if want[c].dtype == object:
            assert [type(v) for v in got[c]] == [type(v) for v in want[c]], c


def test_exposure_groups_are_consecutive_and_small():
    """About eight tasks per worker, at most five exposures each, every key once in order."""
    from mrbook.batch.plan import exposure_groups

    keys = [f"e{i:03d}" for i in range(200)]
    g = exposure_groups(keys, 2)
    assert [len(x) for x in g] == [5] * 40 and [k for x in g for k in x] == keys
    assert [len(x) for x in exposure_groups(keys[:40], 2)] == [3] * 13 + [1]
    assert exposure_groups(keys[:3], 2) == [("e000",), ("e001",), ("e002",)]
    assert exposure_groups(keys[:3], 0) == exposure_groups(keys[:3], 1)
    assert exposure_groups([], 2) == []


def test_homes_keep_each_chunk_with_its_exposures_and_the_workers_even():
    """Exposure groups go to the workers in consecutive blocks; each chunk to the worker
    holding most of its pairs' groups while that worker is below an even share."""
    from types import SimpleNamespace

    from mrbook.batch.plan import exposure_groups, homes

    def grid(n_exp, n_out, size):
        keys = [f"e{i:04d}" for i in range(n_exp)]
        items = [(None, e, f"o{o}") for o in range(n_out) for e in keys]  # outcome-major
        chunks = [SimpleNamespace(index=i, pairs=tuple(items[j:j + size]))
                  for i, j in enumerate(range(0, len(items), size))]
        return keys, chunks

    def remote(groups, chunks, group_home, chunk_home):  # groups a chunk's worker lacks
        where = {k: group_home[i] for i, g in enumerate(groups) for k in g}
        return sum(len({where[e] for _, e, _ in c.pairs} - {chunk_home[c.index]})
                   for c in chunks)

    # the bench's shape: 200 exposures x 10 outcomes, 2 workers, 50 pairs a chunk
    keys, chunks = grid(200, 10, 50)
    groups = exposure_groups(keys, 2)
    gh, ch = homes(groups, chunks, ["tcp://b:2", "tcp://a:1"])
    assert gh == ["tcp://a:1"] * 20 + ["tcp://b:2"] * 20  # sorted addresses, in blocks
    assert [ch[c.index] for c in chunks] == ["tcp://a:1", "tcp://a:1", "tcp://b:2",
                                            "tcp://b:2"] * 10
    assert remote(groups, chunks, gh, ch) == 0
    # shapes where the chunks' exposures do not line up with the blocks: still even
    for n_exp, n_out, w, size in [(40, 5, 3, 17), (1000, 5, 8, 50), (3, 100, 2, 38),
                                  (7, 3, 2, 3)]:
        keys, chunks = grid(n_exp, n_out, size)
        workers = [f"tcp://w:{i}" for i in range(w)]
        groups = exposure_groups(keys, w)
        gh, ch = homes(groups, chunks, workers)
        assert set(ch) == {c.index for c in chunks}
        load = {a: sum(len(c.pairs) for c in chunks if ch[c.index] == a) for a in workers}
        share = n_exp * n_out / w
        assert max(load.values()) < share + size, (n_exp, n_out, w, load)
        assert min(load.values()) > 0
    # no workers known (a cluster still starting): nothing placed
    assert homes(groups, chunks, []) == ([None] * len(groups), {})


# this test's LocalCluster starts while the module's (dask_client) holds Dask's HTTP port 8787;
# Dask then serves on another port and says so
@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")
def test_local_cluster_workers_fork_from_a_server_with_one_thread(serial_run, phenome,
                                                                 params_file, tmp_path):
    """mrbook batch starts a forkserver that imports the batch's code once; the LocalCluster's
    workers are forked from it (not spawned by this process), and it runs no thread but its
    own when it forks (a fork of a process with threads can deadlock the child)."""
    from mrbook.batch import forkserver

    if not forkserver.start():
        pytest.skip("this Python has no forkserver start method (Windows)")
    seen = {}

    def look(info):
        if not seen:
            seen["parents"] = set(info["client"].run(os.getppid).values())

    res = run_batch(phenome["manifest"], tmp_path / "out", params_file=params_file, workers=2,
                    chunk_size=2, progress=False, dashboard=False, on_chunk=look)
    assert res.exit_code == 0 and res.summary["pairs_done_total"] == 6
    _same_tables(serial_run.out, res.out)
    (server,) = seen["parents"]
    assert server != os.getpid()
    if Path(f"/proc/{server}/task").is_dir():
        assert len(os.listdir(f"/proc/{server}/task")) == 1


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(),
                    reason="counts a process's threads in /proc (Linux)")
def test_the_forkserver_preload_starts_no_thread():
    """Importing forkserver.PRELOAD in forkserver.SERVER_ENV leaves one thread: no BLAS
    threads, no background thread of pyarrow's jemalloc."""
    import subprocess
    import sys

    from mrbook.batch import forkserver

    code = ("import importlib, os, time\n"
            f"for m in {list(forkserver.PRELOAD)!r}:\n"
            "    importlib.import_module(m)\n"
            "time.sleep(0.3)\n"
            "print(len(os.listdir('/proc/self/task')))\n")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **forkserver.SERVER_ENV},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"
