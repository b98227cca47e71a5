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
        t = analysis.Rows([], columns).table()
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


def _pairs_table():
    """Three pairs (4, 2 and 1 SNPs; one SNP without mr_keep) for the one-pass analyses."""
    g = np.random.default_rng(5)
    ids = ["a"] * 5 + ["b"] * 2 + ["c"]
    n = len(ids)
    bx = g.uniform(0.05, 0.1, n)
    return pd.DataFrame({"SNP": [f"rs{i}" for i in range(n)], "beta.exposure": bx,
                         "se.exposure": np.full(n, 0.01), "beta.outcome": 0.2 * bx + g.normal(0, 0.01, n),
                         "se.outcome": np.full(n, 0.01), "id.exposure": ids, "id.outcome": "y",
                         "exposure": [f"X {i}" for i in ids], "outcome": "Y",
                         "mr_keep": [True] * 4 + [False] + [True] * 3})


@pytest.mark.parametrize("nboot", [1000, 50])
def test_mr_tables_are_the_three_functions_tables(nboot):
    dat = _pairs_table()
    params = analysis.Params(nboot=nboot)
    methods = ["mr_egger_regression", "mr_weighted_median", "mr_ivw", "mr_simple_mode",
               "mr_wald_ratio"]
    got = analysis.mr_tables(dat, methods=methods, params=params, seed=7)
    want = {"results": analysis.run_mr(dat, methods=methods, params=params, seed=7),
            "heterogeneity": analysis.heterogeneity(dat), "pleiotropy": analysis.pleiotropy(dat)}
    assert list(got) == list(want)
    for name, table in want.items():
        pd.testing.assert_frame_equal(got[name], table, check_exact=True)


def _table_of(columns, *rows):
    return analysis.Rows([dict(zip(columns, r)) for r in rows], list(columns))


@pytest.mark.parametrize("case", ["same", "mixed_reason", "none_and_str", "other_columns",
                                  "empty_part", "ints_and_floats"])
def test_stack_tables_is_concat_of_the_parts_tables(case):
    cols = ["id", "n", "b", "reason"]
    parts = {
        "same": [_table_of(cols, ("a", 1, 0.5, None), ("a", 2, np.nan, None)),
                 _table_of(cols, ("b", 3, 1.5, None))],
        "mixed_reason": [_table_of(cols, ("a", 1, 0.5, None), ("a", 2, 0.1, "not run")),
                         _table_of(cols, ("b", 3, 1.5, None))],
        "none_and_str": [_table_of(cols, ("a", 1, 0.5, None)), _table_of(cols, ("b", 3, 1.5, "x"))],
        "other_columns": [_table_of(cols, ("a", 1, 0.5, None)),
                          _table_of(cols + ["extra"], ("b", 3, 1.5, None, 2.0))],
        "empty_part": [analysis.Rows([], cols), _table_of(cols, ("b", 3, 1.5, None))],
        "ints_and_floats": [_table_of(cols, ("a", 1, 0.5, None)), _table_of(cols, ("b", 3.0, 1, None))],
    }[case]
    got = analysis.stack_tables(parts)
    want = pd.concat([p.table() for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert list(got.dtypes.astype(str)) == list(want.dtypes.astype(str))
    assert type(got.index) is type(want.index)


def test_mr_rows_reuses_no_fit_that_depends_on_the_stream():
    """Robust MR-Egger's fit depends on the stream's seed: heterogeneity's own fit is kept."""
    dat = _pairs_table()
    methods = ["mr_egger_robust", "mr_ivw"]
    het = ["mr_egger_robust", "mr_ivw"]
    got = analysis.mr_rows(dat, methods=methods, seed=7, het_methods=het)
    pd.testing.assert_frame_equal(got["results"].table(),
                                  analysis.run_mr(dat, methods=methods, seed=7), check_exact=True)
    pd.testing.assert_frame_equal(got["heterogeneity"].table(),
                                  analysis.heterogeneity(dat, methods=het), check_exact=True)
