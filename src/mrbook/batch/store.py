"""Batch layer: a batch's folder, chunks written atomically, resuming, the final Parquet tables.

Layout of the output folder ``DIR``::

    batch.json              the settings of the batch (a resumed batch must match them)
    .run-r0003-<random>     while a Dask run goes on: its marker (workers that see it
                            write their chunks themselves, :class:`ChunkTarget`)
    chunks/r0001-c00003/    one folder per finished chunk of pairs, written whole
                            (a temporary folder renamed into place): its pairs.parquet,
                            errors.parquet and the pairs' tables
    results.parquet         one row per pair x method (b, se, pval, or, CI, pval_fdr ...)
    heterogeneity.parquet   Cochran's Q per pair (IVW, MR Egger)
    pleiotropy.parquet      MR-Egger intercept per pair
    exclusions.parquet      every SNP that left a pair: step and reason
    harmonised.parquet      every pair's instruments, harmonised (TwoSampleMR columns)
    pairs.parquet           one row per pair: status and the SNP counts of every step
    presso.parquet          MR-PRESSO per pair (when presso_n_distribution > 0)
    mvmr.parquet            multivariable rows (A+B): pair x exposure x method, with the
                            pair's id (pair_id), conditional F and the BH FDR per method
    mv_heterogeneity.parquet  multivariable rows: Q and the MR-Egger intercept per pair
    errors.csv              pairs that failed: step and one-line message
    summary.json            counts, engine, workers, seconds per stage

A pair belongs to exactly one chunk: the chunk where it was done, or, while it
is not done, the latest chunk where it failed (a re-run retries failed pairs).
The final tables are rebuilt from the chunks at the end of every run, each file
written to a temporary name and renamed, so no file is ever half-written and a
pair is never counted twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ParameterError
from ..output import VERSION, dumps

#: the tables a chunk may hold besides pairs and errors, and the final file of each
TABLES = ("results", "heterogeneity", "pleiotropy", "exclusions", "harmonised", "presso", "mvmr",
          "mv_heterogeneity")
#: the tables written only when the batch has rows of them
OPTIONAL_TABLES = ("presso", "mvmr", "mv_heterogeneity")
#: the first columns of results.parquet, in this order (the others follow)
RESULT_COLUMNS = ["id_exposure", "id_outcome", "exposure", "outcome", "method", "nsnp", "b", "se",
                  "pval", "or", "or_lci95", "or_uci95", "pval_fdr"]
ERROR_FILE_COLUMNS = ["row", "exposure_source", "outcome_source", "id_exposure", "id_outcome",
                      "exposure", "outcome", "step", "message"]


def _atomic_bytes(path: Path, write) -> None:
    """Write a file through ``write(tmp_path)`` and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_parquet(table: pd.DataFrame, path: Path) -> None:
    """``table`` as Parquet (no index), atomically."""
    _atomic_bytes(path, lambda tmp: table.to_parquet(tmp, index=False))


def write_json(obj: dict, path: Path) -> None:
    _atomic_bytes(path, lambda tmp: Path(tmp).write_text(dumps(obj), encoding="utf-8"))


# --------------------------------------------------------------------------- the folder

def open_folder(out: str | Path, settings, manifest: str | Path) -> Path:
    """Create (or reopen) a batch folder; a folder of a batch with other settings is refused.

    Raises
    ------
    ParameterError
        ``DIR`` holds a batch run with other parameters or another mrbook version,
        a ``batch.json`` that is not a batch record, or files of something else.
    OutputError
        ``DIR`` is a file, ``-``, below a file, or cannot be created or written
        (read-only or full disk); nothing is left behind.
    """
    from ..output import check_output_dir, make_dirs, os_reason, remove_dirs
    from ..errors import OutputError

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ParameterError(f"--out {out}: is a file, not a folder")
    check_output_dir(out, what="batch folder (--out)")
    meta_path = out / "batch.json"
    want = {"mrbook_version": VERSION, "fingerprint": settings.fingerprint(),
            "settings": settings.as_dict()}
    again = "use another --out folder, or delete this one to start again"
    if meta_path.is_dir():
        raise ParameterError(f"{meta_path}: is a folder, expected the record of a batch (a JSON "
                             f"file); {again}")
    if meta_path.is_file():
        try:
            have = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            have = None
        if not isinstance(have, dict) or "fingerprint" not in have:
            raise ParameterError(f"{meta_path}: not a batch record (expected the JSON file "
                                 f"'mrbook batch' writes); {again}")
        if have.get("fingerprint") != want["fingerprint"]:
            if have.get("mrbook_version") != VERSION:
                raise ParameterError(f"--out {out} holds a batch of mrbook "
                                     f"{have.get('mrbook_version')} (this is {VERSION}), whose "
                                     f"results cannot be mixed with this version's; {again}")
            old = have.get("settings") if isinstance(have.get("settings"), dict) else {}
            diff = [k for k in want["settings"] if old.get(k) != want["settings"][k]]
            what = ", ".join(f"{k} {old.get(k)!r} -> {want['settings'][k]!r}" for k in diff[:3])
            raise ParameterError(f"--out {out} holds a batch run with other parameters "
                                 f"({what or 'settings differ'}); {again}")
        if (out / "chunks").is_dir():  # chunks a killed run left half-written
            for d in (out / "chunks").glob(".r*"):
                shutil.rmtree(d, ignore_errors=True)
        for m in out.glob(f"{MARKER_PREFIX}*"):  # the marker of a killed run (ChunkTarget)
            m.unlink(missing_ok=True)
        return out
    elif out.exists() and any(p.name != "chunks" for p in out.iterdir()) \
            and not (out / "chunks").is_dir():
        names = sorted(p.name for p in out.iterdir())[:3]
        raise ParameterError(f"--out {out} is not empty and not a batch folder ({', '.join(names)}"
                             " ...); use a new or empty folder")
    created = make_dirs(out)
    try:
        write_json(dict(want, manifest=str(Path(manifest).resolve())), meta_path)
    except OSError as exc:
        remove_dirs(created)
        raise OutputError(f"cannot write the batch record ({os_reason(exc)})", meta_path) from None
    return out


def _chunk_dirs(out: Path) -> list[Path]:
    d = out / "chunks"
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if p.is_dir() and p.name.startswith("r"))


def next_run(out: Path) -> int:
    """The number of this run (1 + the last run that wrote a chunk)."""
    runs = [int(p.name[1:5]) for p in _chunk_dirs(out) if p.name[1:5].isdigit()]
    return max(runs, default=0) + 1


def chunk_folder(out: Path, run: int, index: int) -> Path:
    """The folder of chunk ``index`` of run ``run``: ``chunks/r<run>-c<index>``."""
    return Path(out) / "chunks" / f"r{run:04d}-c{index:05d}"


def write_chunk(out: Path, run: int, result, wanted=None) -> Path | None:
    """Write a chunk's tables into ``chunks/r<run>-c<index>/``, all or nothing, once.

    The files go to a temporary folder first, which is then renamed: a chunk
    folder exists only when every one of its files is complete. A chunk folder
    that exists already (an earlier attempt of the same task of this run, whose
    worker died after writing it, or a twin attempt that renamed first) is kept
    as it is: the rows of a chunk are written once.

    Parameters
    ----------
    wanted : callable, optional
        Asked just before the rename; when it returns False (the run that asked
        for the chunk is over) nothing is written and None is returned.
    """
    final = chunk_folder(out, run, result.index)
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        result.pairs.to_parquet(tmp / "pairs.parquet", index=False)
        result.errors.to_parquet(tmp / "errors.parquet", index=False)
        for name, table in result.tables.items():
            table.to_parquet(tmp / f"{name}.parquet", index=False)
        if wanted is not None and not wanted():
            shutil.rmtree(tmp, ignore_errors=True)
            return None
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # the twin attempt renamed first
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


#: the name of a run's marker file in the batch folder (``.run-r0003-<random>``)
MARKER_PREFIX = ".run-r"


@dataclass
class ChunkWritten:
    """What the client gets back from a worker that wrote its chunk's folder itself.

    Attributes
    ----------
    index : int
        The chunk's index.
    folder : str
        The chunk folder's name (``r0003-c00012``).
    done, failed : int
        Its pairs done and failed.
    seconds : float
        The task's seconds (0 when an earlier attempt wrote the folder).
    """

    index: int
    folder: str
    done: int
    failed: int
    seconds: float = 0.0


def chunk_written(folder: Path, pairs: pd.DataFrame | None = None, seconds: float = 0.0,
                  index: int | None = None) -> ChunkWritten:
    """The :class:`ChunkWritten` of a chunk folder (its pairs' status from ``pairs``, or read)."""
    if pairs is None:
        pairs = pd.read_parquet(folder / "pairs.parquet", columns=["status"])
    done = int((pairs["status"] == "done").sum())
    if index is None:
        index = int(folder.name.rsplit("-c", 1)[1])
    return ChunkWritten(index=index, folder=folder.name, done=done, failed=len(pairs) - done,
                        seconds=seconds)


@dataclass(frozen=True)
class ChunkTarget:
    """Where the workers of a Dask run write its chunks themselves.

    A worker writes a chunk's folder only when it sees the run's marker file, a
    file with a random name the client created in the batch folder for this run:
    then the worker and the client share the folder (a LocalCluster, or a
    cluster whose workers mount the same file system). A worker that does not
    see it, or cannot write there, sends the chunk's tables back and the client
    writes them (:func:`run_chunk`).

    Attributes
    ----------
    out : str
        The batch folder, absolute.
    run : int
        The run's number (its chunk folders are ``chunks/r<run>-c<index>``).
    marker : str
        The name of the run's marker file in ``out``.
    """

    out: str
    run: int
    marker: str

    def visible(self) -> bool:
        """Whether this process sees the run's marker (shares the client's batch folder)."""
        return (Path(self.out) / self.marker).is_file()


def open_target(out: Path, run: int) -> ChunkTarget | None:
    """Create the run's marker file; None when it cannot be written (the client writes)."""
    target = ChunkTarget(out=str(Path(out).resolve()), run=run,
                         marker=f"{MARKER_PREFIX}{run:04d}-{uuid.uuid4().hex}")
    try:
        (Path(target.out) / target.marker).write_text("mrbook batch run\n", encoding="utf-8")
    except OSError:
        return None
    return target


def close_target(target: ChunkTarget | None) -> None:
    """Remove the run's marker and the temporary folders of chunk writes a dead worker left."""
    if target is None:
        return
    out = Path(target.out)
    (out / target.marker).unlink(missing_ok=True)
    for d in (out / "chunks").glob(f".r{target.run:04d}-c*"):
        shutil.rmtree(d, ignore_errors=True)


def run_chunk(target: ChunkTarget | None, task, chunk, *args):
    """Run a chunk's task on a worker and write its folder there, once; return a summary.

    Parameters
    ----------
    target : ChunkTarget or None
        The run's batch folder (None: the client writes every chunk).
    task : callable
        ``task(chunk, *args)`` -> a chunk result (:class:`mrbook.batch.tasks.ChunkResult`).
    chunk : mrbook.batch.plan.Chunk

    Returns
    -------
    ChunkWritten or ChunkResult
        :class:`ChunkWritten` when this worker (or an earlier attempt of the same
        task, whose worker then died) wrote the chunk's folder; the task's result
        itself when the worker does not share the batch folder or cannot write to
        it (the client writes it then, :func:`write_chunk`).

    Notes
    -----
    Dask runs a task again when its worker dies. The folder's name depends only on
    the run and the chunk, it appears by one rename, and a folder that exists is
    never written again, so a chunk is neither written twice nor half-written,
    whether its worker died before, during or after the write. A run that is over
    has no marker any more (:func:`close_target`; :func:`open_folder` removes a killed
    run's), so a task of it still running on an existing cluster writes nothing.
    """
    if target is None or not target.visible():
        return task(chunk, *args)
    final = chunk_folder(Path(target.out), target.run, chunk.index)
    if final.is_dir():  # an earlier attempt wrote it, then its worker died
        return chunk_written(final, index=chunk.index)
    result = task(chunk, *args)
    try:
        # the marker is asked again before the rename: a worker still running a task of
        # a run that is over (its client killed, the folder resumed since) writes nothing
        final = write_chunk(Path(target.out), target.run, result, wanted=target.visible)
    except OSError:
        final = None  # a folder this worker cannot write
    if final is None:
        return result  # the client writes it, if it is still there
    return chunk_written(final, result.pairs, result.seconds, result.index)


def _read_arrow(path: Path):
    """A Parquet file as the Arrow table :func:`pandas.read_parquet` reads (its pandas metadata kept)."""
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as f:
        return f.read(use_pandas_metadata=True, use_threads=False)


def _read_pairs(path: Path):
    """A chunk's pairs table (Arrow); None when it cannot be read (not a complete chunk)."""
    try:
        t = _read_arrow(path)
    except (OSError, ValueError):
        return None
    return t if {"pair_key", "status"} <= set(t.column_names) else None


def _chunk_pairs(out: Path, pool=None) -> list[tuple[str, object]]:
    """``(chunk folder name, its pairs table in Arrow)`` of every complete chunk, in chunk order.

    ``pool`` (a :class:`concurrent.futures.Executor`) reads the files side by side.
    """
    dirs = _chunk_dirs(out)
    tables = (pool.map if pool is not None else map)(_read_pairs,
                                                     [d / "pairs.parquet" for d in dirs])
    return [(d.name, t) for d, t in zip(dirs, tables) if t is not None]


def _key_status(pairs) -> zip:
    """``(pair_key, status)`` of every row of a chunk's pairs table (Arrow)."""
    return zip(pairs.column("pair_key").to_pylist(), pairs.column("status").to_pylist())


def done_keys(out: Path) -> set[str]:
    """Keys of the pairs some earlier chunk finished (a resumed batch skips them)."""
    return {k for _, t in _chunk_pairs(out) for k, s in _key_status(t) if s == "done"}


def _owners(chunk_pairs, keys) -> dict[str, str]:
    """:func:`owners` from the chunks' pairs tables (:func:`_chunk_pairs`)."""
    keys = set(keys)
    own: dict[str, str] = {}
    failed: dict[str, str] = {}
    for chunk, t in chunk_pairs:
        for k, status in _key_status(t):
            if k not in keys:
                continue
            if status == "done":
                own.setdefault(k, chunk)
            else:
                failed[k] = chunk  # chunk folders sort by run: the latest failure wins
    own.update({k: c for k, c in failed.items() if k not in own})
    return own


def owners(out: Path, keys) -> dict[str, str]:
    """The chunk each pair's rows come from: where it was done, else where it last failed."""
    return _owners(_chunk_pairs(out), keys)


# --------------------------------------------------------------------------- the final tables

def bh_adjust(p) -> np.ndarray:
    """Benjamini-Hochberg adjusted P-values of one family, as
    ``scipy.stats.false_discovery_control(p, method="bh")`` computes them, bit for bit.

    Parameters
    ----------
    p : array_like
        P-values in [0, 1], one dimension (floats; other numbers become float64).

    Returns
    -------
    numpy.ndarray
        The adjusted P-values, in the order of ``p`` (``p`` itself when it has at
        most one value, as scipy returns it).

    Raises
    ------
    ValueError
        A value outside [0, 1] (NaN included), as scipy.

    Notes
    -----
    The same operations in the same order as scipy 1.17's numpy path, so that every
    rounding is the same: sort (``argsort``, its default kind), multiply the sorted
    values by the array ``m / i`` (``i`` = 1 ... m as floats), the running minimum
    from the largest down, back to the input order, clip to [0, 1]. Written here
    so that the batch's last step does not import :mod:`scipy.stats` (~0.5 s).
    """
    ps = np.asarray(p)
    if not np.issubdtype(ps.dtype, np.floating):
        ps = ps.astype(np.float64)
    if ps.ndim > 1:
        raise ValueError("one family of P-values at a time (one dimension)")
    if not np.all(ps == np.clip(ps, 0.0, 1.0)):
        raise ValueError("`ps` must include only numbers between 0 and 1.")
    if ps.size <= 1:
        return ps[()] if ps.ndim == 0 else ps
    m = ps.shape[-1]
    order = np.argsort(ps)
    q = ps[order]  # a copy (the caller's array is not written)
    i = np.arange(1, m + 1, dtype=q.dtype)
    q *= m / i
    np.minimum.accumulate(q[::-1], out=q[::-1])
    out = np.empty_like(q)
    out[order] = q
    return np.clip(out, 0.0, 1.0)


def bh_fdr(results: pd.DataFrame) -> pd.Series:
    """Benjamini-Hochberg FDR-adjusted P per method, over every pair of that method.

    Rows without a P-value (a method not run) get NaN and do not count;
    :func:`bh_adjust` (:func:`scipy.stats.false_discovery_control` with
    ``method="bh"``, bit for bit) adjusts the others, method by method.

    Notes
    -----
    With :math:`m` P-values of a method sorted :math:`p_{(1)} \\le \\dots \\le p_{(m)}`,
    :math:`q_{(i)} = \\min_{j \\ge i} \\min(1, m\\,p_{(j)}/j)`.

    References
    ----------
    Benjamini Y, Hochberg Y. Controlling the false discovery rate: a practical and
    powerful approach to multiple testing. J R Stat Soc B 1995;57:289-300.
    doi:10.1111/j.2517-6161.1995.tb02031.x
    """
    q = pd.Series(np.nan, index=results.index, dtype=float)
    p = results["pval"].astype(float)
    ok = p.notna() & np.isfinite(p)
    for _, idx in results[ok].groupby("method", sort=False).groups.items():
        q.loc[idx] = bh_adjust(p.loc[idx].to_numpy())
    return q


@dataclass(frozen=True)
class _Part:
    """One chunk's file of a final table.

    Attributes
    ----------
    table : pyarrow.Table
        The whole file, as :func:`pandas.read_parquet` reads it.
    keep : numpy.ndarray
        Which of its rows belong to pairs this chunk owns (bool).
    layout : tuple or None
        Its columns (names, types) and metadata, independent of their order, when
        every column converts to the same pandas dtype whatever rows it keeps; None
        otherwise (an integer or boolean column with nulls, a dictionary ...).
    """

    table: object
    keep: np.ndarray
    layout: tuple | None


def _layout(table, known: dict) -> tuple | None:
    """A part's :attr:`_Part.layout` (``known``: the layouts of schemas seen already).

    The pandas dtype a column gets from Arrow does not depend on its rows for
    strings, floats and all-null columns, nor for integer and boolean columns
    without nulls (with nulls they become float64 or object): the rows of such
    tables can be filtered and concatenated in Arrow and converted once, with the
    dtypes :func:`pandas.concat` of the converted tables would give.
    """
    import pyarrow.types as pt

    for col in table.columns:
        t = col.type
        if not (pt.is_string(t) or pt.is_large_string(t) or pt.is_floating(t) or pt.is_null(t)
                or ((pt.is_integer(t) or pt.is_boolean(t)) and col.null_count == 0)):
            return None
    schema = table.schema
    key = schema.serialize().to_pybytes()  # fields, types, field and schema metadata
    if key not in known:
        meta = dict(schema.metadata or {})
        pandas_meta = json.loads(meta.pop(b"pandas", b"{}"))
        pandas_meta["columns"] = sorted(pandas_meta.get("columns", []),
                                        key=lambda c: str(c.get("name")))
        fields = sorted(((f.name, f.type, f.nullable, f.metadata) for f in schema),
                        key=lambda f: f[0])
        unique = len(set(schema.names)) == len(schema.names)
        known[key] = (tuple(fields), json.dumps(pandas_meta, sort_keys=True),
                      tuple(sorted(meta.items()))) if unique else None
    return known[key]


def _by_chunk(own: dict[str, str]) -> dict[str, set[str]]:
    """The pairs each chunk owns (``own``: pair -> chunk)."""
    by_chunk: dict[str, set[str]] = {}
    for k, c in own.items():
        by_chunk.setdefault(c, set()).add(k)
    return by_chunk


def _parts(by_chunk: dict[str, set[str]], tables: dict) -> list[_Part]:
    """The files of a final table of the chunks that own pairs, in chunk order.

    ``by_chunk``: the pairs each chunk owns (:func:`_by_chunk`); ``tables``: chunk
    name -> the chunk's file of that table, read (a chunk without the file is left out).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    parts, known = [], {}
    for chunk, keys in sorted(by_chunk.items()):
        if chunk not in tables:
            continue
        t = tables[chunk]
        col = t.column("pair_key")
        if pa.types.is_null(col.type):  # no pair in it
            keep = np.zeros(len(col), dtype=bool)
        else:
            keep = pc.is_in(col, value_set=pa.array(sorted(keys), type=col.type)) \
                .to_numpy(zero_copy_only=False)
        parts.append(_Part(t, keep, _layout(t, known)))
    return parts


def _read_parts(out: Path, name: str, own: dict[str, str], pool=None):
    """Read the chunk files of table ``name``; a function that returns their parts (:func:`_parts`).

    With a ``pool`` (a :class:`concurrent.futures.Executor`) its threads read the
    files from the call on, and the function waits for them: the caller can work
    meanwhile. Without one, the function reads them.
    """
    by_chunk = _by_chunk(own)
    files = {c: out / "chunks" / c / f"{name}.parquet" for c in by_chunk}
    files = {c: f for c, f in files.items() if f.is_file()}
    read = (pool.map if pool is not None else map)(_read_arrow, files.values())
    return lambda: _parts(by_chunk, dict(zip(files, read)))


try:  # what pandas.read_parquet converts an Arrow table with (pandas >= 2.3)
    from pandas.io._util import arrow_table_to_pandas as _arrow_to_pandas
except ImportError:  # pragma: no cover - older pandas: through read_parquet itself
    _arrow_to_pandas = None


def _to_pandas(table) -> pd.DataFrame:
    """An Arrow table as :func:`pandas.read_parquet` would return it from a file of it."""
    if _arrow_to_pandas is None:
        import io

        import pyarrow.parquet as pq

        buf = io.BytesIO()
        pq.write_table(table, buf)
        return pd.read_parquet(io.BytesIO(buf.getvalue()))
    df = _arrow_to_pandas(table)
    attrs = (table.schema.metadata or {}).get(b"PANDAS_ATTRS")
    if attrs is not None:
        df.attrs = json.loads(attrs)
    return df


def _run_frame(run: list[_Part]) -> pd.DataFrame:
    """The kept rows of consecutive parts of one layout, as one DataFrame."""
    import pyarrow as pa

    first = run[0]
    if first.layout is None:  # converted whole, then filtered, as pandas reads it
        df = _to_pandas(first.table)
        return df[first.keep]
    names = first.table.column_names
    tables = []
    for p in run:
        t = p.table if p.table.column_names == names else p.table.select(names)
        tables.append(t if p.keep.all() else t.filter(p.keep))
    return _to_pandas(tables[0] if len(tables) == 1 else pa.concat_tables(tables))


def _owned_frame(parts: list[_Part]) -> pd.DataFrame | None:
    """The owned rows of a table's chunk files, in chunk order; None when there is no file.

    The same frame as :func:`pandas.concat` (``ignore_index``) of every file read by
    :func:`pandas.read_parquet` and filtered to its owned rows, the files left without
    rows left out (all of them: the first one kept): consecutive files of one
    :attr:`_Part.layout` are filtered and concatenated in Arrow and converted once,
    the others one by one.
    """
    if not parts:
        return None
    kept = [p for p in parts if p.keep.any()] or parts[:1]
    runs: list[list[_Part]] = []
    for p in kept:
        if runs and p.layout is not None and p.layout == runs[-1][0].layout:
            runs[-1].append(p)
        else:
            runs.append([p])
    return pd.concat([_run_frame(run) for run in runs], ignore_index=True)


def _sort(t: pd.DataFrame, rows: dict[str, int]) -> pd.DataFrame:
    """Pairs in manifest order, each pair's rows in the order they were made."""
    # a pair's row looked up once, not once per table row (a key not planned sorts last)
    codes, keys = pd.factorize(t["pair_key"], use_na_sentinel=False)
    order = np.array([rows.get(k, np.nan) for k in keys.tolist()])[codes] if len(t) else \
        np.zeros(0, dtype=np.int64)
    return t.assign(_o=order).sort_values("_o", kind="stable").drop(columns="_o") \
        .reset_index(drop=True)


#: the summary's counts that describe the final tables (kept when they are not rebuilt)
_COUNTS = ("pairs_planned", "pairs_done_total", "pairs_failed", "pairs_not_run", "rows")


def tables_basis(out: Path, keys) -> dict:
    """What the final tables are built from: the chunk folders and the planned pairs, in order.

    Chunk folders never change once renamed into place, so two runs that see the same
    chunk folders and plan the same pairs build the same final tables, byte for byte.
    """
    digest = hashlib.sha256("\n".join(keys).encode("utf-8")).hexdigest()
    return {"chunks": [d.name for d in _chunk_dirs(out)], "pairs_sha256": digest}


def _unchanged(out: Path, basis: dict) -> dict | None:
    """The previous summary when its tables were built from ``basis`` and are all there."""
    try:
        prev = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(prev, dict) or prev.get("tables_basis") != basis or \
            not all(key in prev for key in _COUNTS) or not isinstance(prev["rows"], dict):
        return None
    files = [f"{name}.parquet" for name in prev["rows"]] + ["pairs.parquet", "errors.csv"]
    return prev if all((out / f).is_file() for f in files) else None


def finalise(out: Path, pairs, summary: dict) -> dict:
    """Build the final tables of the planned pairs from the chunks; write them and the summary.

    Parameters
    ----------
    out : Path
        The batch folder.
    pairs : list of PairSpec
        The pairs of the manifest (pairs of earlier manifests are left out).
    summary : dict
        What the run knows (engine, workers, seconds ...); the counts are added.

    Returns
    -------
    dict
        The summary as written to ``summary.json``.

    Notes
    -----
    When the previous ``summary.json`` was written from the same chunk folders and
    the same planned pairs (:func:`tables_basis`), and its tables are all there,
    they are kept as they are (a resumed batch with nothing left to run); only the
    summary is rewritten, with ``tables_rebuilt: false``.
    """
    rows = {p.key: p.row for p in pairs}
    basis = tables_basis(out, rows)
    summary = dict(summary, tables_basis=basis)
    previous = _unchanged(out, basis)
    if previous is not None:  # nothing new since the last finalise: keep its tables
        summary.update({key: previous[key] for key in _COUNTS})
        summary["tables_rebuilt"] = False
        write_json(summary, out / "summary.json")
        return summary
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        written, n_done, n_errors = _final_tables(out, rows, pool)
    planned = len(rows)
    summary["tables_rebuilt"] = True
    summary.update({
        "pairs_planned": planned,
        "pairs_done_total": n_done,
        "pairs_failed": n_errors,
        "pairs_not_run": planned - n_done - n_errors,
        "rows": written,
    })
    write_json(summary, out / "summary.json")
    return summary


def _final_tables(out: Path, rows: dict[str, int], pool) -> tuple[dict[str, int], int, int]:
    """Write the final tables and ``errors.csv`` (:func:`finalise`).

    The threads of ``pool`` read the chunk files (Arrow reads run without the
    GIL): the files of the next table while this one is converted and written
    (by this thread: pandas is left to one thread).

    Returns
    -------
    tuple
        The rows of each final table written, the pairs done, the pairs failed.
    """
    chunk_pairs = _chunk_pairs(out, pool)  # read once: owners, then the pairs table
    own = _owners(chunk_pairs, rows)
    state = _owned_frame(_parts(_by_chunk(own), dict(chunk_pairs)))
    if state is None:
        state = pd.DataFrame(columns=["pair_key", "status"])
    state = _sort(state, rows)
    done = set(state.loc[state["status"] == "done", "pair_key"])
    owned = {name: {k: c for k, c in own.items() if k in done or name == "exclusions"}
             for name in TABLES}
    owned["errors"] = {k: c for k, c in own.items() if k not in done}
    pending = _read_parts(out, TABLES[0], owned[TABLES[0]], pool)
    written = {}
    for name, after in zip(TABLES, [*TABLES[1:], "errors"]):
        parts = pending()
        pending = _read_parts(out, after, owned[after], pool)  # read while this one is written
        t = _owned_frame(parts)
        if t is None:
            if name in OPTIONAL_TABLES:
                continue
            t = pd.DataFrame(columns=["pair_key"])
        t = _sort(t, rows)
        if name == "results" and len(t):
            t["pval_fdr"] = bh_fdr(t)
            t = t[[c for c in RESULT_COLUMNS if c in t.columns]
                  + [c for c in t.columns if c not in RESULT_COLUMNS and c != "pair_key"]]
        elif name == "results":
            t = pd.DataFrame(columns=RESULT_COLUMNS)
        elif name == "mvmr":  # BH FDR per method over every multivariable pair x exposure
            t = t.drop(columns=["pair_key"]).assign(pval_fdr=bh_fdr(t))
        else:
            t = t.drop(columns=["pair_key"])
        write_parquet(t, out / f"{name}.parquet")
        written[name] = len(t)
    write_parquet(state.drop(columns=["pair_key"]), out / "pairs.parquet")
    errs = _owned_frame(pending())
    errs = _sort(errs, rows) if errs is not None else pd.DataFrame(columns=ERROR_FILE_COLUMNS + ["pair_key"])
    errs = errs[ERROR_FILE_COLUMNS]
    _atomic_bytes(out / "errors.csv", lambda tmp: errs.to_csv(tmp, index=False))
    return written, len(done), int(len(errs))


def load_results(out: str | Path) -> dict:
    """The final tables of a batch folder: ``{"results": DataFrame, ..., "errors": DataFrame,
    "summary": dict}`` (``presso`` only when MR-PRESSO ran).

    Raises
    ------
    InputError
        ``out`` holds no finished batch (no ``summary.json``).
    """
    from ..errors import InputError

    out = Path(out)
    if not (out / "summary.json").is_file():
        raise InputError("no finished batch here (summary.json is missing); run mrbook batch "
                         "first", out)
    tabs: dict = {name: pd.read_parquet(out / f"{name}.parquet")
                  for name in (*TABLES, "pairs") if (out / f"{name}.parquet").is_file()}
    tabs["errors"] = pd.read_csv(out / "errors.csv")
    tabs["summary"] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return tabs
