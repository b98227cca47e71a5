"""Batch layer: MR on many exposure-outcome pairs at once, on Dask, resumable (``mrbook batch``).

* :mod:`.plan` -- the manifest, the settings (the parameter schema of the book),
  and the plan that selects each exposure once and reads each outcome once;
* :mod:`.tasks` -- the tasks, pure functions that call the single-pair code
  (:mod:`mrbook.instruments`, :mod:`mrbook.analysis`);
* :mod:`.multivariable` -- the manifest's multivariable rows (``A+B``), calling
  :func:`mrbook.multivariable.mvmr_from_sources`;
* :mod:`.forkserver` -- the server a LocalCluster's workers are forked from;
* :mod:`.run` -- running them on a Dask LocalCluster, an existing scheduler, or
  in one process;
* :mod:`.store` -- the batch folder: chunks written atomically, resuming, the
  final Parquet tables with the Benjamini-Hochberg FDR.
"""

# the names below are imported when first used (PEP 562), so that importing
# :mod:`mrbook.batch.forkserver` imports nothing else of mrbook, nor pandas
_EXPORTS = {"BATCH_PARAMETERS": "plan", "PairSpec": "plan", "Settings": "plan",
            "read_manifest": "plan", "BatchSummary": "run", "page_parameters": "run",
            "phenome_chapter": "run", "run_batch": "run", "bh_fdr": "store",
            "load_results": "store"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
