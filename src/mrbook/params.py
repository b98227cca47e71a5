"""Parameters: one schema for a run's parameters (book and batch), checked before anything runs.

A run of the book is described by one YAML file (``params/<analysis>.yaml``)
whose keys are the notebooks' parameters (the cell tagged ``parameters``).
:data:`SCHEMA` lists every parameter with its type, default and meaning;
:func:`validate` checks a mapping of values against it and raises
:class:`~mrbook.errors.ParameterError` naming the first wrong parameter, so
that ``mrbook build`` stops before any computation and a notebook stops in its
first cell.

Data sources are strings of one of three kinds:

``demo:<trait>``
    The simulated offline demo study (:data:`DEMO_TRAITS`).
a file path
    Summary statistics on disk (any format :mod:`mrbook.instruments` reads).

Where relative paths are taken from (one rule for every path parameter: the data
sources, ``ld_ref``, ``confounder_table``, ``output_dir`` and ``phenome_manifest``):

- in a parameter file (:func:`load_yaml`), from **the parameter file's folder**,
  as Snakemake and Nextflow users expect; :func:`load_yaml` returns them
  resolved (relative to the project root when they lie inside it, absolute
  otherwise), so that they mean the same in every notebook;
- in a notebook's parameters cell or a mapping given to :func:`validate`, from
  the project root (:func:`project_root`): the notebooks' defaults
  (``output_dir: book/data``) are written that way.

A path typed on the command line (``mrbook build --params p.yaml``) is taken
from the current directory, as with every Unix tool.
an OpenGWAS ID
    For example ``ebi-a-GCST90018862``; fetched (and cached) by
    :mod:`mrbook.data.opengwas`, whose token is read from the environment only and is
    never a parameter.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .errors import ParameterError

#: traits of the simulated demo study (SPEC section 4)
DEMO_TRAITS = ("hypothyroidism", "hyperthyroidism", "hashimoto", "osteoporosis")
#: OpenGWAS study IDs: <batch>-<letter>-<id>, e.g. ebi-a-GCST90018862, finn-b-M13_OSTEOPOROSIS,
#: ieu-a-2, ukb-b-19953 (every OpenGWAS batch is a word and one letter)
OPENGWAS_ID = re.compile(r"^[a-z]+-[a-z]-[A-Za-z0-9_.-]+$")
#: the five methods of the paper, TwoSampleMR keys in registry order
PAPER_METHODS = ["mr_egger_regression", "mr_weighted_median", "mr_ivw", "mr_simple_mode",
                 "mr_weighted_mode"]
#: issue 18's estimators beyond the paper's five (the Sensitivity chapter's "Beyond the paper"),
#: in the issue's order; a key this mrbook does not have yet is listed there as unavailable
EXTENDED_METHODS = ["mr_raps", "mr_conmix", "mr_lasso", "mr_cml_ma_bic", "mr_divw", "mr_mbe",
                    "mr_ivw_penalised", "mr_ivw_robust", "mr_egger_robust"]


@dataclass(frozen=True)
class Param:
    """One run parameter.

    Attributes
    ----------
    name : str
        Name (the variable in the notebooks' parameters cell and the YAML key).
    type : type
        Python type of the value (``float`` accepts an int; ``int`` refuses a bool).
    default : object
        Default value (the paper's setting on the demo data).
    help : str
        One line shown by ``papermill --help-notebook`` and in the run-parameter card.
    """

    name: str
    type: type
    default: Any
    help: str


def _p(name, typ, default, help_):
    return Param(name, typ, default, help_)


#: every parameter of the book, in the order the run-parameter card shows them
SCHEMA: dict[str, Param] = {p.name: p for p in [
    _p("exposures", dict, {"Hypothyroidism": "demo:hypothyroidism",
                           "Hyperthyroidism": "demo:hyperthyroidism",
                           "Hashimoto thyroiditis": "demo:hashimoto"},
       "trait name → data source of each forward-MR exposure (the reverse MR uses them as outcomes)"),
    _p("outcome_trait", str, "Osteoporosis", "name of the forward-MR outcome"),
    _p("outcome_source", str, "demo:osteoporosis",
       "data source of the outcome (the reverse MR uses it as exposure)"),
    _p("ld_ref", str, "",
       "PLINK fileset prefix for LD clumping and proxies; empty: the demo panel or OpenGWAS"),
    _p("clump", bool, True,
       "LD-clump the exposure SNPs (false when the exposure file holds clumped instruments)"),
    _p("confounder_table", str, "",
       "SNP-trait association table (GWAS Catalog TSV); empty: the demo's table for demo data"),
    _p("p_threshold", float, 5e-8, "P-value threshold for instruments"),
    _p("clump_r2", float, 0.01, "LD clumping r² threshold"),
    _p("clump_kb", int, 10000, "LD clumping window (kb)"),
    _p("palindrome_action", int, 2,
       "palindromic SNPs: 1 assume forward strand, 2 drop ambiguous ones, 3 drop all"),
    _p("confounder_traits", list, ["body mass index", "smoking", "vitamin d", "type 2 diabetes",
                                   "rheumatoid arthritis"],
       "risk factors of the outcome: SNPs associated with them are excluded (PhenoScanner step)"),
    _p("methods", list, list(PAPER_METHODS), "MR methods (TwoSampleMR keys)"),
    _p("extended_methods", list, list(EXTENDED_METHODS),
       "estimators of the section 'Beyond the paper' (issue 18's keys; [] leaves it out)"),
    _p("nboot", int, 1000, "bootstrap replicates for median and mode standard errors"),
    _p("seed", int, 1234, "random seed of every stochastic step"),
    _p("rng", str, "numpy",
       "bootstrap generator: numpy, or r for R's own Mersenne-Twister (TwoSampleMR's SEs to the digit)"),
    _p("presso_n_distribution", int, 1000, "MR-PRESSO simulations (0 skips MR-PRESSO)"),
    _p("output_dir", str, "book/data",
       "folder for the tables (CSV); relative to the parameter file's folder (notebook: project root)"),
    # on by default: exporting the book's 24 figures (48 files, one kept browser per page)
    # adds about 20 s (19-25 s measured) to a ~30 s `mrbook build` on the 2-core machine
    _p("export_figures", bool, True,
       "also write every figure as SVG and PNG into output_dir (kaleido with Debian's chromium)"),
    # the Phenome-wide MR chapter: what its batch analyses (with the settings above) and where
    _p("phenome_manifest", str, "",
       "manifest CSV (exposure,outcome) of the Phenome-wide MR chapter; empty: a SIMULATED phenome"),
    _p("phenome_exposures", int, 12, "exposures of the simulated demo phenome"),
    _p("phenome_outcomes", int, 4, "outcomes of the simulated demo phenome"),
    _p("phenome_seed", int, 1, "seed of the simulated demo phenome"),
    _p("phenome_workers", int, 2,
       "Dask worker processes of the phenome chapter's batch (0: one process, no Dask)"),
]}


def project_root() -> Path:
    """The project's root folder, from which relative paths are resolved.

    ``$MRBOOK_ROOT`` if set; else the first folder upwards from the working
    directory that holds ``_config.yml`` and ``book/``; else the one upwards from this
    package's source (an editable install); else the working directory. One
    helper for every path avoids papermill's relative-path surprises (the
    working directory of an executed notebook is the notebook's folder).
    """
    env = os.environ.get("MRBOOK_ROOT")
    if env:
        return Path(env).resolve()
    for start in (Path.cwd().resolve(), Path(__file__).resolve().parent):
        for d in (start, *start.parents):
            if (d / "_config.yml").is_file() and (d / "book").is_dir():
                return d
    return Path.cwd().resolve()


def resolve_path(path: str | os.PathLike, base: str | os.PathLike | None = None) -> Path:
    """An absolute path; relative ones are taken from ``base`` (default :func:`project_root`)."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    return (Path(base) if base is not None else project_root()) / p


#: parameters that name a file or folder (data sources are paths only when they look like one)
PATH_PARAMETERS = ("ld_ref", "confounder_table", "output_dir", "phenome_manifest")


def _looks_like_path(source: str) -> bool:
    return any(ch in source for ch in "/\\") or "." in Path(source).name


def _is_file_source(source, base: Path) -> bool:
    """Whether a data source string is a file path (existing, or written like a path)."""
    if not isinstance(source, str) or not source.strip() or source.startswith("demo:"):
        return False
    return resolve_path(source, base).is_file() or _looks_like_path(source)


def rebase_paths(values: Mapping[str, Any], base: str | os.PathLike) -> dict:
    """Make the relative paths of a parameter mapping absolute, taken from ``base``.

    Applies to :data:`PATH_PARAMETERS` and to the data sources (``exposures``'
    values, ``outcome_source``) that are file paths; ``demo:`` sources, OpenGWAS
    IDs, empty strings and values of the wrong type are left for :func:`validate`
    to judge. Used by :func:`load_yaml` with the parameter file's folder.
    """
    base = Path(base).expanduser().resolve()
    out = dict(values)
    for name in PATH_PARAMETERS:
        v = out.get(name)
        if isinstance(v, str) and v.strip():
            out[name] = str(resolve_path(v, base).resolve())
    if isinstance(out.get("exposures"), Mapping):
        out["exposures"] = {t: (str(resolve_path(s, base).resolve()) if _is_file_source(s, base) else s)
                            for t, s in out["exposures"].items()}
    if _is_file_source(out.get("outcome_source"), base):
        out["outcome_source"] = str(resolve_path(out["outcome_source"], base).resolve())
    return out


def _portable(path: str) -> str:
    """An absolute path inside the project root as a root-relative one; others unchanged."""
    p = Path(path)
    if not p.is_absolute():
        return path
    try:
        return p.relative_to(project_root()).as_posix() or "."
    except ValueError:
        return path


def portable_paths(values: Mapping[str, Any]) -> dict:
    """The absolute paths of :func:`rebase_paths` written relative to the project root where
    they lie inside it (how the notebooks' defaults are written), absolute elsewhere."""
    out = dict(values)
    for name in PATH_PARAMETERS:
        if isinstance(out.get(name), str) and out[name]:
            out[name] = _portable(out[name])
    if isinstance(out.get("exposures"), Mapping):
        out["exposures"] = {t: (_portable(s) if isinstance(s, str) and not s.startswith("demo:") else s)
                            for t, s in out["exposures"].items()}
    if isinstance(out.get("outcome_source"), str) and not out["outcome_source"].startswith("demo:"):
        out["outcome_source"] = _portable(out["outcome_source"])
    return out


def source_kind(source: str) -> str:
    """Kind of a data source: ``"demo"``, ``"file"`` or ``"opengwas"``.

    Raises
    ------
    ParameterError
        If it is none of them (an unknown demo trait, a path that does not
        exist, or a string that is neither a path nor an OpenGWAS ID).
    """
    if not isinstance(source, str) or not source.strip():
        raise ParameterError(f"a data source must be a non-empty string, got {source!r}")
    if source.startswith("demo:"):
        trait = source[5:]
        if trait not in DEMO_TRAITS:
            raise ParameterError(f"unknown demo trait {trait!r} in data source {source!r}; "
                                 f"known: {', '.join('demo:' + t for t in DEMO_TRAITS)}")
        return "demo"
    looks_like_path = _looks_like_path(source)
    if resolve_path(source).is_file():
        return "file"
    if OPENGWAS_ID.match(source) and not looks_like_path:
        return "opengwas"
    if looks_like_path:
        where = "" if Path(source).expanduser().is_absolute() else \
            f" (relative paths are taken from {project_root()})"
        raise ParameterError(f"data source file not found: {source!r}{where}")
    raise ParameterError(f"unknown data source {source!r}: expected demo:<trait> "
                         f"({', '.join(DEMO_TRAITS)}), an existing file, or an OpenGWAS ID "
                         "such as ebi-a-GCST90018862")


def _type_name(t: type) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", int: "an integer",
            float: "a number", bool: "true or false"}.get(t, f"a {t.__name__}")


# --------------------------------------------------------------------------- numbers
#
# One rule for every numeric parameter (book and batch alike):
# - a parameter file is read with :func:`yaml_load`, where a number is what YAML 1.2
#   (and a person) calls one: 5e-8, 5E-08, .5e-7, 1e3, 5.0e-8, 10000, 1_000 (PyYAML's
#   YAML 1.1 would read the first four as text);
# - :func:`validate` takes an int where a float is meant, and a float where an integer
#   is meant when it is a whole number that a float holds exactly (1e3 -> 1000); never
#   true/false, never text (a number in quotes is refused with a message that says how
#   to write it).

#: YAML 1.2 core-schema floats, plus YAML 1.1's underscores and .inf/.nan
_FLOAT_12 = re.compile(r"""^(?:
    [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?   # 1.5, 1., 5.0e-8
  | [-+]?(?:[0-9][0-9_]*)[eE][-+]?[0-9]+                 # 5e-8, 1E3
  | [-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?             # .5, .5e-7
  | [-+]?\.(?:inf|Inf|INF)
  | \.(?:nan|NaN|NAN))$""", re.X)


def _yaml_loader():
    """A PyYAML SafeLoader that reads YAML 1.2 numbers as numbers and refuses a key
    given twice (YAML 1.1 would keep the last silently)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:float"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))

    def mapping(loader, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            try:
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} is given twice (first on line {seen[key]})",
                        key_node.start_mark)
                seen[key] = key_node.start_mark.line + 1
            except TypeError:  # an unhashable key: PyYAML's own error follows
                pass
        return loader.construct_mapping(node, deep=deep)

    Loader.add_constructor("tag:yaml.org,2002:map", mapping)
    return Loader


def yaml_load(text: str, source: str | os.PathLike = "<parameters>"):
    """Parse the text of a parameter file (numbers as :func:`validate` expects them).

    Raises
    ------
    ParameterError
        One line naming ``source``, the line and column, and what is wrong.

    Examples
    --------
    >>> yaml_load("p_threshold: 5e-8\\nclump_kb: 1e3\\n")
    {'p_threshold': 5e-08, 'clump_kb': 1000.0}
    """
    import yaml

    try:
        return yaml.load(text, Loader=_yaml_loader())  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = " ".join(str(exc.problem or exc.context or "").split())
        raise ParameterError(f"{source}: not valid YAML: {where}{what}") from None
    except yaml.YAMLError as exc:
        raise ParameterError(f"{source}: not valid YAML: {' '.join(str(exc).split())}") from None


def _number(name: str, value, typ: type):
    """Check one numeric parameter by the rule above; returns an int or a float."""
    want = _type_name(typ)
    if isinstance(value, str):
        text = value.strip()
        hint = ""
        if _FLOAT_12.match(text) or re.fullmatch(r"[-+]?[0-9][0-9_]*", text):
            hint = f"; write it without quotes: {name}: {text}"
        raise ParameterError(f"parameter {name!r} must be {want}, got the text {value!r}{hint}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParameterError(f"parameter {name!r} must be {want}, "
                             f"got {type(value).__name__} {value!r}")
    if typ is float:
        return float(value)
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer() or abs(value) > 2 ** 53:
            raise ParameterError(f"parameter {name!r} must be {want} (a whole number such as "
                                 f"1000 or 1e3), got {value!r}")
        return int(value)
    return int(value)


def _check_type(name: str, value, typ: type):
    if typ in (int, float):
        return _number(name, value, typ)
    ok = isinstance(value, typ)
    if typ is list and isinstance(value, tuple):
        value, ok = list(value), True
    if not ok:
        raise ParameterError(f"parameter {name!r} must be {_type_name(typ)}, "
                             f"got {type(value).__name__} {value!r}")
    return value


def _fail(name: str, message: str):
    raise ParameterError(f"parameter {name!r}: {message}")


def validate(values: Mapping[str, Any], *, partial: bool = False) -> dict:
    """Check run parameters against :data:`SCHEMA`.

    Parameters
    ----------
    values : mapping
        Parameter name → value (from a YAML file or a notebook's namespace).
    partial : bool
        If False (default) missing parameters take their defaults; if True only
        the given ones are checked and returned.

    Returns
    -------
    dict
        The validated values (ints widened to float where a number is expected),
        in :data:`SCHEMA` order.

    Raises
    ------
    ParameterError
        Naming the first unknown or wrong parameter: wrong type, value out of
        range, unknown method or unknown data source.

    Examples
    --------
    >>> validate({"p_threshold": 1e-6})["p_threshold"]
    1e-06
    >>> validate({"seed": 1e3}, partial=True)
    {'seed': 1000}
    >>> validate({"seed": "one"})
    Traceback (most recent call last):
    ...
    mrbook.errors.ParameterError: parameter 'seed' must be an integer, got the text 'one'
    """
    unknown = [k for k in values if k not in SCHEMA]
    if unknown:
        import difflib

        close = difflib.get_close_matches(str(unknown[0]), list(SCHEMA), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ParameterError(f"unknown parameter {unknown[0]!r}{hint}; known parameters: "
                             f"{', '.join(SCHEMA)}")
    out = {}
    for name, spec in SCHEMA.items():
        if name not in values:
            if partial:
                continue
            value = spec.default
        else:
            value = values[name]
        out[name] = _check_type(name, value, spec.type)
    _check_values(out)
    return out


def _check_values(v: dict) -> None:
    if "exposures" in v:
        if not v["exposures"]:
            _fail("exposures", "give at least one exposure (trait name: data source)")
        for trait, src in v["exposures"].items():
            if not isinstance(trait, str) or not trait.strip():
                _fail("exposures", f"trait names must be non-empty strings, got {trait!r}")
            try:
                source_kind(src)
            except ParameterError as exc:
                _fail("exposures", f"{trait}: {exc}")
    if "outcome_trait" in v and not v["outcome_trait"].strip():
        _fail("outcome_trait", "must not be empty")
    if "outcome_source" in v:
        try:
            source_kind(v["outcome_source"])
        except ParameterError as exc:
            _fail("outcome_source", str(exc))
    if v.get("ld_ref"):
        prefix = resolve_path(v["ld_ref"])
        missing = [ext for ext in (".bed", ".bim", ".fam")
                   if not prefix.with_name(prefix.name + ext).is_file()]
        if missing:
            _fail("ld_ref", f"no PLINK fileset at {v['ld_ref']!r} (missing {', '.join(missing)})")
    if v.get("confounder_table"):
        if not resolve_path(v["confounder_table"]).is_file():
            _fail("confounder_table", f"file not found: {v['confounder_table']!r}")
        if "confounder_traits" in v and not v["confounder_traits"]:
            _fail("confounder_traits", "a confounder_table needs the traits to look up "
                                       "(e.g. [body mass index, smoking])")
    if "p_threshold" in v and not (0 < v["p_threshold"] < 1):
        _fail("p_threshold", f"must be between 0 and 1, got {v['p_threshold']!r}")
    if "clump_r2" in v and not (0 < v["clump_r2"] <= 1):
        _fail("clump_r2", f"must be in (0, 1], got {v['clump_r2']!r}")
    if "clump_kb" in v and v["clump_kb"] <= 0:
        _fail("clump_kb", f"must be a positive number of kb, got {v['clump_kb']!r}")
    if "rng" in v and v["rng"] not in ("numpy", "r"):
        raise ParameterError(f"parameter 'rng' must be 'numpy' or 'r', got {v['rng']!r}")
    if "palindrome_action" in v and v["palindrome_action"] not in (1, 2, 3):
        _fail("palindrome_action", f"must be 1, 2 or 3, got {v['palindrome_action']!r}")
    if "confounder_traits" in v:
        for t in v["confounder_traits"]:
            if not isinstance(t, str):
                _fail("confounder_traits", f"must be a list of trait names, got {t!r}")
    if "methods" in v:
        if not v["methods"]:
            _fail("methods", "give at least one MR method")
        for m in v["methods"]:
            if not isinstance(m, str):
                _fail("methods", f"must be a list of method keys such as mr_ivw, got {m!r}")
        from .estimators import resolve_methods  # the registry; imported when needed
        try:
            resolve_methods(v["methods"])
        except ParameterError as exc:
            _fail("methods", str(exc))
    if "extended_methods" in v:
        from .estimators import resolve_methods  # the registry; imported when needed
        for m in v["extended_methods"]:
            if not isinstance(m, str):
                _fail("extended_methods", f"must be a list of method keys, got {m!r}")
            if m in EXTENDED_METHODS:
                continue  # issue 18's keys: shown as unavailable when not registered (yet)
            try:
                resolve_methods([m])
            except ParameterError as exc:
                _fail("extended_methods", f"{exc}; or one of issue 18's: {', '.join(EXTENDED_METHODS)}")
    if "nboot" in v and v["nboot"] < 1:
        _fail("nboot", f"must be at least 1, got {v['nboot']!r}")
    if "presso_n_distribution" in v and 0 < v["presso_n_distribution"] < 10 \
            or v.get("presso_n_distribution", 0) < 0:
        _fail("presso_n_distribution",
              f"must be 0 (skip MR-PRESSO) or at least 10, got {v['presso_n_distribution']!r}")
    for name, lo, hi in (("phenome_exposures", 1, 2000), ("phenome_outcomes", 1, 100),
                         ("phenome_seed", 0, 2**63 - 1), ("phenome_workers", 0, 256)):
        if name in v and not lo <= v[name] <= hi:
            _fail(name, f"must be from {lo} to {hi}, got {v[name]!r}")
    if v.get("phenome_manifest") and not resolve_path(v["phenome_manifest"]).is_file():
        _fail("phenome_manifest", f"file not found: {v['phenome_manifest']!r}")
    if "seed" in v and v["seed"] < 0:
        _fail("seed", f"must be a non-negative integer, got {v['seed']!r}")
    if "output_dir" in v and not v["output_dir"].strip():
        _fail("output_dir", "must not be empty")
    for name in ("p_threshold", "clump_r2"):
        if name in v and not math.isfinite(v[name]):
            _fail(name, "must be finite")


def defaults() -> dict:
    """Every parameter's default value (a fresh copy)."""
    import copy
    return {name: copy.deepcopy(p.default) for name, p in SCHEMA.items()}


def from_namespace(namespace: Mapping[str, Any]) -> dict:
    """Validate the parameters a notebook defines (the names of :data:`SCHEMA` in it).

    Used in a notebook's first cell after the parameters cell, as
    ``run = params.from_namespace(globals())``; the names it does not define
    are not included.
    """
    return validate({k: namespace[k] for k in SCHEMA if k in namespace}, partial=True)


def load_yaml(path: str | os.PathLike) -> dict:
    """Read and validate a parameter file (``params/<analysis>.yaml``).

    ``path`` itself, if relative, is taken from the current directory. Relative
    paths inside the file (data files, ``ld_ref``, ``confounder_table``,
    ``output_dir``) are taken from the file's folder (:func:`rebase_paths`) and
    returned relative to the project root when they lie inside it, absolute
    otherwise (:func:`portable_paths`).

    Raises
    ------
    ParameterError
        If the file is missing or not a YAML mapping, or a parameter is wrong.
    """
    p = Path(path).expanduser().absolute()
    if not p.is_file():
        raise ParameterError(f"parameter file not found: {p}")
    data = yaml_load(_read_params_text(p, path), path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ParameterError(f"{path}: expected a mapping of parameter: value")
    try:
        return portable_paths(validate(rebase_paths(data, p.parent), partial=True))
    except ParameterError as exc:
        raise ParameterError(f"{path}: {exc}") from None


def _read_params_text(p: Path, shown) -> str:
    """The text of a parameter file; an unreadable or binary file is one ParameterError."""
    try:
        return p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParameterError(f"{shown}: not a text file (byte {exc.start + 1} is not UTF-8); "
                             "a parameter file is YAML text") from None
    except OSError as exc:
        raise ParameterError(f"{shown}: cannot read the parameter file "
                             f"({(exc.strerror or str(exc)).lower()})") from None
