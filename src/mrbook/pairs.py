"""Estimators layer: splitting a harmonised table into the exposure-outcome pairs it holds.

The one place that knows how TwoSampleMR groups a table by (id.exposure,
id.outcome); the estimators, the sensitivity analyses and the analysis layer
all iterate pairs through :func:`iter_pairs`.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pandas as pd

from .data.frames import column_array

PAIR_COLUMNS = ["id_exposure", "id_outcome", "exposure", "outcome"]

#: pandas >= 3 always copies on write, so a shallow copy is a safe copy
_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3


def column(dat: pd.DataFrame, name: str):
    """The values of column ``name`` of ``dat`` (numpy or pandas array), read-only.

    What ``dat[name].array`` holds, without building a Series
    (:func:`mrbook.data.frames.column_array`): the analyses read ~10 columns per
    call, on 2-row to 100-row frames. A frame with duplicate column names goes
    through ``dat[name].array`` (pandas' own error). A numpy result is a read-only view.
    """
    values = column_array(dat, name)
    if isinstance(values, pd.DataFrame):  # duplicate names
        values = dat[name].array
    if isinstance(values, np.ndarray):
        values = values.view()
        values.flags.writeable = False
    return values


def _with_ids(dat: pd.DataFrame) -> pd.DataFrame:
    """``dat`` with the pair columns and ``mr_keep`` (defaults added to a shallow copy).

    The frame itself when nothing is missing: the callers never modify it, and
    every frame :func:`iter_pairs` yields is a new one.
    """
    cols = dat.columns
    if all(c in cols for c in ("id.exposure", "id.outcome", "exposure", "outcome", "mr_keep")):
        return dat
    dat = dat.copy(deep=False)  # adding columns to it never touches the caller's frame
    for role in ("exposure", "outcome"):
        if f"id.{role}" not in dat.columns:
            dat[f"id.{role}"] = role
        if role not in dat.columns:
            dat[role] = dat[f"id.{role}"]
    if "mr_keep" not in dat.columns:
        dat["mr_keep"] = True
    return dat


def iter_pairs(dat: pd.DataFrame, keep_only: bool = True) -> Iterator[tuple[dict, pd.DataFrame]]:
    """Yield ``(pair, rows)`` per (id.exposure, id.outcome), sorted as TwoSampleMR's ddply.

    ``pair`` holds id_exposure, id_outcome, exposure, outcome; ``rows`` are the
    pair's ``mr_keep`` rows (all rows if ``keep_only`` is False), in data order,
    as a new frame.
    """
    dat = _with_ids(dat)
    single = single_pair(dat)
    if single is None:
        for (ide, ido), rows in dat.groupby(["id.exposure", "id.outcome"], sort=True):
            pair = {"id_exposure": str(ide), "id_outcome": str(ido),
                    "exposure": str(rows["exposure"].iloc[0]),
                    "outcome": str(rows["outcome"].iloc[0])}
            yield pair, (rows[rows["mr_keep"].astype(bool)] if keep_only else rows)
        return
    # the usual case, one pair: skip groupby, which costs ~1.5 ms per call
    ide, ido = single
    pair = {"id_exposure": str(ide), "id_outcome": str(ido),
            "exposure": str(dat["exposure"].array[0]), "outcome": str(dat["outcome"].array[0])}
    keep = dat["mr_keep"].to_numpy(dtype=bool) if keep_only else None
    if keep is None or keep.all():
        # copy-on-write (pandas >= 3): a shallow copy is as good as a copy, and free
        yield pair, dat.copy(deep=not _COPY_ON_WRITE)
    else:
        yield pair, dat[keep]


def single_pair(dat: pd.DataFrame, cols=("id.exposure", "id.outcome")):
    """The ids in ``cols`` if every row has the same non-missing ones, else None.

    Then ``groupby(cols)`` would give one group holding every row in data order,
    at ~1.5 ms per call; anything unusual (missing or incomparable ids, no rows)
    returns None, and the caller takes groupby's path.
    """
    if len(dat) == 0:
        return None
    keys = []
    for col in cols:
        v = np.asarray(column(dat, col), dtype=object)
        first = v[0]
        try:
            if pd.isna(first) or not bool((v == first).all()):
                return None
        except (TypeError, ValueError):
            return None
        keys.append(first)
    return tuple(keys)
