"""Instruments layer: instrument selection, step by step, with every exclusion and its reason.

:func:`select_instruments` reproduces the instrument selection of the study (SPEC
section 1) and of TwoSampleMR's ``extract_instruments`` -> ``clump_data`` ->
``extract_outcome_data`` -> ``harmonise_data`` workflow, plus the PhenoScanner-style
confounder look-up the paper describes, in this order:

1. **P threshold**: exposure SNPs with P < ``p`` (5e-8).
2. **Clumping** at r² ``r2`` within ``kb`` kilobases on a PLINK reference panel
   (:func:`mrbook.data.ld.clump`: plink 1.9 when installed, the identical Python
   implementation otherwise), or on the OpenGWAS server for an OpenGWAS exposure
   without ``ld_ref``. These are the study's *candidate* SNPs.
3. **Outcome extraction**: the candidates' rows in the outcome data. A SNP absent
   from the outcome is replaced by its best LD proxy (r² >= 0.8 in the panel, as
   OpenGWAS does) when ``proxies`` is true and a panel is available, the proxy's
   alleles mapped to the target's through their phase; otherwise it is *missing
   in outcome*. (The study reports 4/2/1 missing SNPs and no proxies; the demo's
   missing SNPs lie in LD blocks absent from the outcome file, so the default
   ``proxies=True`` finds none and the counts are the paper's.)
4. **Harmonisation** (:func:`mrbook.harmonise.harmonise_with_exclusions`,
   TwoSampleMR's ``harmonise_data``): with ``palindrome_action`` 2, palindromic SNPs
   whose allele frequency is ambiguous (0.42 < eaf < 0.58) are dropped (the
   *palindromic* count); SNPs with incompatible alleles are dropped too.
5. **Confounders**: SNPs associated in a local association table (GWAS Catalog
   associations TSV, or any table with SNP, trait and P columns) with one of
   ``confounder_traits`` at P < ``confounder_p`` are dropped, each with the trait and
   P that excluded it. A trait matches a row when it is a case-insensitive substring
   of the row's DISEASE/TRAIT or MAPPED_TRAIT.
6. **Steiger filtering** (optional): SNPs explaining more variance in the outcome
   than in the exposure are dropped (TwoSampleMR ``steiger_filtering``).

F statistics ``(beta/se)²`` and the variance explained ``F / (N - 2 + F)`` are
reported for every candidate.

Sources are a summary-statistics file (any format :func:`mrbook.data.readers.read_sumstats`
reads), ``"demo:<trait>"`` (the SIMULATED demo study, generated into the cache on
first use; traits hypothyroidism, hyperthyroidism, hashimoto, osteoporosis), or an
OpenGWAS study ID such as ``ebi-a-GCST90018862`` (needs ``OPENGWAS_JWT`` or a cache).
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from .data.frames import Columns
from .errors import InputError, ParameterError
from .output import VERSION, check_output_dir, check_output_file, dumps, write_into_dir

#: Steps of the selection, in order; the ``step`` values of the exclusions table.
STEPS = ("clumping", "missing_in_outcome", "harmonise", "palindromic", "confounder", "steiger")
EXCLUSION_COLUMNS = ["snp", "step", "reason", "id_exposure", "id_outcome"]
#: Aliases accepted after ``demo:``.
DEMO_ALIASES = {"hypothyroidism": "hypothyroidism", "hypo": "hypothyroidism",
                "hyperthyroidism": "hyperthyroidism", "hyper": "hyperthyroidism",
                "hashimoto": "hashimoto", "ht": "hashimoto",
                "hashimoto thyroiditis": "hashimoto", "hashimoto_thyroiditis": "hashimoto",
                "osteoporosis": "osteoporosis", "op": "osteoporosis"}
_OPENGWAS_ID = re.compile(r"^[A-Za-z0-9]+-[A-Za-z0-9]+-[A-Za-z0-9_.\-]+$")


class _MadeOnUse:
    """A table attribute that may be set to a function making it: the function is called
    on the first read, and its table kept (in the instance's ``_<name>``)."""

    def __set_name__(self, owner, name: str) -> None:
        self.slot = "_" + name

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        value = getattr(obj, self.slot)
        if callable(value):
            value = value()
            setattr(obj, self.slot, value)
        return value

    def __set__(self, obj, value) -> None:
        setattr(obj, self.slot, value)


class Instruments:
    """The result of :func:`select_instruments`.

    Attributes
    ----------
    harmonised : DataFrame
        The final instruments, harmonised, in TwoSampleMR's column names (``SNP``,
        ``beta.exposure``, ``se.exposure``, ``effect_allele.exposure`` ...,
        ``beta.outcome`` ..., ``mr_keep``): the input of ``mrbook mr``.
    exclusions : DataFrame
        One row per SNP dropped after the P threshold: ``snp``, ``step`` (one of
        :data:`STEPS`), ``reason``, ``id_exposure``, ``id_outcome``.
    snps : DataFrame
        One row per SNP that passed the P threshold: its exposure association,
        ``f_stat``, ``rsq``, and the outcome of every step (``candidate``,
        ``in_outcome``, ``proxy_snp``, ``proxy_r2``, ``palindromic``,
        ``confounder_hits``, ``final``, ``excluded_at``, ``reason``).
    summary : dict
        Counts per step (``p_threshold_hits``, ``candidates``,
        ``missing_in_outcome``, ``palindromic``, ``confounder``, ``final`` ...), the
        list ``palindromic_snps``, ``f_min``/``f_max``, the settings, the sources and
        ``simulated``.
    exposure_dat : DataFrame
        The candidate instruments (after clumping) in TwoSampleMR's exposure
        columns, as ``extract_instruments`` + ``clump_data`` return them.
    outcome_dat : DataFrame
        Their rows in the outcome data (LD proxies mapped to the target SNP) in
        TwoSampleMR's outcome columns, as ``extract_outcome_data`` returns them,
        before harmonisation: with ``exposure_dat``, the input of ``mrbook harmonise``.

    ``snps``, ``exposure_dat`` and ``outcome_dat`` may be given as functions that
    make the table: it is then made on first use (``mrbook batch`` never reads
    them), and kept.
    ``exclusions`` may be given as its rows (a list of tuples in the order of
    :data:`EXCLUSION_COLUMNS`, or a :class:`PairExclusions`): the table is made on
    first use, and :meth:`exclusion_rows` gives the rows (``mrbook batch`` makes
    one table of the rows of all the pairs of a chunk).
    """

    def __init__(self, harmonised: pd.DataFrame, exclusions, snps,
                 summary: dict | None = None, exposure_dat=None,
                 outcome_dat: pd.DataFrame | None = None):
        self.harmonised = harmonised
        self._exclusions = exclusions
        self._snps = snps
        self.summary = {} if summary is None else summary
        self._exposure_dat = pd.DataFrame() if exposure_dat is None else exposure_dat
        self._outcome_dat = pd.DataFrame() if outcome_dat is None else outcome_dat

    @property
    def exclusions(self) -> pd.DataFrame:
        if isinstance(self._exclusions, (list, PairExclusions)):
            self._exclusions = exclusions_table(list(self._exclusions))
        return self._exclusions

    @exclusions.setter
    def exclusions(self, value) -> None:
        self._exclusions = value

    def exclusion_rows(self):
        """The rows of :attr:`exclusions` as tuples (``snp, step, reason, id_exposure,
        id_outcome``): a list, or the :class:`PairExclusions` given."""
        if isinstance(self._exclusions, (list, PairExclusions)):
            return self._exclusions
        return list(self._exclusions.itertuples(index=False, name=None))

    snps = _MadeOnUse()
    exposure_dat = _MadeOnUse()
    outcome_dat = _MadeOnUse()

    def __getstate__(self) -> dict:  # pickled with every table made
        return {"harmonised": self.harmonised, "exclusions": self.exclusions, "snps": self.snps,
                "summary": self.summary, "exposure_dat": self.exposure_dat,
                "outcome_dat": self.outcome_dat}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    def __repr__(self) -> str:
        return (f"Instruments(final={len(self.harmonised)}, "
                f"excluded={len(self.exclusions)}, summary keys={len(self.summary)})")


def _step_rank(row: tuple) -> int:
    """The place of an exclusion's step (``row[1]``) in :data:`STEPS` (unknown steps last)."""
    return _STEP_RANK.get(row[1], len(STEPS))


def _by_step(rows) -> list:
    """Exclusions sorted by step, stable."""
    return sorted(rows, key=_step_rank)


_STEP_RANK = {s: i for i, s in enumerate(STEPS)}


@dataclass(frozen=True)
class PairExclusions:
    """The exclusions of one pair as rows: its ``(snp, step, reason)`` rows and its ids.

    A sequence of tuples in the order of :data:`EXCLUSION_COLUMNS` (each row with
    the two ids), made as they are read: a pair's rows begin with its exposure's
    (the SNPs clumping removed, shared by all its outcomes).
    """

    rows: list
    id_exposure: str
    id_outcome: str

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        ids = (self.id_exposure, self.id_outcome)
        return ((*r, *ids) for r in self.rows)


def exclusions_table(rows) -> pd.DataFrame:
    """The exclusions table of these rows (tuples in the order of :data:`EXCLUSION_COLUMNS`)."""
    return pd.DataFrame(rows, columns=EXCLUSION_COLUMNS)


# --------------------------------------------------------------------------- sources

@dataclass
class Source:
    """Where one side's data come from."""

    spec: str
    kind: str                      # "file", "demo" or "opengwas"
    id: str
    trait: str
    path: Path | None = None
    demo_dir: Path | None = None
    meta: dict = field(default_factory=dict)

    @property
    def simulated(self) -> bool:
        return self.kind == "demo"

    def describe(self) -> dict:
        d = {"source": self.spec, "kind": self.kind, "id": self.id, "trait": self.trait}
        if self.path is not None:
            d["path"] = str(self.path)
        if self.kind == "demo":
            d["simulated"] = True
            d.update({k: self.meta[k] for k in ("mirrors", "n", "ncase", "ncontrol", "seed")
                      if k in self.meta})
        return d


def resolve_source(spec, *, demo_seed: int | None = None, cache_dir=None) -> Source:
    """Interpret an exposure/outcome argument: a file, ``demo:``/``demo-mv:<trait>`` or an OpenGWAS ID.

    Raises
    ------
    ParameterError
        Unknown demo trait.
    InputError
        A path that does not exist and is not an OpenGWAS ID.
    """
    from .data import demo

    if isinstance(spec, Path):
        text = str(spec)
    elif isinstance(spec, str):
        text = spec.strip()
    else:
        raise ParameterError(f"a data source must be a path, 'demo:<trait>' or an OpenGWAS ID, "
                             f"got {spec!r}")
    if not text:
        raise ParameterError("empty data source")
    if text.lower().startswith("demo-mv:"):  # the demo's multivariable extension (SIMULATED)
        from .data.demo_mv import as_mv_source
        return as_mv_source(resolve_source("demo:" + text.split(":", 1)[1], demo_seed=demo_seed,
                                           cache_dir=cache_dir), text, cache_dir)
    if text.lower().startswith("demo:"):
        name = text.split(":", 1)[1].strip().lower()
        key = DEMO_ALIASES.get(name)
        if key is None:
            raise ParameterError(f"unknown demo trait {name!r}; known: "
                                 + ", ".join(demo.TRAITS))
        seed = demo.DEFAULT_SEED if demo_seed is None else int(demo_seed)
        folder = demo.demo_dir(seed, root=cache_dir)
        info = demo.TRAITS[key]
        meta = dict(info)
        meta["seed"] = seed
        return Source(spec=text, kind="demo", id=info["id"], trait=info["trait"],
                      path=folder / info["file"], demo_dir=folder, meta=meta)
    path = Path(text).expanduser()
    if path.exists():
        if path.is_dir():
            raise InputError("is a directory, not a summary-statistics file", path)
        stem = path.name
        for suf in (".gz", ".bgz", ".vcf", ".tsv", ".txt", ".csv"):
            if stem.lower().endswith(suf):
                stem = stem[: -len(suf)]
        return Source(spec=text, kind="file", id=stem, trait=stem, path=path)
    if _OPENGWAS_ID.match(text) and "/" not in text and not Path(text).suffix:
        return Source(spec=text, kind="opengwas", id=text, trait=text)
    raise InputError("file not found (and not an OpenGWAS ID or demo:<trait>)", path)


# --------------------------------------------------------------------------- confounder table

def read_confounder_table(path: str | Path) -> pd.DataFrame:
    """Read SNP-trait associations (GWAS Catalog associations TSV or a simple table).

    Parameters
    ----------
    path : str or Path
        Tab- or comma-separated file. GWAS Catalog columns ``SNPS``,
        ``DISEASE/TRAIT``, ``MAPPED_TRAIT`` (optional), ``P-VALUE`` (or
        ``PVALUE_MLOG``), ``PUBMEDID`` (optional); or a simple table with ``snp``
        (or ``rsid``), ``trait`` and ``p`` (or ``pval``) in any case.

    Returns
    -------
    DataFrame
        ``snp``, ``trait``, ``mapped_trait``, ``p``, ``pubmedid``, ``row`` (1-based
        data row); a row listing several SNPs (``rs1; rs2``, ``rs1 x rs2``) is
        repeated per SNP.

    Raises
    ------
    InputError
        Missing file, missing columns or a P that is not a number in [0, 1].
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path)
    try:
        with open(path, encoding="utf-8") as fh:
            head = fh.readline()
        sep = "\t" if "\t" in head else ","
        raw = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False,
                          comment=None, quoting=3 if sep == "\t" else 0)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(f"cannot read the association table: {exc}".splitlines()[0], path) \
            from None
    cols = {c.strip().lower(): c for c in raw.columns}

    def pick(*names):
        return next((cols[n] for n in names if n in cols), None)

    c_snp = pick("snps", "snp", "rsid", "variant")
    c_trait = pick("disease/trait", "trait", "phenotype")
    c_mapped = pick("mapped_trait")
    c_p = pick("p-value", "p", "pval", "p_value")
    c_mlog = pick("pvalue_mlog", "mlogp", "neg_log10_p")
    c_pmid = pick("pubmedid", "pmid")
    missing = [n for n, c in (("SNPS (or snp)", c_snp), ("DISEASE/TRAIT (or trait)", c_trait))
               if c is None]
    if c_p is None and c_mlog is None:
        missing.append("P-VALUE (or p)")
    if missing:
        raise InputError("association table lacks column(s) " + ", ".join(missing)
                         + " (expected a GWAS Catalog associations TSV)", path, 0)
    rows = []
    for i, r in enumerate(raw.itertuples(index=False, name=None), start=1):
        vals = dict(zip(raw.columns, r))
        ptxt = vals[c_p].strip() if c_p else ""
        p = math.nan
        if ptxt:
            try:
                p = float(ptxt)
            except ValueError:
                raise InputError(f"P-value is not a number: {ptxt!r}", path, i, c_p) from None
        elif c_mlog and vals[c_mlog].strip():
            try:
                p = 10.0 ** -float(vals[c_mlog])
            except ValueError:
                raise InputError(f"-log10 P is not a number: {vals[c_mlog]!r}", path, i,
                                 c_mlog) from None
        if not math.isnan(p) and not 0 <= p <= 1:
            raise InputError(f"P-value must be in [0, 1], got {ptxt}", path, i, c_p)
        for snp in re.split(r"\s*[;,]\s*|\s+x\s+", vals[c_snp].strip()):
            if snp:
                rows.append((snp, vals[c_trait].strip(),
                             vals[c_mapped].strip() if c_mapped else "", p,
                             vals[c_pmid].strip() if c_pmid else "", i))
    return pd.DataFrame(rows, columns=["snp", "trait", "mapped_trait", "p", "pubmedid", "row"])


def _hit_rows(rows, wanted) -> list[tuple]:
    """``(snp, hit)`` of the association rows (tuples) that name one of ``wanted``."""
    out = []
    for r in rows:
        text = f"{r.trait} | {r.mapped_trait}".lower()
        matched = [t for t in wanted if t in text]
        if matched:
            out.append((r.snp, {"trait": r.trait, "p": float(r.p), "pubmedid": r.pubmedid,
                                "matched": matched[0], "row": int(r.row)}))
    return out


#: association tables asked more than once (a batch asks one table for every pair):
#: id -> [table, calls, {(traits, p_max): {snp: (first row, hits)}}]
_HIT_INDEX: dict = {}


def _hit_index(table: pd.DataFrame, wanted: tuple, p_max: float) -> dict | None:
    """The hits of every SNP of ``table`` (per SNP: its first row's position and its
    hits), made on the second question to the same table, else None."""
    entry = _HIT_INDEX.get(id(table))
    if entry is None or entry[0] is not table:
        if len(_HIT_INDEX) >= 8:
            _HIT_INDEX.clear()
        _HIT_INDEX[id(table)] = [table, 1, {}]
        return None
    entry[1] += 1
    index = entry[2].get((wanted, p_max))
    if index is None:
        index = {}
        sub = table[(table["p"] < p_max).to_numpy()]
        for pos, (snp, hit) in enumerate(_hit_rows(sub.itertuples(index=False), wanted)):
            index.setdefault(snp, (pos, []))[1].append(hit)
        for _, hits in index.values():
            hits.sort(key=lambda d: (d["p"], d["trait"]))
        entry[2][(wanted, p_max)] = index
    return index


def confounder_hits(table: pd.DataFrame, snps, traits, p_max: float) -> dict[str, list[dict]]:
    """Associations of ``snps`` with any of ``traits`` at P < ``p_max``, per SNP (best P first).

    SNPs are listed in the order of their first such row in ``table``. A table
    asked again (``mrbook batch`` asks one table for every pair) is indexed once
    by SNP; the answers are the same.
    """
    wanted = tuple(t.strip().lower() for t in traits if t and t.strip())
    if not wanted or table.empty:
        return {}
    index = _hit_index(table, wanted, p_max)
    if index is not None:
        found = sorted((s for s in set(snps) if s in index), key=lambda s: index[s][0])
        return {s: [dict(h) for h in index[s][1]] for s in found}
    sub = table[table["snp"].isin(set(snps)) & (table["p"] < p_max)]
    out: dict[str, list[dict]] = {}
    for snp, hit in _hit_rows(sub.itertuples(index=False), wanted):
        out.setdefault(snp, []).append(hit)
    for v in out.values():
        v.sort(key=lambda d: (d["p"], d["trait"]))
    return out


# --------------------------------------------------------------------------- reading

def _fill_sample_sizes(df: pd.DataFrame, src: Source) -> pd.DataFrame:
    if src.kind != "demo" or df.empty:
        return df
    df = df.copy()
    for col in ("n", "ncase", "ncontrol"):
        df[col] = df[col].fillna(float(src.meta[col]))
    return df


def _read_exposure(src: Source, p: float) -> pd.DataFrame:
    from .data.readers import read_sumstats

    if src.kind == "opengwas":
        raise AssertionError("OpenGWAS exposures are read by _opengwas_exposure")
    df = read_sumstats(src.path, p_max=p)
    return _fill_sample_sizes(df, src)


def _read_outcome(src: Source, snps) -> pd.DataFrame:
    from .data.readers import read_sumstats

    df = read_sumstats(src.path, snps=list(snps))
    return _fill_sample_sizes(df, src)


def _complement(a: str) -> str:
    table = {"A": "T", "T": "A", "C": "G", "G": "C"}
    return "".join(table.get(ch, ch) for ch in a)


class OutcomeRows:
    """Rows of an outcome's normalised table (:func:`mrbook.data.readers.read_sumstats`),
    looked up by rsID.

    What ``read_outcome`` gives :func:`instruments_for_outcome`: one read of the
    file, or (``mrbook batch``) one table per outcome holding the rows of every
    SNP its pairs need, indexed once and asked by every pair.

    Parameters
    ----------
    table : DataFrame
        The normalised rows, in file order (never modified).
    """

    def __init__(self, table: pd.DataFrame):
        self.table = table
        self._where: dict | None = None  # rsid -> its row positions
        self._arrays: dict = {}          # column -> its values (array); tables made once
        self._lists: dict = {}           # column -> its values (list)

    def __len__(self) -> int:
        return len(self.table)

    def where(self) -> dict:
        """rsID -> the positions of its rows, in table order."""
        if self._where is None:
            where: dict = {}
            for i, s in enumerate(self.table["rsid"].tolist()):
                where.setdefault(s, []).append(i)
            self._where = where
        return self._where

    def positions(self, rsids) -> list[int]:
        """The positions of the rows of these rsIDs, in table order."""
        where = self.where()
        return sorted(i for s in set(rsids) for i in where.get(s, ()))

    def array(self, name: str):
        """The values of column ``name`` (an array; read-only)."""
        got = self._arrays.get(name)
        if got is None:
            got = self._arrays[name] = self.table[name].array
        return got

    def values(self, name: str) -> list:
        """The values of column ``name`` as a list."""
        got = self._lists.get(name)
        if got is None:
            got = self._lists[name] = self.table[name].tolist()
        return got

    def outcome_dat(self, id: str, trait: str) -> pd.DataFrame:
        """Every row in TwoSampleMR's outcome columns (``proxy`` false), made once.

        The same table is returned each time: callers must not modify it.
        """
        from .data.readers import COLUMNS, tsmr_frame

        key = ("outcome_dat", id, trait)
        got = self._arrays.get(key)
        if got is None:
            cols = {c: self.array(c) for c in COLUMNS}
            cols["proxy"] = np.zeros(len(self), dtype=bool)
            got = self._arrays[key] = tsmr_frame(cols, "outcome", id, trait,
                                                 pd.RangeIndex(len(self)))
        return got

    def __getstate__(self) -> dict:  # a batch moves its outcomes between workers: the table only
        return {"table": self.table}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["table"])


class ProxyTable:
    """LD proxies (:func:`mrbook.data.ld.find_proxies`' table), grouped by target.

    Parameters
    ----------
    table : DataFrame
        ``target``, ``proxy``, ``r2``, ``phase``, ``target_a1``, ``target_a2``,
        ``proxy_a1``, ``proxy_a2`` ... one row per proxy.
    """

    def __init__(self, table: pd.DataFrame):
        names = list(table.columns)
        self.by_target: dict = {}  # target -> its proxies in table order (one namespace each)
        for vals in zip(*(table[n].tolist() for n in names)):
            c = SimpleNamespace(**dict(zip(names, vals)))
            self.by_target.setdefault(c.target, []).append(c)

    def of(self, targets) -> list:
        """The proxies of these targets (target by target, each's in table order)."""
        return [c for t in targets for c in self.by_target.get(t, ())]


def _outcome_rows(got) -> OutcomeRows:
    """What ``read_outcome`` gave (a normalised table or its :class:`OutcomeRows`), indexed."""
    return got if isinstance(got, OutcomeRows) else OutcomeRows(got)


def _rows_at(df: pd.DataFrame, pos) -> pd.DataFrame:
    """The rows of ``df`` at these positions, numbered from 0 (a new table)."""
    out = df.take(np.asarray(pos, dtype=np.intp))
    out.index = pd.RangeIndex(len(out))
    return out


def _proxy_rows(outcome: OutcomeRows, proxies: ProxyTable, missing) -> list[tuple]:
    """The best available proxy of each missing SNP: ``(row, target, effect allele, other
    allele, proxy)`` with the position of the proxy's first row in ``outcome``, and the
    target's alleles that stand for the proxy row's effect and other alleles.

    The proxy's effect allele is mapped to the target allele in phase with it
    (panel A1/A2 and the sign of D); a proxy whose outcome alleles match the panel
    on neither strand is skipped.
    """
    where = outcome.where()
    found = []
    for t in missing:
        for c in proxies.by_target.get(t, ()):
            if c.proxy not in where:
                continue
            i = where[c.proxy][0]
            ea = str(outcome.values("effect_allele")[i])
            oa = str(outcome.values("other_allele")[i])
            pa1, pa2 = c.proxy_a1, c.proxy_a2
            if {ea, oa} != {pa1, pa2}:
                ea_c, oa_c = _complement(ea), _complement(oa)
                if {ea_c, oa_c} == {pa1, pa2}:
                    ea, oa = ea_c, oa_c
                else:
                    continue
            ea_is_a1 = ea == pa1
            in_phase_a1 = c.phase > 0
            t_ea = c.target_a1 if ea_is_a1 == in_phase_a1 else c.target_a2
            t_oa = c.target_a2 if t_ea == c.target_a1 else c.target_a1
            found.append((i, t, t_ea, t_oa, c))
            break
    return found


#: the proxy columns of an outcome row drawn from an LD proxy, and their values
_PROXY_ROW = {"target_rsid": lambda t, c: t, "proxy_rsid": lambda t, c: c.proxy,
              "target_a1": lambda t, c: c.target_a1, "target_a2": lambda t, c: c.target_a2,
              "proxy_a1": lambda t, c: c.proxy_a1, "proxy_a2": lambda t, c: c.proxy_a2}


def _concat(parts: list):
    """The arrays ``parts`` end to end (as ``pd.concat`` of their Series)."""
    first = parts[0]
    if all(type(a) is type(first) and a.dtype == first.dtype for a in parts):
        return type(first)._concat_same_type(parts)
    return pd.concat([pd.Series(a) for a in parts], ignore_index=True).array


def _outcome_dat(rows: OutcomeRows, pos: list, extra: OutcomeRows | None, found: list,
                 out_src: Source) -> tuple[pd.DataFrame, list | None]:
    """The outcome's rows of a pair in TwoSampleMR's columns (``outcome_dat``), as
    ``(table, positions)``: the rows at ``positions`` of ``table`` (all its rows
    where ``positions`` is None).

    The rows at ``pos`` in ``rows``, then one row per LD proxy in ``found``
    (:func:`_proxy_rows` on ``extra``): the proxy's row under the target's rsID and
    alleles, with ``proxy`` true and the proxy's ``target_rsid`` ... ``proxy_a2``.
    Without proxies, the table of all the rows of ``rows`` (made once) and ``pos``.
    """
    from .data.frames import str_array
    from .data.readers import _TEXT, COLUMNS, tsmr_frame

    if not found:
        return rows.outcome_dat(out_src.id, out_src.trait), pos
    n, idx = len(pos), np.asarray(pos, dtype=np.intp)
    at = np.asarray([f[0] for f in found], dtype=np.intp)
    own = {"rsid": [f[1] for f in found], "effect_allele": [f[2] for f in found],
           "other_allele": [f[3] for f in found]}
    cols = {}
    for c in COLUMNS:
        head = rows.array(c).take(idx)
        tail = str_array(own[c], head.dtype) if c in own else extra.array(c).take(at)
        cols[c] = _concat([head, tail])
    cols["proxy"] = np.arange(n + len(found)) >= n
    for name, value in _PROXY_ROW.items():  # text, as pd.concat fills the candidates' rows
        cols[name] = str_array([np.nan] * n + [value(t, c) for _, t, _, _, c in found], _TEXT)
    return tsmr_frame(cols, "outcome", out_src.id, out_src.trait,
                      pd.RangeIndex(n + len(found)), copy=False), None


# --------------------------------------------------------------------------- main

def _pmid_note(pmid) -> str:
    """``", PMID 123"`` for a confounder hit's PubMed id, or nothing when it is missing or 0."""
    return f", PMID {pmid}" if pmid and pmid != "0" else ""


@dataclass
class ExposureSelection:
    """Steps 1-2 for one exposure (P threshold, clumping): what all its outcomes share.

    :func:`select_exposure` makes it and :func:`instruments_for_outcome` finishes
    the selection for one outcome; :func:`select_instruments` is the two in a
    row, and ``mrbook batch`` calls the first once per exposure and the second
    once per pair.

    Attributes
    ----------
    source : Source
        The exposure (its ``trait`` as OpenGWAS names it, for an OpenGWAS ID).
    hits : DataFrame
        The SNPs with P < ``p`` and an rsID, one row per rsID, ordered by
        (effective P, rsID), in the normalised columns of
        :func:`mrbook.data.readers.read_sumstats` plus ``p_eff``.
    kept : list of str
        The candidates: the rsIDs that LD clumping kept.
    exclusions : list of (snp, step, reason)
        The SNPs clumping removed.
    engine : str or None
        The clumping engine used (``plink``, ``python``, ``opengwas`` or none).
    notes : list of str
        Remarks for the summary (e.g. variants without an rsID).
    p, r2, kb : float
        The settings of the two steps.
    """

    source: Source
    hits: pd.DataFrame
    kept: list
    exclusions: list
    engine: str | None
    notes: list
    p: float
    r2: float
    kb: float
    #: tables made once from the selection (read by every outcome; never modified)
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def _candidates(self) -> pd.DataFrame:
        c = self._cache.get("candidates")
        if c is None:
            c = self.hits[self.hits["rsid"].isin(set(self.kept))].reset_index(drop=True)
            self._cache["candidates"] = c
            self._cache["candidate_rsids"] = [str(x) for x in c["rsid"].tolist()]
        return c

    @property
    def candidates(self) -> pd.DataFrame:
        """The rows of :attr:`hits` that clumping kept, in the same order."""
        return self._candidates().copy()

    def candidate_rsids(self) -> list:
        """The rsIDs of :attr:`candidates`, in order."""
        self._candidates()
        return self._cache["candidate_rsids"]

    def exposure_table(self) -> pd.DataFrame:
        """:attr:`candidates` in TwoSampleMR's exposure columns (``exposure_dat``), made once.

        The same table is returned each time: callers must not modify it.
        """
        key = ("exposure_table", self.source.id, self.source.trait)
        t = self._cache.get(key)
        if t is None:
            from .data.readers import to_tsmr

            t = to_tsmr(self._candidates().drop(columns=["p_eff"]), "exposure",
                        id=self.source.id, trait=self.source.trait)
            self._cache[key] = t
        return t

    def f_statistics(self) -> tuple:
        """``(f, rsq, f_by_rsid)`` of the :attr:`hits`: F = (beta/se)² and F / (N - 2 + F)."""
        got = self._cache.get("f")
        if got is None:
            exp = self.hits
            n_exp = exp["n"].to_numpy(dtype=float)
            f_all = (exp["beta"].to_numpy(dtype=float) / exp["se"].to_numpy(dtype=float)) ** 2
            with np.errstate(invalid="ignore", divide="ignore"):
                rsq_all = f_all / (n_exp - 2 + f_all)
            got = self._cache["f"] = (f_all, rsq_all, dict(zip(exp["rsid"], f_all)))
        return got

    def excluded_snps(self) -> set:
        """The SNPs of :attr:`exclusions` (a new set)."""
        got = self._cache.get("excluded_snps")
        if got is None:
            got = self._cache["excluded_snps"] = {e[0] for e in self.exclusions}
        return set(got)

    def sorted_exclusions(self, more: list) -> list:
        """:attr:`exclusions` and then ``more``, sorted by step (the order of :data:`STEPS`;
        stable: in their order within a step).

        :attr:`exclusions` are sorted once; when all their steps come before those
        of ``more`` (clumping, the first step, before an outcome's), the two lists
        are put end to end.
        """
        got = self._cache.get("sorted_exclusions")
        if got is None:
            ordered = _by_step(self.exclusions)
            got = self._cache["sorted_exclusions"] = (
                ordered, max((_step_rank(e) for e in ordered), default=-1))
        ordered, last = got
        if all(_step_rank(e) >= last for e in more):
            return ordered + _by_step(more)
        return _by_step([*self.exclusions, *more])

    def prepare(self) -> "ExposureSelection":
        """Make the shared tables now (a batch does it once per exposure, before the pairs)."""
        self._candidates()
        self.exposure_table()
        self.f_statistics()
        return self


def reference_panel(ld_ref, demo_folder=None):
    """The LD reference of a pair: ``(panel, description)`` or ``(None, None)``.

    ``ld_ref`` (a PLINK prefix) when given, otherwise the demo's panel when a
    source is a ``demo:`` trait (``demo_folder``), otherwise none.
    """
    from .data import demo as demo_mod
    from .data import ld as ld_mod

    if ld_ref is not None and ld_ref != "":
        return ld_mod.read_panel(ld_ref), str(ld_ref)
    if demo_folder is not None:
        man = demo_mod.load_manifest(demo_folder)
        return (ld_mod.read_panel(demo_folder / man["files"]["panel"]),
                f"demo panel ({man['files']['panel']}, SIMULATED)")
    return None, None


def select_exposure(exp_src: Source, *, p: float = 5e-8, r2: float = 0.01, kb: float = 10000,
                    panel=None, clump: bool = True,
                    clump_engine: str = "auto") -> ExposureSelection:
    """Steps 1-2 of :func:`select_instruments`: P threshold and LD clumping of one exposure.

    Parameters
    ----------
    exp_src : Source
        From :func:`resolve_source`.
    p, r2, kb, clump, clump_engine
        As :func:`select_instruments`.
    panel : mrbook.data.ld.Panel, optional
        The LD reference (:func:`reference_panel`); without one an OpenGWAS
        exposure is clumped on the server, a file exposure on the server when
        ``OPENGWAS_JWT`` is set, and otherwise it is an error.

    Returns
    -------
    ExposureSelection

    Raises
    ------
    InputError
        The exposure file cannot be read.
    ParameterError
        Clumping is asked for and no LD reference is available.
    """
    from .data import ld as ld_mod
    from .data.readers import effective_p

    excl: list[tuple[str, str, str]] = []
    notes: list[str] = []
    engine_used = None
    if exp_src.kind == "opengwas":
        from .data.opengwas import OpenGWAS

        og = OpenGWAS()
        if panel is not None:
            hits = og.tophits(exp_src.id, pval=p, clump=False)
        else:
            hits = og.tophits(exp_src.id, pval=p, clump=True, r2=r2, kb=int(kb))
            engine_used = "opengwas"
        if not hits.empty and "trait" in hits.columns and hits["trait"].notna().any():
            exp_src.trait = str(hits["trait"].dropna().iloc[0])
        exp = hits[list(_norm_cols())].copy()
    else:
        exp = _read_exposure(exp_src, p)
    exp = exp[exp["p"] < p] if len(exp) else exp
    no_id = exp["rsid"].isna() | (exp["rsid"].astype(str).isin(["", "nan", "<NA>", "None"]))
    if no_id.any():
        notes.append(f"{int(no_id.sum())} significant variants without an rsID were skipped")
        exp = exp[~no_id]
    exp = exp.assign(p_eff=effective_p(exp)).sort_values(["p_eff", "rsid"], kind="stable")
    exp = exp.drop_duplicates("rsid").reset_index(drop=True)
    if not clump:
        kept = exp["rsid"].tolist()
        engine_used = "none (clump=False: the exposure's SNPs were taken as independent)"
    elif engine_used == "opengwas":
        kept = exp["rsid"].tolist()
    elif panel is not None:
        res = ld_mod.clump(exp[["rsid", "p_eff"]].rename(columns={"p_eff": "p"}), panel,
                           r2=r2, kb=kb, p1=1.0, p2=1.0, engine=clump_engine)
        kept = res.kept
        engine_used = res.exclusions.attrs.get("engine")
        for r in res.exclusions.itertuples(index=False):
            excl.append((r.snp, "clumping", r.reason))
    elif os.environ.get("OPENGWAS_JWT"):
        from .data.opengwas import OpenGWAS

        kept = OpenGWAS().ld_clump(exp["rsid"].tolist(), exp["p_eff"].tolist(), r2=r2,
                                   kb=int(kb), pthresh=1.0)
        engine_used = "opengwas"
        for s in exp["rsid"]:
            if s not in set(kept):
                excl.append((s, "clumping", "removed by OpenGWAS ld/clump (LD with a "
                                            "stronger SNP, or absent from the reference)"))
    else:
        raise ParameterError("clumping needs an LD reference: pass ld_ref=PREFIX (a PLINK "
                             "binary fileset such as 1000 Genomes EUR), use an OpenGWAS "
                             "exposure, or set OPENGWAS_JWT to clump on the OpenGWAS server")
    return ExposureSelection(source=exp_src, hits=exp, kept=list(kept), exclusions=excl,
                             engine=engine_used, notes=notes, p=p, r2=r2, kb=kb)


def select_instruments(exposure, outcome, *, p: float = 5e-8, r2: float = 0.01,
                       kb: float = 10000, ld_ref=None, palindrome_action: int = 2,
                       confounder_table=None, confounder_traits=(),
                       confounder_p: float = 5e-8, steiger: bool = False,
                       proxies: bool = True, proxy_r2: float = 0.8, proxy_kb: float = 500,
                       clump_engine: str = "auto", clump: bool = True,
                       demo_seed: int | None = None, cache_dir=None) -> Instruments:
    """Select and harmonise the instruments of one exposure-outcome pair.

    Parameters
    ----------
    exposure, outcome : str or Path
        A summary-statistics file, ``"demo:<trait>"`` or an OpenGWAS study ID.
    p : float
        Exposure P-value threshold (strict ``<``), 5e-8.
    r2 : float
        Clumping r² threshold (0.01 in the study).
    kb : float
        Clumping window in kb (TwoSampleMR's default 10000).
    ld_ref : str or Path, optional
        PLINK 1 binary fileset prefix for clumping and LD proxies. Default: the demo
        panel for a demo source; the OpenGWAS server for an OpenGWAS exposure (or
        for a file exposure when ``OPENGWAS_JWT`` is set); otherwise an error.
    palindrome_action : {1, 2, 3}
        TwoSampleMR's ``action`` (2: drop palindromic SNPs with ambiguous allele
        frequency).
    confounder_table : str or Path or False, optional
        Association table for the confounder step. Default: the demo's table when a
        source is a demo, otherwise no confounder step; ``False`` skips the step.
    confounder_traits : sequence of str
        Traits (case-insensitive substrings) whose associations exclude a SNP.
        Default for the demo table: :data:`mrbook.data.demo.DEFAULT_CONFOUNDER_TRAITS`.
    confounder_p : float
        P threshold of a confounder association (5e-8).
    steiger : bool
        Drop SNPs that fail Steiger filtering.
    proxies : bool
        Look for LD proxies (r² >= ``proxy_r2`` within ``proxy_kb``) of SNPs missing
        from the outcome.
    clump_engine : {"auto", "plink", "python"}
        See :func:`mrbook.data.ld.clump`.
    clump : bool
        False skips LD clumping, for an exposure file that already holds
        independent instruments (for example a TwoSampleMR ``clump_data`` output);
        the summary records that clumping was not done here.
    demo_seed : int, optional
        Seed of the demo study (default :data:`mrbook.data.demo.DEFAULT_SEED`).
    cache_dir : str or Path, optional
        Cache root for the demo (default ``$MRBOOK_CACHE`` or ``~/.cache/mrbook``).

    Returns
    -------
    Instruments

    Raises
    ------
    InputError
        Unreadable or missing input files (one line: file, row, column).
    ParameterError
        Bad settings, unknown demo trait, no LD reference available.

    Notes
    -----
    Per SNP, :math:`F = (\\hat\\beta_X / se_X)^2` and
    :math:`R^2 = F / (N - 2 + F)` (TwoSampleMR ``get_r_from_bsen``).

    References
    ----------
    Hemani G, et al. The MR-Base platform supports systematic causal inference across
    the human phenome. eLife 2018;7:e34408. doi:10.7554/eLife.34408

    Examples
    --------
    >>> ins = select_instruments("demo:hypothyroidism", "demo:osteoporosis")  # doctest: +SKIP
    >>> ins.summary["final"]  # doctest: +SKIP
    69
    """
    _check_settings(p, r2, kb, palindrome_action, confounder_p, proxy_r2)
    exp_src = resolve_source(exposure, demo_seed=demo_seed, cache_dir=cache_dir)
    out_src = resolve_source(outcome, demo_seed=demo_seed, cache_dir=cache_dir)
    demo_folder = exp_src.demo_dir or out_src.demo_dir
    panel, ld_desc = reference_panel(ld_ref, demo_folder)
    selection = select_exposure(exp_src, p=p, r2=r2, kb=kb, panel=panel, clump=clump,
                                clump_engine=clump_engine)
    return instruments_for_outcome(
        selection, out_src, panel=panel, ld_desc=ld_desc, demo_folder=demo_folder,
        palindrome_action=palindrome_action, confounder_table=confounder_table,
        confounder_traits=confounder_traits, confounder_p=confounder_p, steiger=steiger,
        proxies=proxies, proxy_r2=proxy_r2, proxy_kb=proxy_kb)


def instruments_for_outcome(selection: ExposureSelection, out_src: Source, *, panel=None,
                            ld_desc: str | None = None, demo_folder=None,
                            palindrome_action: int = 2, confounder_table=None,
                            confounder_traits=(), confounder_p: float = 5e-8,
                            steiger: bool = False, proxies: bool = True,
                            proxy_r2: float = 0.8, proxy_kb: float = 500,
                            read_outcome=None, find_proxies=None, associations=None,
                            read_table=None) -> Instruments:
    """Steps 3-6 of :func:`select_instruments` for one outcome of a selected exposure.

    Parameters
    ----------
    selection : ExposureSelection
        Steps 1-2 (:func:`select_exposure`).
    out_src : Source
        The outcome (:func:`resolve_source`).
    panel, ld_desc : optional
        The LD reference and its description (:func:`reference_panel`).
    demo_folder : Path, optional
        The demo study's folder when a source is a ``demo:`` trait (its association
        table is the default of the confounder step).
    palindrome_action, confounder_table, confounder_traits, confounder_p, steiger, proxies, \
proxy_r2, proxy_kb
        As :func:`select_instruments`.
    read_outcome : callable, optional
        ``read_outcome(rsids) -> DataFrame or OutcomeRows``: the outcome file's
        rows of these rsIDs (normalised columns, file order); rows of other rsIDs
        may come too (``mrbook batch`` gives every row it read, indexed once:
        :class:`OutcomeRows`), they are not looked at. Default: read the file.
    find_proxies : callable, optional
        ``find_proxies(rsids) -> DataFrame or ProxyTable``: every LD proxy of these
        SNPs, as :func:`mrbook.data.ld.find_proxies` with ``best_only=False``; the
        proxies of other SNPs may come too (``mrbook batch`` gives those of all the
        exposure's candidates, grouped once: :class:`ProxyTable`). Default: search
        ``panel``.
    associations : callable, optional
        ``associations(rsids) -> DataFrame``: OpenGWAS outcome associations (with
        proxies). Default: ask the OpenGWAS API.
    read_table : callable, optional
        ``read_table(path) -> DataFrame``: the confounder association table.
        Default :func:`read_confounder_table`.

    The four callables let a caller that analyses many pairs (``mrbook batch``)
    read each file once and answer each pair from memory; the results are
    those of the defaults.

    Returns
    -------
    Instruments
    """
    from .data import demo as demo_mod
    from .data import ld as ld_mod
    from .harmonise import harmonise_with_exclusions
    from .data.readers import to_tsmr

    if read_outcome is None:
        def read_outcome(snps):
            return _read_outcome(out_src, snps)
    if find_proxies is None:
        def find_proxies(snps):
            return ld_mod.find_proxies(panel, snps, r2_min=proxy_r2, kb=proxy_kb,
                                       best_only=False)
    if associations is None:
        def associations(snps):
            from .data.opengwas import OpenGWAS

            return OpenGWAS().associations(snps, out_src.id, proxies=proxies, r2=proxy_r2)
    if read_table is None:
        read_table = read_confounder_table

    exp_src = selection.source
    p, r2, kb = selection.p, selection.r2, selection.kb
    exp = selection.hits
    hits_n = int(len(exp))
    engine_used = selection.engine
    excl: list[tuple[str, str, str]] = []  # this outcome's (after the selection's)
    notes: list[str] = list(selection.notes)
    cand_rsids = selection.candidate_rsids()

    # 3. outcome rows (+ proxies)
    rows = extra = None
    found: list[tuple] = []
    if out_src.kind == "opengwas":
        outc = associations(list(cand_rsids)) if cand_rsids else pd.DataFrame(
            columns=list(_norm_cols()))
        if not outc.empty and "trait" in outc.columns and outc["trait"].notna().any():
            out_src.trait = str(outc["trait"].dropna().iloc[0])
        if "proxy_rsid" in outc.columns:
            outc = outc.assign(proxy_r2=np.nan)
        present = {str(x) for x in outc["rsid"].tolist()} if len(outc) else set()
    else:
        rows = _outcome_rows(read_outcome(cand_rsids) if cand_rsids else
                             pd.DataFrame(columns=list(_norm_cols())))
        where = rows.where()
        present = {s for s in cand_rsids if s in where}
    missing = [s for s in cand_rsids if s not in present]
    proxy_used: dict[str, tuple[str, float]] = {}
    if missing and proxies and out_src.kind != "opengwas":
        if panel is None:
            notes.append("no LD reference: LD proxies were not looked up")
        else:
            prox = find_proxies(missing)
            prox = prox if isinstance(prox, ProxyTable) else ProxyTable(prox)
            wanted = list(dict.fromkeys(c.proxy for c in prox.of(missing)))
            if wanted:
                extra = _outcome_rows(read_outcome(wanted))
                found = _proxy_rows(extra, prox, missing)
                for _, t, _, _, c in found:
                    proxy_used[t] = (c.proxy, float(c.r2))
    if out_src.kind == "opengwas" and "proxy" in outc.columns:
        for r in outc[outc["proxy"].astype(bool)].itertuples(index=False):
            proxy_used[r.rsid] = (r.proxy_rsid, math.nan)
    missing = [s for s in missing if s not in proxy_used]
    why_missing = ("absent from the outcome data" + (
        f"; no LD proxy with r² >= {proxy_r2:g} within {proxy_kb:g} kb in the panel"
        if proxies and panel is not None and out_src.kind != "opengwas" else
        "; no proxy returned by OpenGWAS" if proxies and out_src.kind == "opengwas" else
        " (proxies not looked up)"))
    for s in missing:
        excl.append((s, "missing_in_outcome", why_missing))
    missing_set = set(missing)

    # 4. harmonisation, of the rows exp_at of exp_full and out_at of out_full (None: all)
    exp_full = selection.exposure_table()
    exp_at = [i for i, s in enumerate(cand_rsids) if s not in missing_set] if missing_set \
        else None
    # (the outcome's rows in TwoSampleMR's columns: a proxy's r² stays behind)
    if rows is not None:
        out_full, out_at = _outcome_dat(rows, rows.positions(present), extra, found, out_src)
    else:
        present_rsids = {s for s in cand_rsids if s not in missing_set}
        in_present = np.fromiter((str(x) in present_rsids for x in outc["rsid"].tolist()),
                                 dtype=bool, count=len(outc))
        out_keep = outc[in_present] if not in_present.all() else outc
        out_full, out_at = to_tsmr(out_keep, "outcome", id=out_src.id, trait=out_src.trait), None
    n_exp, n_out = (len(t) if at is None else len(at)
                    for t, at in ((exp_full, exp_at), (out_full, out_at)))
    if n_exp and n_out:
        harm, hexcl = harmonise_with_exclusions(exp_full, out_full, action=palindrome_action,
                                                include_outcome_only=False,
                                                exposure_rows=exp_at, outcome_rows=out_at,
                                                as_columns=True)
    else:
        harm, hexcl = (Columns.of(pd.DataFrame(columns=c))
                       for c in (["SNP", "mr_keep"], ["snp", "reason"]))
    # harm: the harmonised table's columns (the table itself is made only for Steiger
    # and the snps table; the final table is made of its rows once, at the end).
    # harmonise's log (attrs) goes on the final table only: pandas deep-copies attrs
    # into every column and row selection.
    harm_attrs = harm.attrs
    pal_snps: list[str] = []
    n_harm = len(harm)
    if n_harm:
        keep_mask = np.asarray(harm.column("mr_keep"), dtype=bool)
        snp_raw = list(harm.column("SNP"))
        harm_snp = [str(x) for x in snp_raw]
    else:
        keep_mask = np.zeros(0, dtype=bool)
        harm_snp = []
    if n_harm and not keep_mask.all():
        cols = harm.columns
        reasons = list(harm.column("mr_keep_reason")) if "mr_keep_reason" in cols \
            else [None] * n_harm
        flags = {c: (list(harm.column(c)) if c in cols else [False] * n_harm)
                 for c in ("palindromic", "ambiguous", "remove")}
        for i in np.flatnonzero(~keep_mask).tolist():
            reason = reasons[i] or "not kept by harmonisation"
            pal, amb, rem = (bool(flags["palindromic"][i]), bool(flags["ambiguous"][i]),
                             bool(flags["remove"][i]))
            if pal and not rem and (amb or palindrome_action == 3):
                pal_snps.append(str(snp_raw[i]))
                excl.append((str(snp_raw[i]), "palindromic", reason))
            else:
                excl.append((str(snp_raw[i]), "harmonise", reason))
    kept_harm_snps = {s for s, k in zip(harm_snp, keep_mask.tolist()) if k}
    handled = selection.excluded_snps() | {e[0] for e in excl}
    if len(hexcl):
        for s, reason in zip(hexcl.column("snp"), hexcl.column("reason")):
            s = str(s)
            if s not in handled and s not in kept_harm_snps:
                excl.append((s, "harmonise", str(reason)))
                handled.add(s)
    # the rows of harm that go on (the final table is taken from harm once, at the end)
    final_rows = np.flatnonzero(keep_mask)
    final_snp = [harm_snp[i] for i in final_rows.tolist()]

    # 5. confounders
    table_path = None
    traits = tuple(t for t in (confounder_traits or ()) if str(t).strip())
    if confounder_table is None and demo_folder is not None:
        man = demo_mod.load_manifest(demo_folder)
        table_path = demo_folder / man["files"]["confounders"]
    elif confounder_table not in (None, False):
        table_path = Path(confounder_table)
    if table_path is not None and not traits:
        if demo_folder is not None and (confounder_table is None or Path(table_path).resolve()
                                        .parent.parent == Path(demo_folder).resolve()):
            traits = demo_mod.DEFAULT_CONFOUNDER_TRAITS
        else:
            raise ParameterError("a confounder table needs confounder_traits (e.g. "
                                 "'body mass index,smoking')")
    conf_hits: dict[str, list[dict]] = {}
    if table_path is not None:
        table = read_table(table_path)
        conf_hits = confounder_hits(table, final_snp, traits, confounder_p)
        for s in final_snp:
            if s in conf_hits:
                parts = [f"{h['trait']} (P={h['p']:.2g}{_pmid_note(h['pubmedid'])})"
                         for h in conf_hits[s]]
                excl.append((s, "confounder", "associated with " + "; ".join(parts)
                             + f" at P < {confounder_p:g} in {Path(table_path).name}"))
        if any(s in conf_hits for s in final_snp):
            drop = np.fromiter((s in conf_hits for s in final_snp), dtype=bool,
                               count=len(final_snp))
            final_rows = final_rows[~drop]
            final_snp = [s for s in final_snp if s not in conf_hits]

    # 6. Steiger
    steiger_removed = []
    if steiger and len(final_rows):
        from .sensitivity.steiger import steiger_filtering

        st = steiger_filtering(harm.frame().iloc[final_rows])
        bad = st["steiger_dir"].fillna(True).to_numpy(dtype=bool) == False  # noqa: E712
        for r in st[bad].itertuples(index=False):
            d = dict(zip(st.columns, r))
            excl.append((str(d["SNP"]), "steiger",
                         f"Steiger: r² outcome {d['rsq_outcome']:.3g} >= r² exposure "
                         f"{d['rsq_exposure']:.3g} (P={d['steiger_pval']:.2g})"))
            steiger_removed.append(str(d["SNP"]))
        if steiger_removed:
            gone = set(steiger_removed)
            final_rows = final_rows[[s not in gone for s in final_snp]]
            final_snp = [s for s in final_snp if s not in gone]
    final = harm.rows(final_rows) if n_harm else harm.frame().copy().reset_index(drop=True)
    final.attrs.update(harm_attrs)

    # F statistics (of the exposure's SNPs: made once per exposure)
    f_all, rsq_all, fmap = selection.f_statistics()
    final_f = np.array([fmap[s] for s in final_snp], dtype=float)

    # tables
    excl_sorted = selection.sorted_exclusions(excl)
    exclusions = PairExclusions(excl_sorted, exp_src.id, out_src.id)
    final_set = set(final_snp)

    def snps_table() -> pd.DataFrame:
        first_excl: dict[str, tuple[str, str]] = {}
        for s, st, r in excl_sorted:
            first_excl.setdefault(s, (st, r))
        harm_t = harm.frame()
        harm_idx = harm_t.set_index(harm_t["SNP"].astype(str)) if n_harm else None
        snps = pd.DataFrame({
            "snp": exp["rsid"].astype(str), "chr": exp["chr"], "pos": exp["pos"],
            "effect_allele": exp["effect_allele"], "other_allele": exp["other_allele"],
            "eaf": exp["eaf"], "beta": exp["beta"], "se": exp["se"], "p": exp["p"],
            "n": exp["n"], "f_stat": f_all, "rsq": rsq_all})
        snps["candidate"] = snps["snp"].isin(set(selection.kept))
        snps["in_outcome"] = snps["candidate"] & ~snps["snp"].isin(missing_set)
        snps["proxy_snp"] = snps["snp"].map(lambda s: proxy_used[s][0] if s in proxy_used
                                            else None)
        snps["proxy_r2"] = snps["snp"].map(lambda s: proxy_used[s][1] if s in proxy_used
                                           else math.nan).astype(float)

        def _flag(col):
            if harm_idx is None or col not in harm_idx.columns:
                return pd.Series(pd.NA, index=snps.index, dtype="boolean")
            m = harm_idx[col].astype("boolean")
            m = m[~m.index.duplicated()]
            return snps["snp"].map(m).astype("boolean")

        snps["palindromic"] = _flag("palindromic")
        snps["ambiguous"] = _flag("ambiguous")
        snps["confounder_hits"] = snps["snp"].map(
            lambda s: "; ".join(f"{h['trait']} (P={h['p']:.2g})" for h in conf_hits[s])
            if s in conf_hits else "")
        snps["final"] = snps["snp"].isin(final_set)
        snps["excluded_at"] = snps["snp"].map(lambda s: first_excl.get(s, ("", ""))[0])
        snps["reason"] = snps["snp"].map(lambda s: first_excl.get(s, ("", ""))[1])
        return snps

    counts = Counter(map(itemgetter(1), excl_sorted))
    f_fin = final_f[~np.isnan(final_f)]
    simulated = exp_src.simulated or out_src.simulated
    summary = {
        "mrbook_version": VERSION,
        "simulated": bool(simulated),
        "exposure": exp_src.describe(),
        "outcome": out_src.describe(),
        "settings": {
            "p": p, "r2": r2, "kb": kb, "ld_ref": ld_desc, "clump_engine": engine_used,
            "palindrome_action": int(palindrome_action), "palindrome_tolerance": 0.08,
            "proxies": bool(proxies), "proxy_r2": proxy_r2, "proxy_kb": proxy_kb,
            "confounder_table": str(table_path) if table_path is not None else None,
            "confounder_traits": list(traits) if table_path is not None else [],
            "confounder_p": confounder_p, "steiger": bool(steiger),
        },
        "p_threshold_hits": hits_n,
        "clumped_out": int(counts.get("clumping", 0)),
        "candidates": int(len(cand_rsids)),
        "missing_in_outcome": int(counts.get("missing_in_outcome", 0)),
        "proxies_used": int(len(proxy_used)),
        "proxy_snps": {k: v[0] for k, v in sorted(proxy_used.items())},
        "harmonise_other": int(counts.get("harmonise", 0)),
        "palindromic": int(counts.get("palindromic", 0)),
        "palindromic_snps": sorted(pal_snps),
        "confounder": int(counts.get("confounder", 0)),
        "confounder_snps": {s: conf_hits[s][0]["trait"] for s in sorted(conf_hits)},
        "steiger_removed": int(len(steiger_removed)),
        "final": int(len(final)),
        "f_min": float(f_fin.min()) if f_fin.size else None,
        "f_max": float(f_fin.max()) if f_fin.size else None,
        "f_mean": float(f_fin.mean()) if f_fin.size else None,
        "weak_instruments": int((f_fin < 10).sum()),
        "notes": notes,
    }
    if simulated:
        summary["demo_seed"] = (exp_src.meta.get("seed") if exp_src.simulated
                                else out_src.meta.get("seed"))
    summary["flow"] = _flow(summary)
    return Instruments(harmonised=final, exclusions=exclusions, snps=snps_table,
                       summary=summary, exposure_dat=lambda: exp_full.copy(),
                       outcome_dat=out_full if out_at is None else
                       (lambda: _rows_at(out_full, out_at)))


def _norm_cols():
    from .data.readers import COLUMNS
    return COLUMNS


def _flow(s: dict) -> list[dict]:
    """The selection as a list of steps with SNPs removed and remaining."""
    steps = [("p_threshold", None, s["p_threshold_hits"]),
             ("clumping", s["clumped_out"], s["candidates"])]
    left = s["candidates"]
    for key in ("missing_in_outcome", "harmonise", "palindromic", "confounder"):
        n = s["harmonise_other"] if key == "harmonise" else s[key]
        left -= n
        steps.append((key, n, left))
    left -= s["steiger_removed"]
    steps.append(("steiger", s["steiger_removed"], left))
    return [{"step": a, "removed": b, "remaining": c} for a, b, c in steps]


def _check_settings(p, r2, kb, action, confounder_p, proxy_r2) -> None:
    for name, v, lo, hi in (("p", p, 0, 1), ("r2", r2, 0, 1), ("confounder_p", confounder_p, 0, 1),
                            ("proxy_r2", proxy_r2, 0, 1)):
        if not isinstance(v, (int, float)) or math.isnan(v) or not lo < v <= hi:
            raise ParameterError(f"{name} must be a number in ({lo}, {hi}], got {v!r}")
    if not isinstance(kb, (int, float)) or not kb > 0:
        raise ParameterError(f"kb must be > 0, got {kb!r}")
    if action not in (1, 2, 3):
        raise ParameterError(f"palindrome_action must be 1, 2 or 3, got {action!r}")


#: the files :func:`write_instruments` writes into its folder
INSTRUMENT_FILES = ("harmonised.csv", "exclusions.csv", "snps.csv", "summary.json", "exposure.csv",
                    "outcome.csv")


def check_instruments_out(outdir: str | Path) -> None:
    """Refuse an output folder that cannot take the six files, before any work.

    Raises
    ------
    OutputError
        ``outdir`` is a file (or anything but a folder), or one of the six names
        inside it is a folder.
    """
    if check_output_dir(outdir):
        for name in INSTRUMENT_FILES:
            check_output_file(Path(outdir) / name, allow_stdout=False)


def write_instruments(ins: Instruments, outdir: str | Path) -> dict[str, Path]:
    """Write ``harmonised.csv``, ``exclusions.csv``, ``snps.csv``, ``summary.json``,
    ``exposure.csv`` and ``outcome.csv``.

    ``exposure.csv`` and ``outcome.csv`` are :attr:`Instruments.exposure_dat` and
    :attr:`Instruments.outcome_dat` (TwoSampleMR format, before harmonisation: the
    input of ``mrbook harmonise``).

    ``outdir`` is created if missing (permissions from the umask). The six files are
    staged beside their final names and renamed into place only when all are
    complete, so an error (a full disk) leaves none of them and the folder's other
    files are never touched.

    Raises
    ------
    OutputError
        ``outdir`` is a file, a name inside it is a folder, or a file cannot be written.
    """
    import json

    text = {
        "harmonised.csv": ins.harmonised.to_csv(index=False),
        "exclusions.csv": ins.exclusions.to_csv(index=False),
        "snps.csv": ins.snps.to_csv(index=False),
        "exposure.csv": ins.exposure_dat.to_csv(index=False),
        "outcome.csv": ins.outcome_dat.to_csv(index=False),
        "summary.json": dumps(json.loads(json.dumps(ins.summary, default=_json_default))),
    }
    paths = write_into_dir(outdir, text)
    return {k: paths[f] for k, f in (("harmonised", "harmonised.csv"),
                                     ("exclusions", "exclusions.csv"), ("snps", "snps.csv"),
                                     ("summary", "summary.json"), ("exposure", "exposure.csv"),
                                     ("outcome", "outcome.csv"))}


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        v = float(o)
        return None if math.isnan(v) else v
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
