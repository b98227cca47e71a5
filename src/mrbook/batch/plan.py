"""Batch layer: the plan of a batch, its pairs (from the manifest), settings and shared work.

A batch is planned so that its cost grows with the data, not with the number of
pairs times the data:

* each exposure's instruments are selected once (P threshold, LD clumping and
  the LD proxies of its candidates: :class:`ExposureJob`), whatever the number of
  its outcomes;
* each outcome source is read once, for the union of the SNPs all its exposures
  need, proxies included (:class:`OutcomeJob`);
* each confounder association table is read once;
* the pairs then run in chunks (:class:`Chunk`) from those results in memory:
  harmonisation, the confounder and Steiger steps, the MR methods.

A batch of E exposures and O outcomes reads E exposure files, O outcome files
and one association table, instead of E x O of each.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import InputError, ParameterError
from ..instruments import resolve_source
from ..output import VERSION
from .. import params as params_mod

#: manifest columns: required, then optional
MANIFEST_REQUIRED = ("exposure", "outcome")
MANIFEST_OPTIONAL = ("exposure_name", "outcome_name")
#: the prefixes of the demo study's sources (demo-mv: its multivariable extension), SIMULATED
DEMO_PREFIXES = ("demo:", "demo-mv:")
#: separates the exposures of a multivariable row (``A+B+C``)
MV_SEPARATOR = "+"
#: the run parameters a batch uses; the others (the book's pages) are ignored
BATCH_PARAMETERS = ("ld_ref", "clump", "confounder_table", "p_threshold", "clump_r2", "clump_kb",
                    "palindrome_action", "confounder_traits", "methods", "nboot", "seed", "rng",
                    "presso_n_distribution")


@dataclass(frozen=True)
class PairSpec:
    """One row of the manifest.

    Attributes
    ----------
    key : str
        Stable identity of the pair (a hash of its two sources), which a resumed
        batch uses to tell done pairs.
    row : int
        Data row of the manifest (1 = the first line after the header).
    exposure, outcome : str
        The data sources (a file as an absolute path, an OpenGWAS ID,
        ``demo:<trait>`` or ``demo-mv:<trait>``); for a multivariable row,
        ``exposure`` is its sources joined by ``+``.
    exposure_name, outcome_name : str or None
        Trait names from the manifest, if given (``A+B`` for a multivariable row).
    exposures : tuple of str
        A multivariable row's exposure sources, in the manifest's order (the first
        is the one the others and the outcome are harmonised to); empty otherwise.
    """

    key: str
    row: int
    exposure: str
    outcome: str
    exposure_name: str | None = None
    outcome_name: str | None = None
    #: the sources of a multivariable row (``A+B+...``, two or more), else empty
    exposures: tuple = ()

    @property
    def multivariable(self) -> bool:
        """Whether the row names several exposures for one multivariable analysis."""
        return len(self.exposures) > 1


def pair_key(exposure: str, outcome: str) -> str:
    """A short stable key of an exposure-outcome pair of sources."""
    return hashlib.sha256(f"{exposure}\x00{outcome}".encode()).hexdigest()[:16]


def _source(text: str, base: Path) -> str:
    """A manifest cell as a source: files relative to the manifest's folder, made absolute."""
    text = text.strip()
    if text.lower().startswith(DEMO_PREFIXES):
        return text
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = base / path
    if path.exists() or any(ch in text for ch in "/\\") or "." in Path(text).name:
        return str(path.resolve())
    return text  # an OpenGWAS ID (or a typo, reported when the pair runs)


def _manifest_text(path: Path) -> str:
    """The manifest's text (UTF-8, BOM or not); one InputError naming the file otherwise."""
    from ..data.readers import binary_reason

    if not path.exists():
        raise InputError("manifest file not found (expected a CSV with the columns "
                         "exposure,outcome)", path)
    if path.is_dir():
        raise InputError("is a directory (folder), expected the manifest CSV file", path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the manifest ({(exc.strerror or str(exc)).lower()})",
                         path) from None
    if data[:2] == b"\x1f\x8b":
        raise InputError("is gzip-compressed; the manifest must be a plain CSV text file", path)
    why = binary_reason(data[: 1 << 16])
    if why:
        raise InputError(f"{why} (the manifest must be a CSV text file)", path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:  # pragma: no cover - binary_reason catches these
        raise InputError(f"not UTF-8 text (byte {exc.start + 1})", path) from None


def _split_exposures(cell: str, source, path: Path, row: int) -> list[str]:
    """The exposure sources of a manifest cell: one, or several joined by ``+``.

    ``source(text)`` is :func:`_source` with the manifest's folder.
    """
    single = source(cell)
    if MV_SEPARATOR not in cell or Path(single).is_file():  # a file name may hold a '+'
        return [single]
    parts = [c.strip() for c in cell.split(MV_SEPARATOR)]
    if any(not c for c in parts):
        raise InputError(f"empty exposure in {cell!r}: a multivariable row names two or more "
                         "exposures joined by '+' (e.g. demo-mv:hypothyroidism+demo-mv:hashimoto)",
                         path, row, "exposure")
    srcs = [source(c) for c in parts]
    seen: dict[str, str] = {}
    for c, src in zip(parts, srcs):
        if src in seen:
            raise InputError(f"exposure {c!r} is named twice in {cell!r}; each exposure of a "
                             "multivariable row must be a different source", path, row, "exposure")
        seen[src] = c
    return srcs


def read_manifest(path: str | Path) -> list[PairSpec]:
    """Read a batch manifest: a CSV with ``exposure,outcome[,exposure_name,outcome_name]``.

    Each ``exposure``/``outcome`` cell is a data source as the book's parameters
    take them: a summary-statistics file, an OpenGWAS ID, ``demo:<trait>`` or
    ``demo-mv:<trait>``. Relative file paths are taken from the manifest's folder,
    so a folder with its manifest can be moved. An ``exposure`` cell may name two
    or more sources joined by ``+`` (``A+B+C``): one multivariable analysis of
    them together on the outcome (its ``exposure_name``, if given, names them the
    same way, ``a+b+c``). Whether each source exists is checked by
    :func:`check_ids`; a file whose content turns out to be broken fails its
    pairs when they run (``errors.csv``), not the batch.

    Raises
    ------
    InputError
        A missing, binary or unreadable file; a missing, unknown or duplicated
        column; a row with the wrong number of fields; an empty source cell; a
        multivariable cell with an empty or repeated exposure; a pair listed twice
        (in any order of its exposures); or no pair at all (one line naming the
        file, row and column).
    """
    path = Path(path)
    text = _manifest_text(path)
    try:
        rows = list(csv.reader(line for line in text.splitlines() if line.strip()))
    except csv.Error as exc:
        raise InputError(f"not a readable CSV ({exc})", path) from None
    if not rows:
        raise InputError("empty manifest: expected a header 'exposure,outcome' and one row "
                         "per pair", path)
    header = [h.strip() for h in rows[0]]
    dup = [h for i, h in enumerate(header) if h in header[:i]]
    if dup:
        raise InputError(f"column {dup[0]!r} appears twice in the header", path, 0, dup[0])
    missing = [c for c in MANIFEST_REQUIRED if c not in header]
    if missing:
        raise InputError("manifest lacks column(s) " + ", ".join(missing) + " (expected "
                         "exposure,outcome and optionally exposure_name,outcome_name)", path, 0,
                         missing[0])
    unknown = [c for c in header if c not in MANIFEST_REQUIRED + MANIFEST_OPTIONAL]
    if unknown:
        raise InputError(f"unknown manifest column {unknown[0]!r} (expected exposure, outcome, "
                         "exposure_name, outcome_name)", path, 0, unknown[0])
    col = {c: header.index(c) for c in header}
    base = path.resolve().parent
    # each distinct cell is resolved once (a phenome's manifest names each source in
    # many rows; resolving a path costs ~50 us, 20 s for 200,000 pairs)
    source = functools.lru_cache(maxsize=None)(lambda text: _source(text, base))
    out: list[PairSpec] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(rows[1:], start=1):
        if len(raw) != len(header):
            raise InputError(f"expected {len(header)} fields ({','.join(header)}), got {len(raw)}",
                             path, i)
        vals = {c: raw[j].strip() for c, j in col.items()}
        for c in MANIFEST_REQUIRED:
            if not vals[c]:
                raise InputError("empty data source (expected a file, an OpenGWAS ID or "
                                 "demo:<trait>)", path, i, c)
        exps = _split_exposures(vals["exposure"], source, path, i)
        if MV_SEPARATOR in vals["outcome"] and not Path(source(vals["outcome"])).is_file():
            raise InputError(f"the outcome is one data source, got {vals['outcome']!r} (only the "
                             "exposure cell may join several sources with '+')", path, i, "outcome")
        exp, out_ = MV_SEPARATOR.join(exps), source(vals["outcome"])
        if len(exps) > 1 and vals.get("exposure_name"):
            n_names = len(vals["exposure_name"].split(MV_SEPARATOR))
            if n_names != len(exps):
                raise InputError(f"{n_names} exposure name(s) for {len(exps)} exposures: name "
                                 "them in the same order joined by '+', or leave the cell empty",
                                 path, i, "exposure_name")
        # the same exposures in another order are the same analysis (up to the reference allele)
        key = pair_key(MV_SEPARATOR.join(sorted(exps)) if len(exps) > 1 else exp, out_)
        if key in seen:
            raise InputError(f"the pair of row {seen[key]} is listed again", path, i)
        seen[key] = i
        out.append(PairSpec(key=key, row=i, exposure=exp, outcome=out_,
                            exposure_name=vals.get("exposure_name") or None,
                            outcome_name=vals.get("outcome_name") or None,
                            exposures=tuple(exps) if len(exps) > 1 else ()))
    if not out:
        raise InputError("the manifest lists no pair (a header but no rows)", path)
    return out


def _check_source(spec: str, manifest, row: int, column: str) -> str:
    """The ID of one source of a manifest row (resolved, not read), or a one-line InputError."""
    from ..instruments import DEMO_ALIASES

    if spec.lower().startswith(DEMO_PREFIXES):  # a known trait; the demo is made when it runs
        prefix, trait = spec.split(":", 1)
        if trait.strip().lower() not in DEMO_ALIASES:
            raise InputError(f"unknown demo trait {trait.strip()!r} in {spec!r} (expected "
                             f"{prefix}:<trait>, one of {', '.join(params_mod.DEMO_TRAITS)})",
                             manifest, row, column)
        return spec
    try:
        src = resolve_source(spec)
    except (InputError, ParameterError) as exc:
        msg = exc.message if isinstance(exc, InputError) else str(exc)
        where = f"{exc.path}: " if isinstance(exc, InputError) and exc.path else ""
        raise InputError(f"data source {where}{msg}", manifest, row, column) from None
    if src.kind == "file" and not src.path.is_file():
        raise InputError(f"data source {src.path}: not a regular file (a FIFO or device); save "
                         "the summary statistics to a file", manifest, row, column)
    return src.id


def check_ids(pairs: list[PairSpec], manifest: str | Path) -> None:
    """Check every source of the manifest before any work; refuse two sources with one ID.

    Each source must resolve: an existing regular file, a known ``demo:`` or
    ``demo-mv:`` trait, or a string shaped as an OpenGWAS ID (whether that ID
    exists, and whether a file's content can be read, is found when the pair
    runs: its failure goes to ``errors.csv``). Two different sources with the same
    ID would make the results ambiguous. The ID is what ``mrbook instruments``
    gives a source (a file's name without its suffixes, an OpenGWAS ID, the demo
    trait's ID).

    Raises
    ------
    InputError
        Naming the manifest, the row and the column.
    """
    by_id: dict[tuple[str, str], tuple[str, int]] = {}
    ids: dict[str, str] = {}  # each distinct source is checked once, at its first row
    for p in pairs:
        specs = [("exposure", s) for s in (p.exposures or (p.exposure,))]
        for role, spec in specs + [("outcome", p.outcome)]:
            sid = ids.get(spec)
            if sid is None:
                sid = ids[spec] = _check_source(spec, manifest, p.row, role)
            other = by_id.setdefault((role, sid), (spec, p.row))
            if other[0] != spec:
                raise InputError(f"two different {role} sources have the ID {sid!r} (rows "
                                 f"{other[1]} and {p.row}: {other[0]} and {spec}); the results "
                                 "are keyed by ID, so rename one file", manifest, p.row, role)


# --------------------------------------------------------------------------- settings

@dataclass(frozen=True)
class Settings:
    """The parameters of a batch (:data:`BATCH_PARAMETERS` of :mod:`mrbook.params`).

    ``ld_ref`` and ``confounder_table`` are absolute paths or None (the demo's
    own for ``demo:`` sources), or ``confounder_table`` False (no confounder step).
    """

    p: float
    r2: float
    kb: float
    clump: bool
    ld_ref: str | None
    palindrome_action: int
    confounder_table: str | None | bool
    confounder_traits: tuple
    methods: tuple
    nboot: int
    seed: int
    rng: str
    presso_n_distribution: int
    #: where ld_ref / confounder_table came from, for the summary
    notes: tuple = field(default=(), compare=False)

    def instrument_options(self) -> dict:
        """Keyword arguments of :func:`mrbook.instruments.select_instruments`."""
        opts = dict(p=self.p, r2=self.r2, kb=self.kb, ld_ref=self.ld_ref,
                    palindrome_action=self.palindrome_action,
                    confounder_table=self.confounder_table,
                    confounder_traits=self.confounder_traits, clump=self.clump)
        return opts

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("notes")
        d["confounder_traits"] = list(self.confounder_traits)
        d["methods"] = list(self.methods)
        return d

    def fingerprint(self) -> str:
        """Hash of everything that changes a pair's result (and mrbook's version)."""
        blob = json.dumps({"settings": self.as_dict(), "version": VERSION}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:20]


def load_parameters(params_file: str | Path | None = None, run: dict | None = None) -> dict:
    """Validated run parameters: a ``--params`` YAML, a mapping, or the defaults.

    The file is read and checked by :func:`mrbook.params.load_yaml` (the schema and
    checks of ``mrbook build``); missing parameters take their defaults.
    """
    values: dict = {}
    if params_file is not None:
        values.update(params_mod.load_yaml(params_file))
    if run is not None:
        values.update(run)
    return params_mod.validate({k: v for k, v in values.items() if k in params_mod.SCHEMA})


def make_settings(run: dict, manifest: str | Path) -> Settings:
    """Batch settings from validated run parameters.

    When ``ld_ref`` or ``confounder_table`` is empty and the manifest sits in a
    SIMULATED demo phenome (``phenome.json`` written by ``mrbook demo-phenome``),
    its LD panel and association table are the defaults, as the demo study's are
    for ``demo:`` sources.
    """
    from ..data.phenome import load_phenome

    notes = []
    ld_ref = str(params_mod.resolve_path(run["ld_ref"])) if run["ld_ref"] else None
    table = str(params_mod.resolve_path(run["confounder_table"])) if run["confounder_table"] \
        else None
    folder = Path(manifest).resolve().parent
    meta = load_phenome(folder)
    if meta is not None:
        if ld_ref is None:
            ld_ref = str(folder / meta["files"]["panel"])
            notes.append(f"ld_ref: the demo phenome's panel {ld_ref} (SIMULATED)")
        if table is None:
            table = str(folder / meta["files"]["confounders"])
            notes.append(f"confounder_table: the demo phenome's table {table} (SIMULATED)")
    traits = tuple(run["confounder_traits"])
    return Settings(p=float(run["p_threshold"]), r2=float(run["clump_r2"]),
                    kb=float(run["clump_kb"]), clump=bool(run["clump"]), ld_ref=ld_ref,
                    palindrome_action=int(run["palindrome_action"]), confounder_table=table,
                    confounder_traits=traits, methods=tuple(run["methods"]),
                    nboot=int(run["nboot"]), seed=int(run["seed"]), rng=str(run["rng"]),
                    presso_n_distribution=int(run["presso_n_distribution"]), notes=tuple(notes))


# --------------------------------------------------------------------------- the plan

@dataclass(frozen=True)
class ExposureJob:
    """Select one exposure's candidates once (for every outcome that uses the same panel)."""

    key: str
    exposure: str
    panel: str | None        # the LD reference's prefix, or None (see reference_panel)
    demo_folder: str | None  # the demo study's folder when a source is demo:


@dataclass(frozen=True)
class OutcomeJob:
    """Read one outcome source once, for the SNPs of all its exposures."""

    key: str
    outcome: str
    exposures: tuple         # ExposureJob keys


@dataclass(frozen=True)
class Chunk:
    """Pairs that run in one task; their results are written together, atomically."""

    index: int
    pairs: tuple             # of (PairSpec, ExposureJob key, OutcomeJob key)


@dataclass
class Plan:
    """The work of a batch: the jobs, the chunks, the association tables to read."""

    exposures: dict
    outcomes: dict
    tables: tuple
    chunks: list
    #: chunks of multivariable rows (``A+B``), run by :mod:`mrbook.batch.multivariable`; their
    #: items are ``(PairSpec, None, None)`` and their indices follow those of ``chunks``
    mv_chunks: list = field(default_factory=list)

    @property
    def n_pairs(self) -> int:
        return sum(len(c.pairs) for c in (*self.chunks, *self.mv_chunks))


def _demo_folder(spec: str) -> str | None:
    if not spec.lower().startswith(DEMO_PREFIXES):
        return None
    try:
        src = resolve_source(spec)
    except (InputError, ParameterError):
        return None
    return str(src.demo_dir)


def _demo_table(demo_folder: str) -> str:
    """The association table of a demo study folder (the confounder step's default)."""
    from ..data import demo

    return str(Path(demo_folder) / demo.load_manifest(demo_folder)["files"]["confounders"])


def plan(pairs: list[PairSpec], settings: Settings, chunk_size: int) -> Plan:
    """Group the pairs' work: one job per exposure (and panel), one per outcome, chunks of pairs.

    Chunks hold pairs of one outcome where possible (pairs ordered by outcome,
    then exposure), so that a chunk needs few results of the earlier stages.
    Multivariable rows go to chunks of their own (``mv_chunks``): each selects its
    exposures' instruments together (:func:`mrbook.multivariable.mvmr_from_sources`).
    """
    exposures: dict[str, ExposureJob] = {}
    outcome_exps: dict[str, list[str]] = {}
    tables = set()
    items = []
    mv_items = [(p, None, None) for p in pairs if p.multivariable]
    for p in sorted((q for q in pairs if not q.multivariable), key=lambda q: (q.outcome, q.exposure)):
        demo_folder = _demo_folder(p.exposure) or _demo_folder(p.outcome)
        panel = settings.ld_ref
        ekey = hashlib.sha256(f"{p.exposure}\x00{panel}\x00{demo_folder}".encode()).hexdigest()[:16]
        exposures.setdefault(ekey, ExposureJob(ekey, p.exposure, panel, demo_folder))
        okey = hashlib.sha256(p.outcome.encode()).hexdigest()[:16]
        lst = outcome_exps.setdefault(okey, [])
        if ekey not in lst:
            lst.append(ekey)
        if settings.confounder_table:
            tables.add(settings.confounder_table)
        elif settings.confounder_table is None and demo_folder is not None:
            tables.add(_demo_table(demo_folder))
        items.append((p, ekey, okey))
    outcomes = {k: OutcomeJob(k, next(p.outcome for p, _, o in items if o == k), tuple(v))
                for k, v in outcome_exps.items()}
    size = max(1, int(chunk_size))
    chunks = [Chunk(i, tuple(items[j:j + size]))
              for i, j in enumerate(range(0, len(items), size))]
    mv_chunks = [Chunk(len(chunks) + i, tuple(mv_items[j:j + size]))
                 for i, j in enumerate(range(0, len(mv_items), size))]
    return Plan(exposures=exposures, outcomes=outcomes, tables=tuple(sorted(tables)),
                chunks=chunks, mv_chunks=mv_chunks)


def exposure_groups(keys, workers: int) -> list[tuple]:
    """The exposures a batch on Dask selects per task: about eight tasks per worker, at
    most five exposures each (~0.3 s of work; the next stage waits for the last one).

    Consecutive keys go together: the pairs' chunks follow the same exposure order
    within an outcome (:func:`plan`), so a chunk needs few groups.
    """
    keys = list(keys)
    size = max(1, min(5, math.ceil(len(keys) / (8 * max(1, workers)))))
    return [tuple(keys[i:i + size]) for i in range(0, len(keys), size)]


def default_chunk_size(n_pairs: int, workers: int) -> int:
    """Pairs per task: about four tasks per worker, between 1 and 50 pairs each."""
    return max(1, min(50, math.ceil(n_pairs / max(1, 4 * max(1, workers)))))


def homes(groups: list[tuple], chunks: list, workers: list[str]) -> tuple[list, dict]:
    """Where a batch on Dask runs each exposure group and each chunk of pairs: next to
    the data they need, with every worker given about the same number of pairs.

    A chunk of pairs needs the results of the exposure groups of its pairs (and of
    its outcome). Left to itself, Dask's scheduler places the groups round-robin and
    each chunk where it can start soonest, so that a worker fetches (and another
    serialises) most groups from the other workers: on 2,000 bench pairs (200
    exposures x 10 outcomes, 2 workers) each worker fetched 20 of the other's 40
    groups, ~0.3 s of each worker's CPU in Dask's event loop. Here the groups go to
    the workers in consecutive blocks (group ``i`` of ``n`` to worker ``i * W // n``;
    a chunk's pairs follow the same exposure order, :func:`plan`), and each chunk, in
    order, to the worker holding most of its pairs' groups among those still below an
    even share of the pairs (the least loaded when none is), so that no worker ends
    more than one chunk above its share.

    The batch makes these Dask's loose restrictions (``workers=[home]``,
    ``allow_other_workers=True``): the task runs elsewhere when its worker is gone,
    and idle workers still steal it.

    Parameters
    ----------
    groups : list of tuple
        :func:`exposure_groups`.
    chunks : list of Chunk
        :attr:`Plan.chunks`.
    workers : list of str
        The workers' addresses (none yet: nothing is placed).

    Returns
    -------
    tuple
        The home of each group (a list; ``None`` each when there are no workers) and
        of each chunk (``{chunk.index: address}``; empty when there are no workers).
    """
    workers = sorted(workers)
    if not workers:
        return [None] * len(groups), {}
    w = len(workers)
    group_home = [workers[i * w // len(groups)] for i in range(len(groups))]
    home_of = {key: group_home[i] for i, g in enumerate(groups) for key in g}
    share = sum(len(c.pairs) for c in chunks) / w
    load = dict.fromkeys(workers, 0)
    rank = {a: i for i, a in enumerate(workers)}
    chunk_home = {}
    for chunk in chunks:
        votes = dict.fromkeys(workers, 0)
        for _, ekey, _ in chunk.pairs:
            votes[home_of[ekey]] += 1
        order = sorted(workers, key=lambda a: (-votes[a], load[a], rank[a]))
        home = next((a for a in order if load[a] < share), None) \
            or min(workers, key=lambda a: (load[a], rank[a]))
        chunk_home[chunk.index] = home
        load[home] += len(chunk.pairs)
    return group_home, chunk_home
