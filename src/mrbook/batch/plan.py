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
        The data sources (a file as an absolute path, an OpenGWAS ID or
        ``demo:<trait>``).
    exposure_name, outcome_name : str or None
        Trait names from the manifest, if given.
    """

    key: str
    row: int
    exposure: str
    outcome: str
    exposure_name: str | None = None
    outcome_name: str | None = None


def pair_key(exposure: str, outcome: str) -> str:
    """A short stable key of an exposure-outcome pair of sources."""
    return hashlib.sha256(f"{exposure}\x00{outcome}".encode()).hexdigest()[:16]


def _source(text: str, base: Path) -> str:
    """A manifest cell as a source: files relative to the manifest's folder, made absolute."""
    text = text.strip()
    if text.lower().startswith("demo:"):
        return text
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = base / path
    if path.exists() or any(ch in text for ch in "/\\") or "." in Path(text).name:
        return str(path.resolve())
    return text  # an OpenGWAS ID (or a typo, reported when the pair runs)


def read_manifest(path: str | Path) -> list[PairSpec]:
    """Read a batch manifest: a CSV with ``exposure,outcome[,exposure_name,outcome_name]``.

    Each ``exposure``/``outcome`` cell is a data source as the book's parameters
    take them: a summary-statistics file, an OpenGWAS ID or ``demo:<trait>``.
    Relative file paths are taken from the manifest's folder, so a folder with
    its manifest can be moved. A source that turns out not to exist fails its
    pairs when they run (``errors.csv``), not the batch.

    Raises
    ------
    InputError
        Missing file or column, an unknown column, an empty source cell, a pair
        listed twice, or no pair at all (one line naming the file, row and column).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("manifest not found", path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the manifest: {exc}".splitlines()[0], path) from None
    rows = list(csv.reader(line for line in text.splitlines() if line.strip()))
    if not rows:
        raise InputError("empty manifest: expected a header 'exposure,outcome' and one row "
                         "per pair", path)
    header = [h.strip() for h in rows[0]]
    missing = [c for c in MANIFEST_REQUIRED if c not in header]
    if missing:
        raise InputError("manifest lacks column(s) " + ", ".join(missing) + " (expected "
                         "exposure,outcome and optionally exposure_name,outcome_name)", path, 0)
    unknown = [c for c in header if c not in MANIFEST_REQUIRED + MANIFEST_OPTIONAL]
    if unknown:
        raise InputError(f"unknown manifest column {unknown[0]!r} (expected exposure, outcome, "
                         "exposure_name, outcome_name)", path, 0, unknown[0])
    col = {c: header.index(c) for c in header}
    base = path.resolve().parent
    out: list[PairSpec] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(rows[1:], start=1):
        if len(raw) != len(header):
            raise InputError(f"expected {len(header)} fields, got {len(raw)}", path, i)
        vals = {c: raw[j].strip() for c, j in col.items()}
        for c in MANIFEST_REQUIRED:
            if not vals[c]:
                raise InputError("empty data source (expected a file, an OpenGWAS ID or "
                                 "demo:<trait>)", path, i, c)
        exp, out_ = _source(vals["exposure"], base), _source(vals["outcome"], base)
        key = pair_key(exp, out_)
        if key in seen:
            raise InputError(f"the pair of row {seen[key]} is listed again", path, i)
        seen[key] = i
        out.append(PairSpec(key=key, row=i, exposure=exp, outcome=out_,
                            exposure_name=vals.get("exposure_name") or None,
                            outcome_name=vals.get("outcome_name") or None))
    if not out:
        raise InputError("the manifest lists no pair", path)
    return out


def check_ids(pairs: list[PairSpec], manifest: str | Path) -> None:
    """Two different sources with the same ID would make the results ambiguous: refuse them.

    The ID is what ``mrbook instruments`` gives a source (a file's name without
    its suffixes, an OpenGWAS ID, the demo trait's ID).

    Raises
    ------
    InputError
        Naming the two manifest rows.
    """
    by_id: dict[tuple[str, str], tuple[str, int]] = {}
    for p in pairs:
        for role, spec in (("exposure", p.exposure), ("outcome", p.outcome)):
            try:
                sid = resolve_source(spec).id if not spec.lower().startswith("demo:") else spec
            except (InputError, ParameterError):
                continue  # reported when the pair runs
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

    @property
    def n_pairs(self) -> int:
        return sum(len(c.pairs) for c in self.chunks)


def _demo_folder(spec: str) -> str | None:
    if not spec.lower().startswith("demo:"):
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
    """
    exposures: dict[str, ExposureJob] = {}
    outcome_exps: dict[str, list[str]] = {}
    tables = set()
    items = []
    for p in sorted(pairs, key=lambda q: (q.outcome, q.exposure)):
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
    return Plan(exposures=exposures, outcomes=outcomes, tables=tuple(sorted(tables)),
                chunks=chunks)


def default_chunk_size(n_pairs: int, workers: int) -> int:
    """Pairs per task: about four tasks per worker, between 1 and 50 pairs each."""
    return max(1, min(50, math.ceil(n_pairs / max(1, 4 * max(1, workers)))))
