#!/usr/bin/env python
"""Time ``mrbook batch`` on 2,000 simulated pairs: one process, and a 2-worker Dask LocalCluster.

Run with

    .venv/bin/python benchmarks/bench_batch.py [--exposures 200 --outcomes 10 --loci 50]
                                               [--nboot 1000] [--workers 2] [--repeat 3]
                                               [--quick]

What is measured. A simulated phenome (``mrbook demo-phenome``: ``--exposures`` x
``--outcomes`` pairs, default 200 x 10 = 2,000; ``--loci`` independent instruments
per exposure, default 50, of which ~45 reach the MR after harmonisation and the
confounder step) is generated once and cached under ``benchmarks/data/``
(git-ignored). The batch runs with the paper's five methods at ``--nboot``
bootstrap draws (default 1000) and MR-PRESSO off:

(a) serially: ``run_batch(..., workers=0)``, every task in one process, no Dask;
(b) on a LocalCluster of ``--workers`` processes (one thread each), as
    ``mrbook batch --workers N`` runs it (without the dashboard), its start-up
    included.

Each run is a fresh Python process, as a user's ``mrbook batch`` is: its wall and
CPU seconds include importing mrbook (and, in (b), starting the cluster).

(a) and (b) alternate ``--repeat`` times (default 3: a, b, a, b, a, b), because a
shared or virtual machine's speed drifts by tens of percent within minutes: each
speed-up is (a)'s wall time over the (b) run right after it, and the one reported
is the median of those ratios, with every run's figures beside it.

Each run writes into a fresh folder. Reported: wall seconds, pairs per second of
the whole batch (all stages: exposures, outcomes, pairs, writing), the speed-up of
(b) over (a), the CPU seconds of (a) (with its plink children) and of each worker
of (b) (from its start: its imports and plink children included), their ratio (the
CPU-bound speed-up: (a)'s CPU over the busiest worker's, what the wall times give on
idle cores), the load average with each, the CPU seconds of (b)'s client process
(the LocalCluster's scheduler runs in it; it shares the cores with the workers) and
the seconds of the final tables in both, and -- from the tasks' own timings -- the
CPU seconds per pair of the pair stage and so the pairs per second one worker
sustains, with the share of the pair stage spent in instrument selection
(harmonisation etc.) and in the MR
methods. File reads are counted in (a) by wrapping ``read_sumstats`` (the function
every reader goes through): reads per exposure file and per outcome file.

The goals of issue 10: a speed-up of at least 1.7 on 2 workers, and at least 100
pairs per second per worker (for 50-SNP pairs, five methods, nboot 1000). The
machine is shared: run it when it is quiet. ``--quick`` runs 40 x 5 pairs once.
Results go to ``benchmarks/results/batch.json`` (the median run's figures at the top
level, every run under ``repetitions``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
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


def _bytecode() -> None:
    """Compile mrbook's modules to bytecode once, as pip does for an installed package and
    Python itself on a first import: a machine with ``PYTHONDONTWRITEBYTECODE`` set (this
    one) would otherwise compile every module again in every process (~0.1 s each: the
    serial run's one process, and the client and each worker of the LocalCluster)."""
    import compileall

    import mrbook

    compileall.compile_dir(str(Path(mrbook.__file__).parent), quiet=1)


def _own_cpu() -> float:
    """CPU seconds of this process alone (not of its children: a LocalCluster's workers
    are its children, counted once they exit)."""
    t = os.times()
    return t.user + t.system


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


def _serial_run(manifest: Path, folder: Path, run: dict) -> dict:
    """(a): ``run_batch(..., workers=0)`` in a fresh process, imports included, counting
    the file reads."""
    t0, c0 = time.perf_counter(), _cpu()
    from mrbook.batch import run_batch
    from mrbook.data import readers

    reads = []
    real = readers.read_sumstats

    def counting(path, *a, **k):
        reads.append(Path(path).name)
        return real(path, *a, **k)

    readers.read_sumstats = counting
    try:
        a = run_batch(manifest, folder, run=run, workers=0, progress=False)
        wall, cpu = time.perf_counter() - t0, _cpu() - c0
    finally:
        readers.read_sumstats = real
    return {"wall_s": wall, "cpu_s": cpu, "done": a.summary["pairs_done_total"],
            "final_tables_s": a.summary["seconds"]["write"],
            "task_seconds": a.summary["task_seconds"],
            "exposure_files_read": sum(1 for r in reads if r.startswith("x")),
            "outcome_files_read": sum(1 for r in reads if r.startswith("y")),
            "load_after": os.getloadavg()[0]}


def _dask_run(manifest: Path, folder: Path, run: dict, workers: int) -> dict:
    """(b): in a fresh process, imports included, as ``mrbook batch --workers N`` runs (the
    forkserver its workers fork from started first, :mod:`mrbook.batch.forkserver`; its
    LocalCluster started by :func:`~mrbook.batch.run_batch`, without the dashboard); each
    worker's CPU is read when the last chunk is back, from the worker's start (its
    imports included)."""
    t0, own0 = time.perf_counter(), _own_cpu()
    from mrbook.batch import forkserver

    forkserver.start()  # as mrbook batch does first thing: the workers fork from it
    from mrbook.batch import read_manifest, run_batch

    n_pairs = len(read_manifest(manifest))
    seen = {}

    def follow(info):  # the workers' CPU, once the last chunk is back
        if info["done"] + info["failed"] == n_pairs:
            seen["cpu"] = info["client"].run(_cpu)

    b = run_batch(manifest, folder, run=run, workers=workers, progress=False, dashboard=False,
                  on_chunk=follow)
    wall, own1 = time.perf_counter() - t0, _own_cpu()
    return {"workers": workers, "wall_s": wall, "done": b.summary["pairs_done_total"],
            "worker_cpu_s": sorted(seen["cpu"].values()), "client_cpu_s": own1 - own0,
            "final_tables_s": b.summary["seconds"]["write"],
            "chunks_written_by": b.summary.get("chunks_written_by"),
            "task_seconds": b.summary["task_seconds"], "load_after": os.getloadavg()[0]}


def _fresh(kind: str, manifest: Path, folder: Path, args) -> dict:
    """Run (a) or (b) in a fresh Python process, as a user's ``mrbook batch`` runs."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--manifest",
           str(manifest), "--folder", str(folder), "--nboot", str(args.nboot), "--workers",
           str(args.workers)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"the {kind} run failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--exposures", type=int, default=200)
    ap.add_argument("--outcomes", type=int, default=10)
    ap.add_argument("--loci", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--nboot", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3,
                    help="serial and LocalCluster runs, alternated (default 3 of each)")
    ap.add_argument("--quick", action="store_true", help="40 x 5 pairs, one repetition")
    ap.add_argument("--out", default=str(HERE / "results" / "batch.json"))
    ap.add_argument("--child", choices=["serial", "dask"], help=argparse.SUPPRESS)
    ap.add_argument("--manifest", help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:  # one run, in this fresh process: its figures as JSON on stdout
        run = {"methods": PAPER, "nboot": args.nboot, "presso_n_distribution": 0}
        rec = (_serial_run(Path(args.manifest), Path(args.folder), run) if args.child == "serial"
               else _dask_run(Path(args.manifest), Path(args.folder), run, args.workers))
        print(json.dumps(rec))
        return 0
    if args.quick:
        args.exposures, args.outcomes, args.repeat = 40, 5, 1

    manifest = _phenome(args)
    _bytecode()
    n_pairs = args.exposures * args.outcomes
    run = {"methods": PAPER, "nboot": args.nboot, "presso_n_distribution": 0}
    work = HERE / "data" / "batch-runs"
    results = {"pairs": n_pairs, "exposures": args.exposures, "outcomes": args.outcomes,
               "loci": args.loci, "nboot": args.nboot, "methods": PAPER,
               "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                           "load_before": os.getloadavg()},
               "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "repetitions": []}
    for rep in range(max(1, args.repeat)):
        shutil.rmtree(work, ignore_errors=True)
        a = _fresh("serial", manifest, work / "serial", args)
        b = _fresh("dask", manifest, work / "dask", args)
        same = all((work / "serial" / f).read_bytes() == (work / "dask" / f).read_bytes()
                   for f in ("results.parquet", "heterogeneity.parquet", "pleiotropy.parquet"))
        rec = {"serial": a, "dask": b, "speedup": a["wall_s"] / b["wall_s"],
               # what the wall times would give on idle cores: the serial CPU over the busiest
               # worker's
               "cpu_bound_speedup": a["cpu_s"] / max(b["worker_cpu_s"]),
               "identical_results": same}
        results["repetitions"].append(rec)
        print(f"run {rep + 1}: serial {a['wall_s']:.1f} s ({n_pairs / a['wall_s']:.1f} pairs/s, "
              f"load {a['load_after']:.1f}), {args.workers} workers {b['wall_s']:.1f} s "
              f"({n_pairs / b['wall_s']:.1f} pairs/s, load {b['load_after']:.1f}): speed-up "
              f"{rec['speedup']:.2f}x, CPU-bound {rec['cpu_bound_speedup']:.2f}x; workers' CPU "
              f"{' + '.join(f'{c:.1f}' for c in b['worker_cpu_s'])} s, client CPU "
              f"{b['client_cpu_s']:.1f} s, final tables {b['final_tables_s']:.2f} s (serial "
              f"{a['final_tables_s']:.2f} s); identical results: {same}", flush=True)
    reps = results["repetitions"]
    mid = sorted(reps, key=lambda r: r["speedup"])[(len(reps) - 1) // 2]  # the median run
    a, b = mid["serial"], mid["dask"]
    results["serial"] = dict(a, pairs_per_s=n_pairs / a["wall_s"])
    results["dask"] = dict(b, pairs_per_s=n_pairs / b["wall_s"])
    results["speedup"] = mid["speedup"]
    results["speedups"] = [r["speedup"] for r in reps]
    results["cpu_bound_speedup"] = mid["cpu_bound_speedup"]
    results["identical_results"] = all(r["identical_results"] for r in reps)
    results["file_reads"] = {"exposure_files_read": a["exposure_files_read"],
                             "outcome_files_read": a["outcome_files_read"],
                             "per_exposure": a["exposure_files_read"] / args.exposures,
                             "per_outcome": a["outcome_files_read"] / args.outcomes}
    print(f"median of {len(reps)}: speed-up {mid['speedup']:.2f}x (goal >= 1.7; runs "
          f"{', '.join(f'{r:.2f}' for r in results['speedups'])}); {a['done']} and {b['done']} "
          f"pairs done; reads per exposure {a['exposure_files_read'] / args.exposures:g}, per "
          f"outcome {a['outcome_files_read'] / args.outcomes:g}", flush=True)

    # the pair stage, per worker: the serial runs' task seconds (median), and its CPU split
    pers = sorted(r["serial"]["task_seconds"]["pairs"] / r["serial"]["done"] for r in reps)
    per = pers[(len(pers) - 1) // 2]
    results["pair_stage"] = {"wall_s_per_pair_serial": per, "pairs_per_s_per_worker": 1 / per,
                             "pairs_per_s_per_worker_runs": [1 / x for x in pers]}
    split = _split_pairs(manifest, run, 50)
    results["pair_stage"].update(split)
    results["machine"]["load_after"] = os.getloadavg()
    print(f"pair stage: {1 / per:.1f} pairs/s per worker (goal >= 100; runs "
          f"{', '.join(f'{1 / x:.1f}' for x in pers)}); of the CPU per pair "
          f"({split['cpu_s_per_pair'] * 1e3:.1f} ms, {split['mean_nsnp']:.0f} SNPs): instruments "
          f"{split['instruments_s_per_pair'] * 1e3:.1f} ms, MR methods "
          f"{split['mr_s_per_pair'] * 1e3:.1f} ms", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
