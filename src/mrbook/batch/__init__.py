"""Batch layer: MR on many exposure-outcome pairs at once, on Dask, resumable (``mrbook batch``).

* :mod:`.plan` -- the manifest, the settings (the parameter schema of the book),
  and the plan that selects each exposure once and reads each outcome once;
* :mod:`.tasks` -- the tasks, pure functions that call the single-pair code
  (:mod:`mrbook.instruments`, :mod:`mrbook.analysis`);
* :mod:`.multivariable` -- the manifest's multivariable rows (``A+B``), calling
  :func:`mrbook.multivariable.mvmr_from_sources`;
* :mod:`.run` -- running them on a Dask LocalCluster, an existing scheduler, or
  in one process;
* :mod:`.store` -- the batch folder: chunks written atomically, resuming, the
  final Parquet tables with the Benjamini-Hochberg FDR.
"""

from .plan import BATCH_PARAMETERS, PairSpec, Settings, read_manifest
from .run import BatchSummary, page_parameters, phenome_chapter, run_batch
from .store import bh_fdr, load_results

__all__ = ["BATCH_PARAMETERS", "BatchSummary", "PairSpec", "Settings", "bh_fdr", "load_results",
           "page_parameters", "phenome_chapter", "read_manifest", "run_batch"]
