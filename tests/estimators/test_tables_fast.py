"""The analysis tables are built without pandas' general inference: the same frames.

``analysis._frame`` hands pandas typed arrays instead of lists and ``pairs.column``
reads a column without building a Series; both only save time. These tests hold
them to ``pd.DataFrame(lists)`` and ``dat[name]`` exactly, whatever pandas is installed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mrbook import analysis
from mrbook.pairs import column

COLUMNS = {
    "strings": ["ieu-a-2", "ieu-a-7", "é ü 中"],
    "one_string": ["x"],
    "floats": [0.1, float("nan"), -2.5],
    "numpy_floats": [np.float64(1.5), 2.0, np.float64("nan")],
    "ints": [1, 2, 3],
    "big_ints": [2**63 - 1, -(2**63), 0],
    "huge_int": [2**64, 1, 2],
    "none": [None, None, None],
    "strings_and_none": ["a", None, "b"],
    "bools": [True, False, True],
    "mixed_numbers": [1, 2.5, 3],
    "numpy_array": np.array([1.0, 2.0, 3.0]),
}


@pytest.mark.parametrize("name", list(COLUMNS))
def test_frame_equals_pandas_inference(name):
    values = COLUMNS[name]
    n = len(values)
    cols = {"pair": ["p"] * n, name: values}
    got = analysis._frame(cols, ["pair", name])
    want = pd.DataFrame({"pair": ["p"] * n, name: values})
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert list(got.dtypes) == list(want.dtypes)
    for c in got.columns:
        a, b = got[c].array, want[c].array
        assert type(a) is type(b)
        if hasattr(b, "_pa_array"):                     # the same Arrow type (large_string)
            assert a._pa_array.type == b._pa_array.type


def test_empty_tables_keep_their_columns():
    for columns in (analysis.HET_COLUMNS, analysis.PLEIO_COLUMNS):
        t = analysis._table([], columns)
        assert list(t.columns) == columns and len(t) == 0


def test_column_is_the_frames_column_and_read_only():
    dat = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"], "c": [1, 2]})
    for name in dat.columns:
        got = column(dat, name)
        want = dat[name].array
        assert np.array_equal(np.asarray(got), np.asarray(want))
    v = column(dat, "a")
    assert isinstance(v, np.ndarray) and not v.flags.writeable
    with pytest.raises(ValueError):
        v[0] = 5.0
    assert dat["a"].tolist() == [1.0, 2.0]
    with pytest.raises(KeyError):
        column(dat, "missing")


def test_column_with_duplicate_names_takes_pandas_path():
    dat = pd.DataFrame([[1.0, 2.0]], columns=["a", "a"])
    with pytest.raises((ValueError, AttributeError, TypeError)):
        # pandas' own behaviour for a duplicated name (a DataFrame, no .array)
        column(dat, "a")
