"""Batch layer: running a batch, on Dask (a LocalCluster or an existing scheduler) or in one process.

:func:`run_batch` reads the manifest and the parameters, skips the pairs an
earlier run finished, plans the rest (:mod:`mrbook.batch.plan`), runs the tasks
(:mod:`mrbook.batch.tasks`) and writes each chunk of pairs as soon as it is back
(:mod:`mrbook.batch.store`), then the final tables and ``summary.json``.

Engines:

* ``workers >= 1`` (default: the machine's cores): a :class:`dask.distributed.LocalCluster`
  of that many worker processes (one thread each), closed at the end;
* ``scheduler="tcp://host:port"``: an existing Dask cluster (``dask scheduler`` and
  ``dask worker``, or dask-jobqueue on Slurm/PBS), which is left running;
* ``workers=0``: every task in this process, one after another, without Dask.

The tasks are the same in every engine and each pair's bootstrap starts from the
run's seed, so the results do not depend on the engine, the number of workers or
the order the tasks finish in. A worker that dies is replaced and its tasks are run
again by Dask (a task that kills three workers fails its pairs). Each chunk folder is
written once: by the worker that ran the chunk when it shares the batch folder with
the client (a LocalCluster; a cluster on a shared file system), which then sends back
only the chunk's counts (:func:`mrbook.batch.store.run_chunk`), else by the client
when the chunk's tables arrive (and in one process).
"""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import ParameterError
from ..output import VERSION
from . import plan as plan_mod
from . import multivariable as mv_tasks
from . import store, tasks
from .forkserver import WORKER_ENV
from .forkserver import started as forkserver_started


@dataclass
class BatchSummary:
    """What :func:`run_batch` did (also written to ``DIR/summary.json``).

    Attributes
    ----------
    out : Path
        The batch folder.
    summary : dict
        The content of ``summary.json``.
    """

    out: Path
    summary: dict

    @property
    def failed(self) -> int:
        return int(self.summary["pairs_failed"])

    @property
    def exit_code(self) -> int:
        """0 when every pair of the manifest is done, 1 when some failed."""
        return 0 if self.failed == 0 and self.summary["pairs_not_run"] == 0 else 1


def _scrub(address: str | None) -> str | None:
    """A scheduler address without credentials (``tcp://user:secret@host`` -> ``tcp://host``)."""
    if address is None:
        return None
    return re.sub(r"(?<=://)[^/@]*@", "", str(address))


# --------------------------------------------------------------------------- progress

class Progress:
    """Progress on a terminal (a tqdm bar: pairs done, failed, ETA), else one line per stage."""

    def __init__(self, enabled: bool, total: int, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.total = total
        self.bar = None
        self.done = self.failed = 0
        if enabled and total and getattr(self.stream, "isatty", lambda: False)():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="pair", desc="mrbook batch", file=self.stream,
                            dynamic_ncols=True)

    def line(self, text: str) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.write(f"mrbook batch: {text}", file=self.stream)
        else:
            print(f"mrbook batch: {text}", file=self.stream, flush=True)

    def pairs(self, done: int, failed: int) -> None:
        self.done += done
        self.failed += failed
        if self.bar is not None:
            self.bar.update(done + failed)
            self.bar.set_postfix(failed=self.failed, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


# --------------------------------------------------------------------------- engines

def _serial(p: plan_mod.Plan, settings, on_stage, on_chunk) -> dict:
    seconds = {"exposures": 0.0, "tables": 0.0, "outcomes": 0.0, "pairs": 0.0}
    t0 = time.perf_counter()
    exposures = {k: tasks.exposure_task(job, settings) for k, job in p.exposures.items()}
    briefs = {k: tasks.brief(r) for k, r in exposures.items()}
    seconds["exposures"] = time.perf_counter() - t0
    on_stage("exposures", briefs.values())
    t0 = time.perf_counter()
    tables = {path: tasks.table_task(path) for path in p.tables}
    seconds["tables"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    outcomes = {k: tasks.outcome_task(job, settings, *(briefs[e] for e in job.exposures))
                for k, job in p.outcomes.items()}
    seconds["outcomes"] = time.perf_counter() - t0
    on_stage("outcomes", [tasks.brief(r) for r in outcomes.values()])
    t0 = time.perf_counter()
    for chunk in p.chunks:
        res = tasks.pairs_task(chunk, settings, {e: exposures[e] for _, e, _ in chunk.pairs},
                               {o: outcomes[o] for _, _, o in chunk.pairs},
                               tables)
        on_chunk(chunk, res, None)
    for chunk in p.mv_chunks:  # multivariable rows (A+B): batch/multivariable.py
        on_chunk(chunk, mv_tasks.mv_pairs_task(chunk, settings), None)
    seconds["pairs"] = time.perf_counter() - t0
    return {"wall_seconds": seconds}


def _dask(p: plan_mod.Plan, settings, client, on_stage, on_chunk,
          target: store.ChunkTarget | None = None, workers: int = 2,
          place: bool = False) -> dict:
    from distributed import as_completed

    token = f"{os.getpid()}-{time.time_ns()}"
    groups = plan_mod.exposure_groups(p.exposures, workers)
    group_of = {k: i for i, g in enumerate(groups) for k in g}
    # on a LocalCluster (a fixed set of workers), each chunk of pairs runs where most of its
    # exposures' results are (plan.homes); on an existing cluster, whose workers may come
    # and go (dask-jobqueue's adaptive scaling), Dask places every task itself
    group_home, chunk_home = plan_mod.homes(
        groups, p.chunks, list(client.scheduler_info()["workers"]) if place else [])

    def near(home):  # a loose restriction: Dask may still run the task elsewhere
        return {} if home is None else {"workers": [home], "allow_other_workers": True}

    ex_f = [client.submit(tasks.exposure_group_task, tuple(p.exposures[k] for k in g), settings,
                          key=f"exposures-{i:05d}-{token}", pure=False, **near(group_home[i]))
            for i, g in enumerate(groups)]
    # the briefs (a few kB, made where the results are) go to the outcome tasks and to this
    # client; the exposures' tables move only to the chunks that use them
    ex_b = [client.submit(tasks.briefs, f, key=f"exposures-brief-{i:05d}-{token}", pure=False)
            for i, f in enumerate(ex_f)]
    tb_f = {path: client.submit(tasks.table_task, path, key=f"table-{i}-{token}", pure=False)
            for i, path in enumerate(p.tables)}
    oc_f = {k: client.submit(tasks.grouped_outcome_task, job, settings,
                             *(ex_b[i] for i in sorted({group_of[e] for e in job.exposures})),
                             key=f"outcome-{k}-{token}", pure=False)
            for k, job in p.outcomes.items()}
    oc_b = {k: client.submit(tasks.brief, f, key=f"outcome-brief-{k}-{token}", pure=False)
            for k, f in oc_f.items()}
    ch_f = {}
    for chunk in p.chunks:
        gkeys = sorted({group_of[e] for _, e, _ in chunk.pairs})
        okeys = sorted({o for _, _, o in chunk.pairs})
        f = client.submit(store.run_chunk, target, tasks.grouped_pairs_task, chunk, settings,
                          [ex_f[i] for i in gkeys], {o: oc_f[o] for o in okeys}, tb_f,
                          key=f"pairs-{chunk.index:05d}-{token}", pure=False,
                          **near(chunk_home.get(chunk.index)))
        ch_f[f.key] = (chunk, f)
    for chunk in p.mv_chunks:  # multivariable rows (A+B): batch/multivariable.py
        f = client.submit(store.run_chunk, target, mv_tasks.mv_pairs_task, chunk, settings,
                          key=f"mvpairs-{chunk.index:05d}-{token}", pure=False)
        ch_f[f.key] = (chunk, f)
    stage_of = {f.key: "exposures" for f in ex_b}
    stage_of.update({f.key: "outcomes" for f in oc_b.values()})
    pending = {"exposures": len(ex_b), "outcomes": len(oc_b)}
    got = {"exposures": [], "outcomes": []}
    t_start = time.perf_counter()
    wall = {}
    try:
        done = as_completed([*ex_b, *oc_b.values(), *(f for _, f in ch_f.values())])
        for fut in done:
            if fut.status in ("pending", "lost"):
                # its result was on a worker that died after it finished: Dask computes
                # it again; wait for that instead of taking it for a failure
                done.add(fut)
                continue
            stage = stage_of.get(fut.key)
            if stage is not None:
                if fut.status == "finished":  # a group's briefs, or an outcome's
                    res = fut.result()
                    got[stage].extend(res if stage == "exposures" else [res])
                pending[stage] -= 1
                if pending[stage] == 0:
                    wall[stage] = time.perf_counter() - t_start
                    on_stage(stage, got[stage])
                continue
            chunk, f = ch_f[fut.key]
            if f.status == "finished":
                on_chunk(chunk, f.result(), None)
            else:  # the task itself failed (e.g. it killed every worker it ran on)
                on_chunk(chunk, None, f.exception())
            f.release()
        wall["pairs"] = time.perf_counter() - t_start
    finally:
        for f in [*ex_f, *ex_b, *oc_f.values(), *oc_b.values(),
                  *tb_f.values(), *(f for _, f in ch_f.values())]:
            f.release()
    return {"wall_seconds_since_submit": wall}


def _local_cluster(client) -> bool:
    """Whether the client's cluster is a LocalCluster (this run's or the caller's): a fixed
    set of workers on this machine, among which :func:`mrbook.batch.plan.homes` places the
    tasks."""
    from distributed import LocalCluster

    return isinstance(getattr(client, "cluster", None), LocalCluster)


def _failed_chunk(chunk, exc) -> tasks.ChunkResult:
    """A chunk whose task failed as a whole: every pair gets an error row (step ``worker``)."""
    import pandas as pd

    msg = tasks.one_line(exc) if exc is not None else "the task did not finish"
    rows, errs = [], []
    for spec, _, _ in chunk.pairs:
        base = dict(pair_key=spec.key, row=spec.row, id_exposure=None, id_outcome=None,
                    exposure=spec.exposure_name, outcome=spec.outcome_name,
                    exposure_source=spec.exposure, outcome_source=spec.outcome)
        rows.append(dict(base, status="failed"))
        errs.append(dict(base, step="worker", message=msg))
    return tasks.ChunkResult(index=chunk.index,
                             pairs=pd.DataFrame(rows, columns=tasks.PAIR_TABLE_COLUMNS),
                             errors=pd.DataFrame(errs, columns=tasks.ERROR_COLUMNS))


def _start_cluster(workers: int, dashboard: bool):
    """A LocalCluster of ``workers`` processes (one thread each) and its client."""
    import logging

    from distributed import Client, LocalCluster

    import dask

    # - the workers' statistical profiler (a thread sampling the task's stack every 10 ms,
    #   for the dashboard's profile page) cost ~15% of their CPU on the pairs' deep pandas
    #   stacks; the nanny hands this config to the worker processes it starts;
    # - Dask's nanny also sets MALLOC_TRIM_THRESHOLD_=65536 in its workers (memory back to
    #   the system at every free above 64 kB): the pairs' many short-lived pandas arrays
    #   then cost ~20% more CPU than in one process; glibc's own (dynamic) threshold is kept;
    # - every Dask server (the scheduler and nannies in this process, each worker) checks its
    #   event loop every 20 ms (a warning when it was blocked for 3 s) and samples its CPU
    #   and memory for the dashboard every 0.5 s: a cluster doing nothing took 0.46 s of CPU
    #   in this process and 0.19 s in each worker per 20 s; every 0.5 s and 2 s: 0.16 s and
    #   0.09 s (the CPU the client process takes is lost to the workers on a machine with
    #   as many cores as workers)
    # - the scheduler hands each worker its share of the ready tasks at once (no queue on
    #   the scheduler, "worker-saturation" inf; idle workers steal from busy ones), so a
    #   worker does not wait for a round trip to the scheduler between two tasks: the
    #   exposure stage of 2,000 bench pairs took ~0.3 s less (6.0-6.2 s against 6.5-6.6 s)
    # - the workers are forked from the forkserver when it was started (mrbook batch starts
    #   it first thing, batch/forkserver.py), else spawned (Dask's default)
    method = "forkserver" if forkserver_started() else "spawn"
    with dask.config.set({"distributed.worker.multiprocessing-method": method,
                          "distributed.worker.profile.enabled": False,
                          "distributed.scheduler.worker-saturation": "inf",
                          "distributed.nanny.pre-spawn-environ": dict(WORKER_ENV),
                          "distributed.admin.tick.interval": "500ms",
                          "distributed.admin.system-monitor.interval": "2s"}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=":8787" if dashboard else None,
                               silence_logs=logging.CRITICAL, env=dict(WORKER_ENV))
    return cluster, Client(cluster)


# --------------------------------------------------------------------------- run_batch

def run_batch(manifest: str | Path, out: str | Path, *, params_file: str | Path | None = None,
              run: dict | None = None, workers: int | None = None, scheduler: str | None = None,
              client=None, progress: bool = True, chunk_size: int | None = None,
              dashboard: bool = True, restart: bool = False,
              on_chunk: Callable | None = None, stream=None) -> BatchSummary:
    """Run MR on every exposure-outcome pair of a manifest; resumable.

    Parameters
    ----------
    manifest : str or Path
        CSV ``exposure,outcome[,exposure_name,outcome_name]``
        (:func:`mrbook.batch.plan.read_manifest`).
    out : str or Path
        The batch folder (:mod:`mrbook.batch.store`). A folder of an earlier run with
        the same settings is resumed: pairs already done are skipped, failed pairs
        are tried again.
    params_file : str or Path, optional
        Run parameters (the YAML of ``mrbook build``, checked the same way); the
        batch uses :data:`mrbook.batch.plan.BATCH_PARAMETERS` and ignores the
        book's page parameters.
    run : dict, optional
        Parameters given directly (override the file's).
    workers : int, optional
        Worker processes of a LocalCluster (default: the machine's cores); 0 runs
        every task in this process without Dask.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``), or the JSON file
        ``dask scheduler --scheduler-file`` wrote, instead of a LocalCluster.
    client : distributed.Client, optional
        A client to use as it is (not closed).
    progress : bool
        Report progress on stderr (a bar on a terminal, one line per stage otherwise).
    chunk_size : int, optional
        Pairs per task (default: about four tasks per worker, at most 50 pairs each).
    dashboard : bool
        Start the Dask dashboard of a LocalCluster (and print its address).
    restart : bool
        Delete the results of earlier runs in ``out`` first.
    on_chunk : callable, optional
        ``on_chunk(info)`` after each chunk is written (``info``: dict with
        ``chunk``, ``done``, ``failed``, ``client``), e.g. to follow a batch.
    stream : file, optional
        Where progress goes (default stderr).

    Returns
    -------
    BatchSummary

    Raises
    ------
    InputError, ParameterError
        A bad manifest or parameter, before any work (the CLI's exit code 2).
    """
    t_start = time.perf_counter()
    if workers is not None and (isinstance(workers, bool) or int(workers) != workers
                                or workers < 0):
        raise ParameterError(f"workers must be a whole number >= 0, got {workers!r}")
    if scheduler is not None and workers is not None:
        raise ParameterError("give either workers (a LocalCluster) or scheduler (an existing "
                             "cluster), not both")
    values = plan_mod.load_parameters(params_file, run)
    settings = plan_mod.make_settings(values, manifest)
    pairs = plan_mod.read_manifest(manifest)
    plan_mod.check_ids(pairs, manifest)
    out = Path(out)
    if restart and (out / "batch.json").is_file():
        import shutil

        shutil.rmtree(out)
    out = store.open_folder(out, settings, manifest)
    done_before = store.done_keys(out) & {p.key for p in pairs}
    todo = [p for p in pairs if p.key not in done_before]
    if client is not None:
        engine, n_workers = "dask.distributed (client given)", len(client.scheduler_info()["workers"])
    elif scheduler is not None:
        engine, n_workers = "dask.distributed scheduler", None
    elif workers == 0:
        engine, n_workers = "serial (one process, no Dask)", 0
    else:
        engine, n_workers = "dask.distributed LocalCluster", int(workers or os.cpu_count() or 1)
    size = chunk_size or plan_mod.default_chunk_size(len(todo), n_workers or 2)
    work = plan_mod.plan(todo, settings, size)
    t_plan = time.perf_counter() - t_start
    prog = Progress(progress, len(todo), stream)
    prog.line(f"{len(pairs)} pairs in {manifest}: {len(done_before)} already done in {out}, "
              f"{len(todo)} to run" + ("" if not todo else
                                       f" ({len(work.exposures)} exposures, "
                                       f"{len(work.outcomes)} outcomes, {len(work.chunks)} "
                                       f"chunks of <= {size} pairs)"))
    for note in settings.notes:
        prog.line(note)
    run_no = store.next_run(out)
    counts = {"done": 0, "failed": 0}
    writes = {"workers": 0, "client": 0}  # who wrote the chunk folders of this run
    reads = {"exposure_files": 0, "outcome_files": 0, "snps_read_per_outcome": {}}
    task_seconds = {"exposures": 0.0, "outcomes": 0.0, "pairs": 0.0}
    address = None
    cluster = None
    own_client = False
    the_client = client

    def stage_done(stage, results):
        results = list(results)
        bad = sum(1 for r in results if r.failure is not None)
        task_seconds[stage] += sum(r.seconds for r in results)
        if stage == "exposures":
            reads["exposure_files"] += sum(r.reads for r in results)
            prog.line(f"exposures: {len(results) - bad} of {len(results)} selected"
                      + (f", {bad} failed" if bad else ""))
        else:
            reads["outcome_files"] += sum(r.reads for r in results)
            reads["snps_read_per_outcome"].update(
                {work.outcomes[r.key].outcome: r.snps for r in results})
            prog.line(f"outcomes: {len(results) - bad} of {len(results)} read once each"
                      + (f", {bad} failed" if bad else ""))

    def chunk_done(chunk, result, exc):
        if result is None:  # the task failed: its pairs fail, unless a worker wrote it first
            folder = store.write_chunk(out, run_no, _failed_chunk(chunk, exc))
            result = store.chunk_written(folder)
            writes["client"] += 1
        elif not isinstance(result, store.ChunkWritten):  # the tables: written here
            folder = store.write_chunk(out, run_no, result)
            result = store.chunk_written(folder, result.pairs, result.seconds, result.index)
            writes["client"] += 1
        else:
            writes["workers"] += 1
        n_ok, n_bad = result.done, result.failed
        counts["done"] += n_ok
        counts["failed"] += n_bad
        task_seconds["pairs"] += result.seconds
        prog.pairs(n_ok, n_bad)
        if prog.bar is None and prog.enabled and len(work.chunks) > 1:
            prog.line(f"pairs: {counts['done'] + counts['failed']} of {len(todo)} "
                      f"({counts['failed']} failed)")
        if on_chunk is not None:
            on_chunk({"chunk": chunk.index, "done": counts["done"], "failed": counts["failed"],
                      "client": the_client})

    extra = {}
    target = None  # where the workers write their chunks (store.ChunkTarget)
    try:
        if todo:
            if engine.startswith("serial"):
                extra = _serial(work, settings, stage_done, chunk_done)
            else:
                if the_client is None:
                    if scheduler is not None:
                        from distributed import Client

                        if Path(scheduler).is_file():  # a scheduler file (JSON)
                            the_client = Client(scheduler_file=str(scheduler), timeout="30s")
                        else:
                            the_client = Client(scheduler, timeout="30s")
                    else:
                        cluster, the_client = _start_cluster(n_workers, dashboard)
                        if dashboard and progress:
                            prog.line(f"Dask dashboard: {the_client.dashboard_link}")
                    own_client = True
                address = the_client.scheduler_info().get("address")
                n_workers = len(the_client.scheduler_info()["workers"])
                prog.line(f"engine: {engine} at {_scrub(address)}, {n_workers} workers")
                target = store.open_target(out, run_no)
                extra = _dask(work, settings, the_client, stage_done, chunk_done, target,
                              n_workers, place=_local_cluster(the_client))
    finally:
        prog.close()
        store.close_target(target)
        if own_client:
            the_client.close()
            if cluster is not None:
                cluster.close()
    t_run = time.perf_counter() - t_start - t_plan
    t0 = time.perf_counter()
    summary = {
        "mrbook_version": VERSION,
        "manifest": str(Path(manifest).resolve()),
        "simulated": _simulated(pairs, manifest),
        "engine": engine,
        "workers": n_workers,
        "scheduler": _scrub(address),
        "pairs_skipped_done": len(done_before),
        "pairs_run": len(todo),
        "pairs_done": counts["done"],
        "pairs_failed_this_run": counts["failed"],
        "exposures": len(work.exposures),
        "outcomes": len(work.outcomes),
        "chunks": len(work.chunks),
        "chunk_size": size,
        "chunks_written_by": dict(writes),
        "file_reads": {"exposure_files": reads["exposure_files"],
                       "outcome_files": reads["outcome_files"],
                       "association_tables": len(work.tables),
                       "per_exposure": (reads["exposure_files"] / len(work.exposures)
                                        if work.exposures else 0.0),
                       "per_outcome": (reads["outcome_files"] / len(work.outcomes)
                                       if work.outcomes else 0.0),
                       "snps_read_per_outcome": reads["snps_read_per_outcome"]},
        "settings": settings.as_dict(),
        "settings_notes": list(settings.notes),
        "task_seconds": {k: round(v, 3) for k, v in task_seconds.items()},
        **{k: {s: round(x, 3) for s, x in v.items()} for k, v in extra.items()},
    }
    summary["seconds"] = {"plan": round(t_plan, 3), "run": round(t_run, 3)}
    final = store.finalise(out, pairs, summary)
    final["seconds"]["write"] = round(time.perf_counter() - t0, 3)
    final["seconds"]["total"] = round(time.perf_counter() - t_start, 3)
    store.write_json(final, out / "summary.json")
    prog.line(f"{final['pairs_done_total']} of {final['pairs_planned']} pairs done "
              f"({len(done_before)} skipped as done before), {final['pairs_failed']} failed; "
              f"wrote {out} in {final['seconds']['total']:.1f} s")
    return BatchSummary(out=out, summary=final)


def _simulated(pairs, manifest) -> bool:
    """Whether the batch's data are simulated (a demo phenome's manifest, or demo: sources)."""
    from ..data.phenome import load_phenome

    if load_phenome(Path(manifest).resolve().parent) is not None:
        return True
    return any(s.lower().startswith(plan_mod.DEMO_PREFIXES) for p in pairs
               for s in (*p.exposures, p.exposure, p.outcome))


#: run parameters the Phenome-wide MR chapter leaves out of its batch: MR-PRESSO (the
#: Sensitivity chapter runs it per pair; the chapter shows none of it, and its 1000
#: simulated data sets per pair would be most of the chapter's time)
CHAPTER_SKIPS = ("presso_n_distribution",)


def page_parameters(run: dict) -> dict:
    """The run parameters the Phenome-wide MR chapter uses: the batch's and the ``phenome_*`` ones
    (not :data:`CHAPTER_SKIPS`)."""
    return {k: v for k, v in run.items()
            if (k in plan_mod.BATCH_PARAMETERS or k.startswith("phenome_"))
            and k not in CHAPTER_SKIPS}


def phenome_chapter(run: dict) -> dict:
    """The Phenome-wide MR chapter's batch: make the demo phenome (or take the manifest), run it.

    Parameters
    ----------
    run : dict
        Validated run parameters (:func:`mrbook.params.from_namespace`): the batch
        runs with the book's instrument and method settings
        (:data:`mrbook.batch.plan.BATCH_PARAMETERS`) on ``phenome_manifest``, or
        on a SIMULATED phenome of ``phenome_exposures`` x ``phenome_outcomes``
        (``phenome_seed``), with ``phenome_workers`` Dask workers, in
        ``<output_dir>/phenome/`` (the demo phenome in ``demo/``, made unless the
        same one -- size, seed, generator version, every file -- is there already;
        the batch in ``results/``, made afresh). MR-PRESSO is not run
        (:data:`CHAPTER_SKIPS`: the chapter shows none of it).

    Returns
    -------
    dict
        :func:`mrbook.batch.load_results`'s tables and ``summary``, plus ``truth``
        (the truth table of a simulated phenome, else None) and ``manifest``.
    """
    import pandas as pd

    from ..data import phenome
    from ..params import resolve_path
    from .store import load_results

    folder = resolve_path(run["output_dir"]) / "phenome"
    if run.get("phenome_manifest"):
        manifest = resolve_path(run["phenome_manifest"])
    else:
        manifest = _same_phenome(folder / "demo", run) or phenome.generate(
            folder / "demo", exposures=run["phenome_exposures"],
            outcomes=run["phenome_outcomes"], seed=run["phenome_seed"])["manifest"]
    meta = phenome.load_phenome(Path(manifest).parent)
    settings = {k: run[k] for k in plan_mod.BATCH_PARAMETERS if k in run}
    settings.update({k: 0 for k in CHAPTER_SKIPS})
    res = run_batch(manifest, folder / "results", run=settings, workers=run["phenome_workers"],
                    progress=False, dashboard=False, restart=True)
    tables = load_results(res.out)
    tables["truth"] = (pd.read_csv(Path(manifest).parent / meta["files"]["truth"])
                       if meta is not None else None)
    tables["manifest"] = Path(manifest)
    return tables


def _same_phenome(folder: Path, run: dict) -> Path | None:
    """The manifest of the demo phenome in ``folder`` if it is the one the chapter asks for
    (generator version, exposures, outcomes, seed and default loci in its phenome.json,
    and every file it and its manifest name present), else None (it is made again)."""
    import pandas as pd

    from ..data import phenome

    meta = phenome.load_phenome(folder)
    want = {"phenome_version": phenome.PHENOME_VERSION, "exposures": run["phenome_exposures"],
            "outcomes": run["phenome_outcomes"], "seed": run["phenome_seed"],
            "loci_per_exposure": phenome.DEFAULT_LOCI}
    if meta is None or any(meta.get(k) != v for k, v in want.items()):
        return None
    try:
        files = [folder / f for k, f in meta["files"].items() if k != "panel"]
        files += [folder / f"{meta['files']['panel']}.{e}" for e in ("bed", "bim", "fam")]
        manifest = pd.read_csv(folder / meta["files"]["manifest"], dtype=str)
        files += [folder / f for c in ("exposure", "outcome") for f in manifest[c]]
    except (OSError, KeyError, ValueError, TypeError):
        return None
    if not all(f.is_file() for f in files):
        return None
    return folder / meta["files"]["manifest"]
