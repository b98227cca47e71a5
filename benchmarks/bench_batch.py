#!/usr/bin/env python
"""Time ``mrbook batch`` on 2,000 simulated pairs: one process, and a 2-worker Dask LocalCluster.

Run with

    .venv/bin/python benchmarks/bench_batch.py [--exposures 200 --outcomes 10 --loci 50]
                                               [--nboot 1000] [--workers 2] [--quick]

What is measured. A simulated phenome (``mrbook demo-phenome``: ``--exposures`` x
``--outcomes`` pairs, default 200 x 10 = 2,000; ``--loci`` independent instruments
per exposure, default 50, of which ~45 reach the MR after harmonisation and the
confounder step) is generated once and cached under ``benchmarks/data/``
(git-ignored). The batch runs with the paper's five methods at ``--nboot``
bootstrap draws (default 1000) and MR-PRESSO off:

(a) serially: ``run_batch(..., workers=0)``, every task in this process, no Dask;
(b) on a LocalCluster of ``--workers`` processes (one thread each), its start-up
    included.

Each run writes into a fresh folder. Reported: wall seconds, pairs per second of
the whole batch (all stages: exposures, outcomes, pairs, writing), the speed-up of
(b) over (a), the CPU seconds of (a) (with its plink children) and of each worker
of (b), their ratio (the CPU-bound speed-up: (a)'s CPU over the busiest worker's,
what the wall times give on idle cores), the load average with each, the CPU
seconds of (b)'s client process (the LocalCluster's scheduler runs in it; it shares
the cores with the workers) and the seconds of the final tables in both, and -- from
the tasks' own timings -- the CPU seconds per pair of
the pair stage and so the pairs per second one worker sustains, with the share of
the pair stage spent in instrument selection (harmonisation etc.) and in the MR
methods. File reads are counted in (a) by wrapping ``read_sumstats`` (the function
every reader goes through): reads per exposure file and per outcome file.

The goals of issue 10: a speed-up of at least 1.7 on 2 workers, and at least 100
pairs per second per worker (for 50-SNP pairs, five methods, nboot 1000). The
machine is shared: run it when it is quiet, and compare (a) and (b) of one run.
``--quick`` runs 40 x 5 pairs. Results go to ``benchmarks/results/batch.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAPER = ["mr_egger_regression", "mr_weighted_median", "mr_ivw", "mr_simple_mode",
         "mr_weighted_mode"]


def _phenome(args) -> Path:
    from mrbook.data import phenome

    folder = HERE / "data" / f"phenome-{args.exposures}x{args.outcomes}-l{args.loci}-s{args.seed}"
    meta = phenome.load_phenome(folder)
    if meta is None or meta.get("phenome_version") != phenome.PHENOME_VERSION:
        t0 = time.perf_counter()
        phenome.generate(folder, exposures=args.exposures, outcomes=args.outcomes,
                         seed=args.seed, loci=args.loci)
        print(f"generated {folder} in {time.perf_counter() - t0:.1f} s", flush=True)
    return folder / "manifest.csv"


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (plink), user + system."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _split_pairs(manifest: Path, run: dict, n: int) -> dict:
    """CPU seconds per pair in instrument selection and in the MR methods (one process)."""
    from mrbook.batch import plan as P, tasks as T

    settings = P.make_settings(P.load_parameters(run=run), manifest)
    pairs = P.read_manifest(manifest)[:n]
    work = P.plan(pairs, settings, n)
    ex = {k: T.exposure_task(j, settings) for k, j in work.exposures.items()}
    tb = {p: T.table_task(p) for p in work.tables}
    oc = {k: T.outcome_task(j, settings, *(T.brief(ex[e]) for e in j.exposures))
          for k, j in work.outcomes.items()}
    import mrbook.batch.tasks as tasks_mod

    spent = {"mr": 0.0}
    real = tasks_mod.analyse_pair

    def timed(dat, s, *a, **k):
        t0 = time.process_time()
        out = real(dat, s, *a, **k)
        spent["mr"] += time.process_time() - t0
        return out

    tasks_mod.analyse_pair = timed
    try:
        t0 = time.process_time()
        res = T.pairs_task(work.chunks[0], settings, ex, oc, tb)
        total = time.process_time() - t0
    finally:
        tasks_mod.analyse_pair = real
    done = int((res.pairs["status"] == "done").sum())
    return {"pairs": done, "cpu_s_per_pair": total / done, "mr_s_per_pair": spent["mr"] / done,
            "instruments_s_per_pair": (total - spent["mr"]) / done,
            "mean_nsnp": float(res.pairs["final"].mean())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--exposures", type=int, default=200)
    ap.add_argument("--outcomes", type=int, default=10)
    ap.add_argument("--loci", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--nboot", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="40 x 5 pairs")
    ap.add_argument("--out", default=str(HERE / "results" / "batch.json"))
    args = ap.parse_args()
    if args.quick:
        args.exposures, args.outcomes = 40, 5

    from mrbook.batch import run_batch
    from mrbook.data import readers

    manifest = _phenome(args)
    n_pairs = args.exposures * args.outcomes
    run = {"methods": PAPER, "nboot": args.nboot, "presso_n_distribution": 0}
    work = HERE / "data" / "batch-runs"
    shutil.rmtree(work, ignore_errors=True)
    results = {"pairs": n_pairs, "exposures": args.exposures, "outcomes": args.outcomes,
               "loci": args.loci, "nboot": args.nboot, "methods": PAPER,
               "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                           "load_before": os.getloadavg()},
               "when": datetime.now(timezone.utc).isoformat(timespec="seconds")}

    # (a) serial, counting the file reads
    reads = []
    real = readers.read_sumstats

    def counting(path, *a, **k):
        reads.append(Path(path).name)
        return real(path, *a, **k)

    readers.read_sumstats = counting
    try:
        t0, c0 = time.perf_counter(), _cpu()
        a = run_batch(manifest, work / "serial", run=run, workers=0, progress=False)
        wall_a, cpu_a = time.perf_counter() - t0, _cpu() - c0
    finally:
        readers.read_sumstats = real
    exp_reads = sum(1 for r in reads if r.startswith("x"))
    out_reads = sum(1 for r in reads if r.startswith("y"))
    results["serial"] = {"wall_s": wall_a, "pairs_per_s": n_pairs / wall_a, "cpu_s": cpu_a,
                         "done": a.summary["pairs_done_total"],
                         "final_tables_s": a.summary["seconds"]["write"],
                         "task_seconds": a.summary["task_seconds"]}
    results["file_reads"] = {"exposure_files_read": exp_reads, "outcome_files_read": out_reads,
                             "per_exposure": exp_reads / args.exposures,
                             "per_outcome": out_reads / args.outcomes}
    print(f"serial: {wall_a:.1f} s, {n_pairs / wall_a:.1f} pairs/s, CPU {cpu_a:.1f} s "
          f"(load {os.getloadavg()[0]:.1f}) "
          f"({a.summary['pairs_done_total']} done); reads per exposure "
          f"{exp_reads / args.exposures:g}, per outcome {out_reads / args.outcomes:g}", flush=True)

    # (b) LocalCluster, started here (as run_batch starts it) to read its workers' CPU
    from mrbook.batch.run import _start_cluster

    t0 = time.perf_counter()
    cluster, client = _start_cluster(args.workers, False)
    try:
        c0, own0 = client.run(_cpu), _cpu()
        b = run_batch(manifest, work / "dask", run=run, client=client, progress=False)
        wall_b = time.perf_counter() - t0
        c1, own1 = client.run(_cpu), _cpu()
    finally:
        client.close()
        cluster.close()
    cpu_b = sorted(c1[w] - c0[w] for w in c1)
    results["dask"] = {"workers": args.workers, "wall_s": wall_b, "pairs_per_s": n_pairs / wall_b,
                       "worker_cpu_s": cpu_b, "done": b.summary["pairs_done_total"],
                       "client_cpu_s": own1 - own0,
                       "final_tables_s": b.summary["seconds"]["write"],
                       "chunks_written_by": b.summary.get("chunks_written_by"),
                       "task_seconds": b.summary["task_seconds"]}
    results["speedup"] = wall_a / wall_b
    # what the wall times would give on idle cores: the serial CPU over the busiest worker's
    results["cpu_bound_speedup"] = cpu_a / max(cpu_b)
    same = all((work / "serial" / f).read_bytes() == (work / "dask" / f).read_bytes()
               for f in ("results.parquet", "heterogeneity.parquet", "pleiotropy.parquet"))
    results["identical_results"] = same
    print(f"LocalCluster ({args.workers} workers): {wall_b:.1f} s, {n_pairs / wall_b:.1f} pairs/s "
          f"(load {os.getloadavg()[0]:.1f}); speed-up {wall_a / wall_b:.2f}x (goal >= 1.7); "
          f"workers' CPU {' + '.join(f'{c:.1f}' for c in cpu_b)} s, CPU-bound speed-up "
          f"{results['cpu_bound_speedup']:.2f}x; identical results: {same}", flush=True)
    print(f"client process (scheduler, chunks, final tables): CPU {own1 - own0:.1f} s; final "
          f"tables {b.summary['seconds']['write']:.2f} s (serial run: "
          f"{a.summary['seconds']['write']:.2f} s); chunk folders written by "
          f"{b.summary.get('chunks_written_by')}", flush=True)

    # the pair stage, per worker
    per = a.summary["task_seconds"]["pairs"] / a.summary["pairs_done_total"]
    results["pair_stage"] = {"wall_s_per_pair_serial": per, "pairs_per_s_per_worker": 1 / per}
    split = _split_pairs(manifest, run, 50)
    results["pair_stage"].update(split)
    results["machine"]["load_after"] = os.getloadavg()
    print(f"pair stage: {1 / per:.1f} pairs/s per worker (goal >= 100); of the CPU per pair "
          f"({split['cpu_s_per_pair'] * 1e3:.0f} ms, {split['mean_nsnp']:.0f} SNPs): instruments "
          f"{split['instruments_s_per_pair'] * 1e3:.0f} ms, MR methods "
          f"{split['mr_s_per_pair'] * 1e3:.0f} ms", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
