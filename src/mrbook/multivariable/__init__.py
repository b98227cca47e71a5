"""Multivariable layer: multivariable MR from a wide table, TwoSampleMR's long tables or data sources.

Sits at the instruments' level of the pipeline (it calls the readers,
:mod:`mrbook.harmonise`, :mod:`mrbook.instruments` and the estimators of
:mod:`mrbook.estimators.multivariable`):

* :mod:`.data`: :class:`MVData`, and :func:`read_mv_table` for the wide layout;
* :mod:`.harmonise`: TwoSampleMR's ``mv_harmonise_data`` on its long exposure
  table and an outcome table (:func:`read_mv_harmonised`);
* :mod:`.sources`: the instruments of several exposures from their data sources
  (:func:`mv_select_instruments`);
* :mod:`.analysis`: :func:`run_mvmr` and :func:`mvmr_from_sources`.
"""

from .analysis import F_THRESHOLD, MV_RUN_KEYS, MVResult, mvmr_from_sources, run_mvmr
from .data import MVData, mv_from_frame, read_mv_table
from .harmonise import mv_harmonise, read_mv_exposures, read_mv_harmonised
from .sources import MV_STEPS, mv_select_instruments, resolve_mv_source

__all__ = ["F_THRESHOLD", "MVData", "MV_RUN_KEYS", "MVResult", "MV_STEPS", "mv_from_frame", "mv_harmonise",
           "mv_select_instruments", "mvmr_from_sources", "read_mv_exposures", "read_mv_harmonised",
           "read_mv_table", "resolve_mv_source", "run_mvmr"]
