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

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = ["Columns", "Rows", "column_array", "frame_from_arrays", "str_array"]


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
    table); a pandas without ``_from_arrays`` gets that table from ``pd.DataFrame``.
    """
    if not hasattr(pd.DataFrame, "_from_arrays"):
        return pd.DataFrame(dict(zip(columns, arrays)), index=pd.RangeIndex(n), copy=False)
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


class Columns:
    """A table as its column arrays, made into a DataFrame on demand: whole
    (:meth:`frame`, made once) or only some of its rows (:meth:`rows`).

    A caller that keeps a few rows of a table it reads column by column (the
    harmonised table of a pair, of which the instruments keep some rows) makes one
    DataFrame instead of two.

    Parameters
    ----------
    arrays : list
        The ``n``-long 1-D arrays, of the types ``pd.DataFrame`` keeps
        (:func:`frame_from_arrays`).
    columns : sequence of str
        Their names (unique).
    n : int
        The number of rows.
    frame : DataFrame, optional
        The table itself, when it is already made (:meth:`of`).

    Attributes
    ----------
    attrs : dict
        What the table's ``DataFrame.attrs`` would hold; the frames made here get none.
    """

    def __init__(self, arrays: list, columns, n: int, frame: pd.DataFrame | None = None):
        self.arrays, self.columns, self.n = list(arrays), list(columns), n
        self._frame = frame
        self.attrs: dict = {}

    @classmethod
    def of(cls, frame: pd.DataFrame) -> "Columns":
        """The columns of a DataFrame (:meth:`frame` returns it; its ``attrs`` are copied)."""
        out = cls([frame.iloc[:, i].array for i in range(frame.shape[1])], frame.columns,
                  len(frame), frame)
        out.attrs = dict(frame.attrs)
        return out

    def __len__(self) -> int:
        return self.n

    def column(self, name: str):
        """The values of column ``name`` (read-only)."""
        return self.arrays[self.columns.index(name)]

    def frame(self) -> pd.DataFrame:
        """The table (made on the first call; the same DataFrame each time)."""
        if self._frame is None:
            self._frame = frame_from_arrays(self.arrays, self.columns, self.n)
        return self._frame

    def rows(self, pos) -> pd.DataFrame:
        """A new table of the rows at positions ``pos``, numbered from 0: that of
        ``frame().take(pos)`` with a ``RangeIndex``, made from the arrays' rows."""
        at = Rows(pos)
        return frame_from_arrays([at.take(a) for a in self.arrays], self.columns, len(at))


class Rows:
    """Row positions (non-negative) to take from several columns.

    :meth:`take` is ``values.take(pos)``; pandas' Arrow-backed strings are taken by
    pyarrow with one Arrow index array for all the columns (~8 us a column instead
    of ~13 us), and given to ``ArrowStringArray`` with their dtype: the array
    pandas' own ``take`` makes the same way.

    Parameters
    ----------
    pos : sequence of int
        The positions.
    """

    def __init__(self, pos):
        self.pos = np.asarray(pos, dtype=np.intp)
        self._arrow = None

    def __len__(self) -> int:
        return len(self.pos)

    def take(self, values):
        """``values.take(pos)`` of a numpy or pandas array ``values``."""
        if isinstance(values, pd.arrays.ArrowStringArray):
            if self._arrow is None:
                self._arrow = pa.array(self.pos)
            try:
                return pd.arrays.ArrowStringArray(values.__arrow_array__().take(self._arrow),
                                                  dtype=values.dtype)
            except TypeError:  # a pandas whose ArrowStringArray takes no dtype (< 3)
                pass
        return values.take(self.pos)
