"""mrbook batch: the final tables are read from the chunks as pandas would, byte for byte.

:func:`mrbook.batch.store.finalise` reads the chunk files in Arrow and converts each run of
files of one layout once. The tables it writes must be the files the plain pandas way
gives (``pd.read_parquet`` of every chunk file, its owned rows, ``pd.concat``, rows in
manifest order): the same dtypes, pandas metadata, attrs and bytes. The chunks here are
made to differ the ways real ones do (columns in another order, an all-None column that
is text elsewhere, object columns of bools or ints with None, a categorical, a column
only some chunks have, attrs, chunks none of whose rows are owned) and the ways they
might (every file left without rows).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pandas.testing import assert_frame_equal

from mrbook.batch import store


def _pandas_way(out, name, own, rows):
    """The table as pandas reads it: every owned chunk file, its owned rows, manifest order."""
    by_chunk: dict = {}
    for k, c in own.items():
        by_chunk.setdefault(c, set()).add(k)
    frames = []
    for chunk, keys in sorted(by_chunk.items()):
        f = out / "chunks" / chunk / f"{name}.parquet"
        if f.is_file():
            t = pd.read_parquet(f)
            frames.append(t[t["pair_key"].isin(keys)])
    if not frames:
        return None
    t = pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)
    return t.assign(_o=t["pair_key"].map(rows)).sort_values("_o", kind="stable") \
        .drop(columns="_o").reset_index(drop=True)


def _chunk_frame(g, keys, attrs, odds):
    """A chunk's table of ``keys`` (0-3 rows each), its columns drawn at random.

    ``odds``: the folder's chances of nulls in the int and bool columns, of a
    categorical column, of an extra column, of an all-None column.
    """
    n_rows = g.integers(0, 4, size=len(keys))
    n = int(n_rows.sum())
    cols = {"pair_key": pd.array(np.repeat(keys, n_rows).tolist(), dtype="str"),
            "snp": pd.array([f"rs{g.integers(1e6)}" for _ in range(n)], dtype="str"),
            "b": np.where(g.random(n) < 0.2, np.nan, g.normal(size=n))}
    nulls = g.random(n) < 0.3 if g.random() < odds[0] else np.zeros(n, dtype=bool)
    ints = g.integers(0, 50, size=n)
    cols["n"] = ([None if z else int(i) for z, i in zip(nulls, ints)] if nulls.any()
                 else ints.astype(np.int64))  # object ints with None: float64 or object back
    flags = g.random(n) < 0.5
    cols["flag"] = ([None if z else bool(f) for z, f in zip(nulls, flags)] if nulls.any()
                    else flags)
    cols["note"] = ([None] * n if g.random() < odds[3]
                    else pd.array([None if g.random() < 0.5 else "why" for _ in range(n)],
                                  dtype="str"))
    if g.random() < odds[1]:
        cats = sorted(g.choice(list("abcd"), size=2, replace=False))  # one count, other values
        cols["cat"] = pd.Categorical(g.choice(cats, size=n), categories=cats)
    if g.random() < odds[2]:
        cols["extra"] = g.normal(size=n)
    names = list(cols)
    if g.random() < 0.5:  # another column order (as the LD-proxy columns of harmonised)
        names = [names[0]] + list(g.permutation(names[1:]))
    df = pd.DataFrame({c: cols[c] for c in names})
    if attrs == "same" or (attrs == "some" and g.random() < 0.5):
        df.attrs["source"] = "chunk"
    return df


def _folder(tmp_path, seed, attrs):
    """A batch folder of random chunks of table ``t``, the pairs each chunk owns, manifest rows."""
    g = np.random.default_rng(seed)
    keys = [f"p{i}" for i in range(12)]
    own, chunks = {}, []
    odds = g.random(4) ** 2  # mostly rare: runs of chunks of one layout
    for c in range(int(g.integers(1, 7))):
        name = f"r{1 + c // 3:04d}-c{c:05d}"
        ks = list(g.choice(keys, size=int(g.integers(1, 5)), replace=False))
        folder = tmp_path / "chunks" / name
        folder.mkdir(parents=True)
        _chunk_frame(g, ks, attrs, odds).to_parquet(folder / "t.parquet", index=False)
        chunks.append((name, ks))
    for k in keys:  # a pair's rows come from one of the chunks that hold it (or none)
        holders = [name for name, ks in chunks if k in ks]
        if holders and g.random() < 0.8:
            own[k] = holders[int(g.integers(len(holders)))]
    if g.random() < 0.1:  # no owned rows anywhere: the first file's empty table
        own = {k: c for k, c in own.items() if c == chunks[0][0]}
    rows = {k: int(r) for k, r in zip(keys, g.permutation(len(keys)) + 1)}
    return own, rows


def _same_file(got, want, tmp_path):
    """Two tables written by :func:`store.write_parquet` give the same bytes."""
    store.write_parquet(got, tmp_path / "got.parquet")
    store.write_parquet(want, tmp_path / "want.parquet")
    return (tmp_path / "got.parquet").read_bytes() == (tmp_path / "want.parquet").read_bytes()


@pytest.mark.parametrize("attrs", ["none", "same", "some"])
@pytest.mark.parametrize("seed", range(40))
def test_owned_rows_in_arrow_are_the_pandas_tables(seed, attrs, tmp_path):
    own, rows = _folder(tmp_path, seed, attrs)
    want = _pandas_way(tmp_path, "t", own, rows)
    got = store._owned_frame(store._read_parts(tmp_path, "t", own)())
    if want is None:
        assert got is None
        return
    got = store._sort(got, rows)
    assert_frame_equal(got, want, check_exact=True)
    assert list(got.dtypes.astype(str)) == list(want.dtypes.astype(str))
    assert got.attrs == want.attrs and type(got.index) is type(want.index)
    assert _same_file(got, want, tmp_path)


@pytest.mark.parametrize("seed", range(6))
def test_without_pandas_arrow_converter_read_parquet_converts(seed, tmp_path, monkeypatch):
    own, rows = _folder(tmp_path, seed, "some")
    want = _pandas_way(tmp_path, "t", own, rows)
    monkeypatch.setattr(store, "_arrow_to_pandas", None)  # pandas < 2.3
    got = store._owned_frame(store._read_parts(tmp_path, "t", own)())
    if want is None:
        assert got is None
        return
    got = store._sort(got, rows)
    assert got.attrs == want.attrs and _same_file(got, want, tmp_path)


@pytest.mark.parametrize("seed", range(20))
def test_owners_are_where_done_else_where_last_failed(seed):
    g = np.random.default_rng(seed)
    keys = [f"p{i}" for i in range(8)]
    chunk_pairs = []
    for c in range(int(g.integers(0, 6))):
        ks = list(g.choice(keys + [None], size=int(g.integers(0, 5)), replace=False))
        status = list(g.choice(["done", "failed", None], size=len(ks)))
        chunk_pairs.append((f"r{c:04d}-c00000", pa.table({"pair_key": pa.array(ks, pa.string()),
                                                          "status": pa.array(status,
                                                                             pa.string())})))
    planned = keys[: int(g.integers(0, 9))]
    # the pandas way: the first chunk that did a pair, else the last where it failed
    frames = [t.to_pandas().assign(chunk=name) for name, t in chunk_pairs]
    st = pd.concat(frames, ignore_index=True) if frames else \
        pd.DataFrame(columns=["pair_key", "status", "chunk"])
    st = st[st["pair_key"].isin(set(planned))]
    done = st[st["status"] == "done"].drop_duplicates("pair_key", keep="first")
    want = dict(zip(done["pair_key"], done["chunk"]))
    failed = st[(st["status"] != "done") & ~st["pair_key"].isin(set(want))]
    want.update(zip(*failed.drop_duplicates("pair_key", keep="last")[["pair_key", "chunk"]]
                    .T.to_numpy()))
    assert store._owners(chunk_pairs, planned) == want
