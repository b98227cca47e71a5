"""Batch layer: a LocalCluster's worker processes, forked from a server that imported the batch once.

By default Dask starts each worker of a LocalCluster as a fresh Python process
("spawn"), which imports Dask (~0.35 s of CPU), then mrbook, pandas, scipy.special
and numba for its first task (~0.5 s): on a machine with as many cores as workers,
CPU taken from the batch. :func:`start` starts Python's *forkserver* instead -- one
process that imports those modules once -- and the LocalCluster's workers are
forked from it with everything imported (2,000 bench pairs on 2 workers: 14.5-15.1 s
against 15.5-15.7 s spawned, in alternated runs). Forking a process that runs
threads can deadlock (the reason Python 3.14 made the forkserver, not fork, its
default on Linux); the forkserver only imports modules, with one thread for the
numerical libraries and none for pyarrow's jemalloc (:data:`SERVER_ENV`), so it
has no thread but its own when it forks (tested). ``mrbook batch`` starts it first
thing, before this process imports pandas, so that its imports run beside this
process's; where Python has no forkserver (Windows), the workers are spawned.

This module imports nothing from the rest of mrbook (``mrbook.batch`` loads its
names lazily), so the command line can start the server before it plans the batch.
"""

from __future__ import annotations

import os

#: the environment of a LocalCluster's worker processes: one thread each for the
#: numerical libraries (BLAS, OpenMP, Arrow's CPU pool, numexpr), so that N workers on N
#: cores do not start N threads each (Dask's nanny sets the first three by default too;
#: an existing cluster's ``dask worker`` processes get them from Dask's config). The
#: forkserver starts with it: the libraries read it when they are imported there
WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "NUMEXPR_NUM_THREADS": "1", "VECLIB_MAXIMUM_THREADS": "1"}

#: the forkserver's environment: :data:`WORKER_ENV`, and no background thread in the
#: jemalloc that pyarrow bundles (it starts one when imported), so that the server has
#: no thread but its own when it forks
SERVER_ENV = {**WORKER_ENV, "JE_ARROW_MALLOC_CONF": "background_thread:false"}

#: the modules the forkserver imports: Dask's worker and the batch's tasks (with mrbook's
#: instruments and analysis layers, pandas, pyarrow, scipy.special) and numba
PRELOAD = ("distributed", "distributed.nanny", "distributed.worker", "mrbook.batch.store",
           "mrbook.batch.tasks", "mrbook.analysis", "mrbook.data.ld", "numba")

_started = False


def start() -> bool:
    """Start this process's forkserver with :data:`PRELOAD` imported (once; it runs until
    this process ends).

    Returns
    -------
    bool
        Whether a LocalCluster started afterwards forks its workers from it (False
        where Python has no forkserver).
    """
    global _started
    import multiprocessing as mp

    if _started:
        return True
    if "forkserver" not in mp.get_all_start_methods():
        return False
    from multiprocessing import forkserver

    saved = {k: os.environ.get(k) for k in SERVER_ENV}
    os.environ.update(SERVER_ENV)  # the server's, inherited by the workers it forks
    try:
        mp.get_context("forkserver").set_forkserver_preload(list(PRELOAD))
        forkserver.ensure_running()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    _started = True
    return True


def wanted(out, *, workers: int | None, scheduler: str | None) -> bool:
    """Whether ``mrbook batch`` starts the server: for a LocalCluster (``workers`` not 0, no
    ``scheduler``) writing into a new batch folder (no earlier batch's ``batch.json``,
    :mod:`mrbook.batch.store`). A resumed batch, which may have nothing left to run,
    spawns its workers if it needs any."""
    from pathlib import Path

    return workers != 0 and scheduler is None and not (Path(out) / "batch.json").is_file()


def started() -> bool:
    """Whether :func:`start` started the forkserver in this process."""
    return _started
