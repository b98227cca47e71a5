"""Batch layer: the tasks a batch runs (on Dask workers, or in one process), pure functions.

Each task takes plain data (sources, :class:`~mrbook.batch.plan.Settings`, the
results of earlier tasks) and returns plain data, so that Dask can run it on
any worker, run it again when a worker dies, and move its result between
workers. Every step calls the functions a single pair uses
(:func:`mrbook.instruments.select_exposure`,
:func:`mrbook.instruments.instruments_for_outcome`, :func:`mrbook.analysis.run_mr`
...): a pair's numbers in a batch are those of ``mrbook instruments`` and
``mrbook mr`` on that pair alone. A task never raises for bad data: a failure
becomes an error record (step and one-line message) and the other pairs go on.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import MRBookError
from .plan import Chunk, ExposureJob, OutcomeJob, Settings

#: the proxy settings of select_instruments (not run parameters)
PROXY_R2, PROXY_KB = 0.8, 500


def one_line(exc: BaseException) -> str:
    """An exception as one line: mrbook's own message, or the type and message of any other."""
    text = str(exc) if isinstance(exc, MRBookError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split()) or type(exc).__name__


@dataclass
class Failure:
    """A task's failure: the step and a one-line message."""

    step: str
    message: str


@functools.lru_cache(maxsize=8)
def _panel(prefix: str | None, demo_folder: str | None):
    """The LD panel of a job, read once per process (the .bed is memory-mapped)."""
    from ..instruments import reference_panel

    return reference_panel(prefix, Path(demo_folder) if demo_folder else None)


# --------------------------------------------------------------------------- exposures

@dataclass
class ExposureResult:
    """What :func:`exposure_task` gives the outcome and pair tasks."""

    key: str
    panel: str | None = None          # the job's LD reference and demo folder
    demo_folder: str | None = None
    selection: object = None          # mrbook.instruments.ExposureSelection
    proxies: pd.DataFrame | None = None
    failure: Failure | None = None
    reads: int = 0
    seconds: float = 0.0
    _proxy_table: object = field(default=None, repr=False, compare=False)

    def proxies_of(self, missing):
        """Every LD proxy of the candidates (a :class:`~mrbook.instruments.ProxyTable`,
        made once): what :func:`mrbook.data.ld.find_proxies` gives for ``missing``, and
        the other candidates' proxies, which :func:`~mrbook.instruments.instruments_for_outcome`
        does not look at."""
        from ..instruments import ProxyTable

        if self._proxy_table is None:
            self._proxy_table = ProxyTable(pd.DataFrame(columns=["target", "proxy"])
                                           if self.proxies is None else self.proxies)
        return self._proxy_table


def exposure_task(job: ExposureJob, settings: Settings) -> ExposureResult:
    """Steps 1-2 for one exposure (read, P threshold, clumping) and its candidates' LD proxies.

    The proxies are those :func:`mrbook.instruments.instruments_for_outcome` would
    look up for a candidate missing from an outcome (:func:`mrbook.data.ld.find_proxies`,
    r² >= 0.8 within 500 kb, every proxy), found once for all candidates so that
    each outcome file can be read once for its candidates and their proxies.
    """
    from ..data import ld
    from ..instruments import resolve_source, select_exposure
    from ..rmath.jit import jit_kernel

    t0 = time.perf_counter()
    jit_kernel("ld")  # compiled LD from the first exposure: the pairs need numba anyway
    res = ExposureResult(key=job.key, panel=job.panel, demo_folder=job.demo_folder)
    step = "source"
    try:
        src = resolve_source(job.exposure)
        step = "exposure"
        panel, _ = _panel(job.panel, job.demo_folder)
        res.reads = 0 if src.kind == "opengwas" else 1
        with ld.plink_threads(1):  # the batch's workers share the cores: one thread each
            sel = select_exposure(src, p=settings.p, r2=settings.r2, kb=settings.kb,
                                  panel=panel, clump=settings.clump)
        res.selection = sel.prepare()  # the tables every outcome of the exposure reads
        if panel is not None and sel.kept:
            res.proxies = ld.find_proxies(panel, sel.kept, r2_min=PROXY_R2, kb=PROXY_KB,
                                          best_only=False)
    except Exception as exc:  # noqa: BLE001 - becomes the pairs' error record
        res.failure = Failure(step, one_line(exc))
        res.selection = None
    res.seconds = time.perf_counter() - t0
    return res


def exposure_group_task(jobs: tuple, settings: Settings) -> list[ExposureResult]:
    """:func:`exposure_task` for each of a few exposures, in one task.

    On Dask a task costs its scheduler ~1-3 ms of CPU (more with many inputs), which on
    a machine with as many cores as workers is taken from the workers: a batch runs
    its exposures a few per task (:func:`mrbook.batch.plan.exposure_groups`).
    """
    return [exposure_task(job, settings) for job in jobs]


# --------------------------------------------------------------------------- outcomes

@dataclass
class OutcomeResult:
    """One read of an outcome source: its rows for every SNP its exposures need."""

    key: str
    rows: pd.DataFrame | None = None
    failure: Failure | None = None
    snps: int = 0
    reads: int = 0
    seconds: float = 0.0
    _rows: object = field(default=None, repr=False, compare=False)

    def outcome_rows(self, snps=()):
        """:attr:`rows` indexed by rsID (a :class:`~mrbook.instruments.OutcomeRows`, made
        once): what reading the file for ``snps`` gives
        :func:`~mrbook.instruments.instruments_for_outcome`, and the rows of the other
        SNPs of the outcome's exposures, which it does not look at."""
        from ..data.readers import COLUMNS
        from ..instruments import OutcomeRows

        if self._rows is None:  # (no rows: no SNP was needed, the table of none)
            self._rows = OutcomeRows(pd.DataFrame(columns=list(COLUMNS)) if self.rows is None
                                     else self.rows)
        return self._rows

    def subset(self, snps) -> pd.DataFrame:
        """The rows of these rsIDs, in file order: what reading the file for them gives."""
        rows = self.outcome_rows()
        return rows.table.iloc[rows.positions({str(s).strip() for s in snps})] \
            .reset_index(drop=True)


@dataclass(frozen=True)
class Brief:
    """The few fields of an exposure or outcome task's result that others read.

    The client reports progress and counts from briefs, and an outcome task finds
    the SNPs to read from its exposures' briefs: a few kilobytes each, instead of
    the exposures' tables (~80 kB for a 50-SNP exposure, and every outcome of a
    phenome needs every exposure).
    """

    key: str
    failure: Failure | None = None
    reads: int = 0
    seconds: float = 0.0
    #: an exposure's: the rsIDs an outcome is read for (its candidates and their LD proxies)
    needed: tuple = ()
    #: an outcome's: how many SNPs it was read for
    snps: int = 0


def brief(result) -> Brief:
    """The :class:`Brief` of an :class:`ExposureResult` or :class:`OutcomeResult`."""
    if isinstance(result, OutcomeResult):
        return Brief(key=result.key, failure=result.failure, reads=result.reads,
                     seconds=result.seconds, snps=result.snps)
    needed: set[str] = set()
    if result.selection is not None:
        needed.update(str(s) for s in result.selection.kept)
        if result.proxies is not None and len(result.proxies):
            needed.update(result.proxies["proxy"].astype(str))
    return Brief(key=result.key, failure=result.failure, reads=result.reads,
                 seconds=result.seconds, needed=tuple(sorted(needed)))


def briefs(results) -> list[Brief]:
    """The :class:`Brief` of each result of an :func:`exposure_group_task`."""
    return [brief(r) for r in results]


def needed_snps(exposures) -> list[str]:
    """The union of the candidates of these exposures (their :class:`Brief`) and of their
    LD proxies."""
    snps: set[str] = set()
    for b in exposures:
        snps.update(b.needed)
    return sorted(snps)


def outcome_task(job: OutcomeJob, settings: Settings, *exposures: Brief) -> OutcomeResult:
    """Read an outcome once for the union of the SNPs its exposures need (proxies included).

    A file is read with the same function a single pair uses
    (:func:`mrbook.read_sumstats` keeping only those rsIDs); an OpenGWAS outcome
    is asked once for all of them (the server adds its own LD proxies).
    ``exposures`` are the :class:`Brief` of the outcome's exposures.
    """
    from ..instruments import _read_outcome, resolve_source

    t0 = time.perf_counter()
    res = OutcomeResult(key=job.key)
    step = "source"
    try:
        src = resolve_source(job.outcome)
        step = "outcome"
        snps = needed_snps(exposures)
        res.snps = len(snps)
        if not snps:
            res.rows = None
        elif src.kind == "opengwas":
            from ..data.opengwas import OpenGWAS

            res.rows = OpenGWAS().associations(snps, src.id, proxies=True, r2=PROXY_R2)
        else:
            res.rows = _read_outcome(src, snps)
            res.reads = 1
    except Exception as exc:  # noqa: BLE001
        res.failure = Failure(step, one_line(exc))
    res.seconds = time.perf_counter() - t0
    return res


def grouped_outcome_task(job: OutcomeJob, settings: Settings, *groups: list) -> OutcomeResult:
    """:func:`outcome_task` from the :func:`briefs` of exposure groups (those of the
    outcome's own exposures: a group may hold others)."""
    by_key = {b.key: b for group in groups for b in group}
    return outcome_task(job, settings, *(by_key[k] for k in job.exposures))


@dataclass
class TableResult:
    """A confounder association table, read once."""

    path: str
    table: pd.DataFrame | None = None
    failure: Failure | None = None
    seconds: float = 0.0


def table_task(path: str) -> TableResult:
    """Read a confounder association table (:func:`mrbook.instruments.read_confounder_table`)."""
    from ..instruments import read_confounder_table

    t0 = time.perf_counter()
    res = TableResult(path=path)
    try:
        res.table = read_confounder_table(path)
    except Exception as exc:  # noqa: BLE001
        res.failure = Failure("confounders", one_line(exc))
    res.seconds = time.perf_counter() - t0
    return res


# --------------------------------------------------------------------------- pairs

@dataclass
class ChunkResult:
    """The tables of a chunk of pairs (every table carries ``pair_key``)."""

    index: int
    pairs: pd.DataFrame
    tables: dict = field(default_factory=dict)
    errors: pd.DataFrame | None = None
    seconds: float = 0.0


#: one row per pair of a chunk
PAIR_TABLE_COLUMNS = ["pair_key", "row", "id_exposure", "id_outcome", "exposure", "outcome",
                      "exposure_source", "outcome_source", "status", "simulated", "candidates",
                      "missing_in_outcome", "proxies_used", "palindromic", "harmonise_other",
                      "confounder", "steiger_removed", "final", "f_min", "f_max", "clump_engine"]
ERROR_COLUMNS = ["pair_key", "row", "id_exposure", "id_outcome", "exposure", "outcome",
                 "exposure_source", "outcome_source", "step", "message"]


def analyse_pair(dat: pd.DataFrame, settings: Settings, names=None) -> dict:
    """The MR tables of one pair: what ``mrbook mr`` computes from the harmonised table.

    :func:`mrbook.analysis.run_mr`, :func:`~mrbook.analysis.heterogeneity` and
    :func:`~mrbook.analysis.pleiotropy`, as their rows (:func:`mrbook.analysis.mr_rows`:
    :func:`pairs_task` makes one table of a chunk's pairs' rows, and adds the odds
    ratios, :func:`~mrbook.analysis.add_odds_ratios`, to it at once, row by row the same
    numbers), and, when ``presso_n_distribution`` > 0, MR-PRESSO; the bootstrap starts
    from the run's seed for every pair, as ``mrbook mr --seed`` on that pair alone.
    ``names`` (exposure, outcome) are the trait names of the pair's rows, instead of
    the table's ``exposure`` and ``outcome`` columns (as if these held them).
    """
    from ..analysis import mr_rows
    from ..estimators import Params

    out = mr_rows(dat, methods=list(settings.methods), params=Params(nboot=settings.nboot),
                  seed=settings.seed, rng=settings.rng, names=names)
    if settings.presso_n_distribution > 0:
        out["presso"] = presso_rows(dat, settings, names)
    return out


#: one row per pair and MR-PRESSO analysis (raw and outlier-corrected)
PRESSO_COLUMNS = ["id_exposure", "id_outcome", "exposure", "outcome", "analysis", "nsnp", "b",
                  "se", "pval", "global_rss_obs", "global_pval", "n_outliers", "outliers",
                  "distortion_pval", "status", "reason"]


def presso_rows(dat: pd.DataFrame, settings: Settings, names=None) -> pd.DataFrame:
    """MR-PRESSO of one pair as tidy rows (:func:`mrbook.sensitivity.presso.mr_presso`);
    ``names`` as :func:`analyse_pair`'s."""
    from ..analysis import _named
    from ..pairs import iter_pairs
    from ..rmath.rng import make_rng
    from ..sensitivity.presso import mr_presso

    rows = []
    for pair, d in iter_pairs(dat):
        pair = _named(pair, names)
        try:
            r = mr_presso(d["beta.exposure"].to_numpy(float), d["beta.outcome"].to_numpy(float),
                          d["se.exposure"].to_numpy(float), d["se.outcome"].to_numpy(float),
                          snps=d["SNP"].tolist(), n_distribution=settings.presso_n_distribution,
                          rng=make_rng(settings.seed, settings.rng))
        except ValueError as exc:
            rows.append(dict(pair, analysis="Raw", status="not run", reason=one_line(exc)))
            continue
        dist = r.get("distortion_test") or {}
        outl = list(dist.get("outliers") or [])
        for m in r["main"].itertuples(index=False):
            rows.append(dict(pair, analysis=m.analysis, nsnp=m.nsnp, b=m.b, se=m.se, pval=m.pval,
                             global_rss_obs=r["global_test"]["rss_obs"],
                             global_pval=r["global_test"]["pval"], n_outliers=len(outl),
                             outliers=";".join(map(str, outl)),
                             distortion_pval=dist.get("pval", np.nan), status="ok", reason=None))
    return pd.DataFrame(rows, columns=PRESSO_COLUMNS)


def pairs_task(chunk: Chunk, settings: Settings, exposures: dict, outcomes: dict,
               tables: dict) -> ChunkResult:
    """Finish the instruments of each pair of a chunk and run its MR analysis.

    Parameters
    ----------
    chunk : Chunk
    settings : Settings
    exposures : dict
        ExposureJob key -> :class:`ExposureResult`.
    outcomes : dict
        OutcomeJob key -> :class:`OutcomeResult`.
    tables : dict
        Path -> :class:`TableResult` (the confounder association tables).

    Returns
    -------
    ChunkResult
        Per pair: its row in ``pairs``; its MR, heterogeneity, pleiotropy
        (and MR-PRESSO) rows, its exclusions and its harmonised instruments in
        ``tables``; or its row in ``errors``.
    """
    from ..instruments import instruments_for_outcome, resolve_source

    t0 = time.perf_counter()
    parts: dict[str, list] = {}     # table -> [(pair key, exposure, outcome, rows)]
    pair_rows, errors = [], []
    with _gc_paused():
        for spec, ekey, okey in chunk.pairs:
            ex, oc = exposures[ekey], outcomes[okey]
            base = dict(pair_key=spec.key, row=spec.row, id_exposure=None, id_outcome=None,
                        exposure=spec.exposure_name, outcome=spec.outcome_name,
                        exposure_source=spec.exposure, outcome_source=spec.outcome)
            step = "exposure"
            try:
                if ex.failure is not None:
                    step = ex.failure.step
                    raise _Reported(ex.failure.message)
                sel = ex.selection
                base["id_exposure"] = sel.source.id
                base["exposure"] = spec.exposure_name or sel.source.trait
                step = "source"
                out_src = resolve_source(spec.outcome)
                base["id_outcome"] = out_src.id
                base["outcome"] = spec.outcome_name or out_src.trait
                if oc.failure is not None:
                    step = oc.failure.step
                    raise _Reported(oc.failure.message)
                step = "instruments"
                panel, ld_desc = _panel(ex.panel, ex.demo_folder)

                def read_table(path):
                    t = tables.get(str(path))
                    if t is None:
                        raise MRBookError(f"{path}: the association table was not planned")
                    if t.failure is not None:
                        raise _Reported(t.failure.message)
                    return t.table

                ins = instruments_for_outcome(
                    sel, out_src, panel=panel, ld_desc=ld_desc,
                    demo_folder=Path(ex.demo_folder) if ex.demo_folder else None,
                    palindrome_action=settings.palindrome_action,
                    confounder_table=settings.confounder_table,
                    confounder_traits=settings.confounder_traits, proxies=True,
                    proxy_r2=PROXY_R2, proxy_kb=PROXY_KB, read_outcome=oc.outcome_rows,
                    find_proxies=ex.proxies_of, associations=oc.subset, read_table=read_table)
                base["id_outcome"] = out_src.id
                base["outcome"] = spec.outcome_name or out_src.trait
                s = ins.summary
                names = (spec.key, base["exposure"], base["outcome"])
                if not len(ins.harmonised):
                    parts.setdefault("exclusions", []).append((*names, ins.exclusion_rows()))
                    raise MRBookError(
                        f"no instrument left: {s['candidates']} candidates, "
                        f"{s['missing_in_outcome']} missing in the outcome, {s['palindromic']} "
                        f"palindromic, {s['harmonise_other']} not harmonised, {s['confounder']} "
                        f"confounder, {s['steiger_removed']} Steiger")
                step = "mr"
                # the pair's harmonised table (readers.to_tsmr gives it exposure and outcome
                # columns; the chunk's table sets them to the pair's names, _chunk_table)
                dat = ins.harmonised
                # harmonise's log (dat.attrs) is set aside while the methods run: pandas
                # deep-copies attrs into every column they read; the table keeps it
                log = dict(dat.attrs)
                dat.attrs.clear()
                try:
                    tabs = analyse_pair(dat, settings, names=names[1:])
                finally:
                    dat.attrs.update(log)
                tabs["exclusions"] = ins.exclusion_rows()
                tabs["harmonised"] = dat
                for name, t in tabs.items():
                    parts.setdefault(name, []).append((*names, t))
                pair_rows.append(dict(
                    base, status="done", simulated=bool(s["simulated"]),
                    **{k: s[k] for k in ("candidates", "missing_in_outcome", "proxies_used",
                                         "palindromic", "harmonise_other", "confounder",
                                         "steiger_removed", "final", "f_min", "f_max")},
                    clump_engine=str(s["settings"]["clump_engine"])))
            except Exception as exc:  # noqa: BLE001 - the pair fails, the chunk goes on
                errors.append(dict(base, step=step, message=one_line(exc)))
                pair_rows.append(dict(base, status="failed"))
        out = ChunkResult(index=chunk.index,
                          pairs=pd.DataFrame(pair_rows, columns=PAIR_TABLE_COLUMNS),
                          errors=pd.DataFrame(errors, columns=ERROR_COLUMNS))
        out.tables = {name: _chunk_table(name, v) for name, v in parts.items()}
    out.seconds = time.perf_counter() - t0
    return out


def grouped_pairs_task(chunk: Chunk, settings: Settings, groups: list, outcomes: dict,
                       tables: dict) -> ChunkResult:
    """:func:`pairs_task` with the exposures' results as :func:`exposure_group_task` gave them."""
    return pairs_task(chunk, settings, {r.key: r for group in groups for r in group}, outcomes,
                      tables)


def _chunk_table(name: str, parts: list) -> pd.DataFrame:
    """One table of a chunk: its pairs' rows, then (exclusions, harmonised) the pair's
    exposure and outcome names, (results) the odds ratios and confidence limits, and
    ``pair_key``.

    The columns the old per-pair code assigned pair by pair are added once, with the
    same values; :func:`~mrbook.analysis.add_odds_ratios` works row by row. The MR
    tables come as each pair's :class:`~mrbook.analysis.Rows` and make one table
    (:func:`~mrbook.analysis.stack_tables`: their tables put end to end). The
    exclusions come as each pair's rows (:meth:`~mrbook.instruments.Instruments.exclusion_rows`)
    and make one table, what the pairs' tables put end to end give.
    """
    from ..analysis import Rows, add_odds_ratios, stack_tables
    from ..instruments import exclusions_table

    frames = [t for *_, t in parts]
    keep = [i for i, t in enumerate(frames) if len(t)] or [0]
    if name == "exclusions":
        table = exclusions_table([r for i in keep for r in frames[i]])
    elif isinstance(frames[0], Rows):
        table = stack_tables([frames[i] for i in keep])
    else:
        table = _concat([frames[i] for i in keep])
    lens = [len(frames[i]) for i in keep]

    def each(k):
        return np.repeat(np.asarray([parts[i][k] for i in keep], dtype=object), lens)

    if name in ("exclusions", "harmonised"):
        table["exposure"] = each(1)
        table["outcome"] = each(2)
    elif name == "results":
        table = add_odds_ratios(table)
    table["pair_key"] = each(0)
    return table


def _concat(frames: list) -> pd.DataFrame:
    """``pd.concat(frames, ignore_index=True)``, made in groups of frames of one layout.

    When the frames differ in their columns, pandas reindexes every frame to the
    union of the columns (~0.3 ms per pair's harmonised table, some of which have
    the LD-proxy columns); frames of the same columns and dtypes concatenate
    without it, ~10 times faster. So the frames of each layout are put end to end
    first, then these groups (in the order of their first frames), and the rows are
    put back in the frames' order. The table is pandas': the columns are the union
    in order of first appearance either way, each group has the dtype its frames
    share in each column (so the common dtypes, with NaN where a frame lacks a
    column, are the same), and the attrs are kept only when all frames have the same.
    """
    layouts: dict = {}
    for i, f in enumerate(frames):
        layouts.setdefault((tuple(f.columns), tuple(f.dtypes)), []).append(i)
    if len(layouts) < 2:
        return pd.concat(frames, ignore_index=True)
    groups = list(layouts.values())
    table = pd.concat([pd.concat([frames[i] for i in g], ignore_index=True) for g in groups],
                      ignore_index=True)
    lens = np.array([len(f) for f in frames])
    start = np.cumsum(lens) - lens              # the first row of each frame in frames' order
    where = np.concatenate([np.arange(start[i], start[i] + lens[i]) for g in groups for i in g])
    order = np.empty_like(where)                # table row of each row in frames' order
    order[where] = np.arange(where.size)
    table = table.take(order)
    table.index = pd.RangeIndex(len(table))
    return table


@contextlib.contextmanager
def _gc_paused():
    """No cyclic garbage collection while a chunk runs (it is collected after).

    The pairs allocate many short-lived pandas objects; with the collector on,
    its full passes over every long-lived object of the worker (modules, the
    outcomes' rows) cost about a sixth of the pair stage. What they free is
    freed by reference counting anyway; the rest is collected at the end.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
            gc.collect(0)


class _Reported(MRBookError):
    """A failure already reported by an earlier task, passed on to a pair."""
