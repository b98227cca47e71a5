"""Data layer: reading a column and making a table without pandas' per-call overhead.

The harmonisation, the analyses and the batch read ~10 columns and make a few
tables per exposure-outcome pair, on 2- to 100-row frames, where pandas' general
paths (a new Series per ``df[name]``, type inference per column, a new columns
Index per table, a string array made through pandas' general conversion) cost
more than the work itself. These helpers are the one place that takes pandas'
shortcuts for them.
"""

from __future__ import annotations

import functools
import math

import pandas as pd
import pyarrow as pa

__all__ = ["column_array", "frame_from_arrays", "str_array"]


def column_array(df: pd.DataFrame, name: str):
    """``df[name]``'s values (a numpy or pandas array), without building the Series.

    About 1 us instead of ~10 us (pandas >= 3 makes a new copy-on-write Series per
    ``df[name]``). Where ``name`` is not unique, ``df[name]`` itself (a DataFrame,
    which the callers refuse as before); with a pandas without
    ``DataFrame._get_column_array``, ``df[name].array``.
    """
    loc = df.columns.get_loc(name)
    if not isinstance(loc, int):
        return df[name]
    try:
        return df._get_column_array(loc)
    except AttributeError:
        return df[name].array


@functools.lru_cache(maxsize=256)
def _column_index(names: tuple) -> pd.Index:
    """``pd.Index(list(names))``, made once (~20-60 us) for a batch's many tables of the
    same columns; each table gets a shallow copy (its own name, the lookup table shared)."""
    return pd.Index(list(names))


def frame_from_arrays(arrays: list, columns, n: int) -> pd.DataFrame:
    """A DataFrame of these ``n``-long 1-D arrays, taken as they are (no inference, no check).

    pandas' ``DataFrame._from_arrays`` with a copy of a columns Index made once per
    column list: ~35 us for 14 columns instead of ~100 us for ``pd.DataFrame``. The
    caller gives arrays of the types ``pd.DataFrame`` would have made (the same
    table); a pandas without ``_from_arrays`` raises AttributeError, and the caller
    then uses ``pd.DataFrame``.
    """
    return pd.DataFrame._from_arrays(arrays, columns=_column_index(tuple(columns)).copy(),
                                     index=pd.RangeIndex(n), verify_integrity=False)


def str_array(values: list, dtype):
    """``pd.array(values, dtype=dtype)`` for a list of texts and missing values (None, NaN).

    For pandas' pyarrow-backed string dtypes (``str`` from pandas 3), the Arrow array
    is made by pyarrow directly and given to ``ArrowStringArray`` with its dtype
    (~5 us for 50 values instead of ~25 us): the array ``pd.array`` makes, which
    converts the values to text and then does the same. Other values or dtypes, or
    a pandas whose ``ArrowStringArray`` takes no dtype (< 3), go through ``pd.array``.
    """
    if (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"
            and all(type(v) is str or v is None or (type(v) is float and math.isnan(v))
                    for v in values)):
        try:
            return pd.arrays.ArrowStringArray(
                pa.array(values, type=pa.large_string(), from_pandas=True), dtype=dtype)
        except TypeError:
            pass
    return pd.array(values, dtype=dtype)
