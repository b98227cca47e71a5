"""Book layer: validate the parameters, execute the notebooks, render the HTML and the PDF offline.

The pipeline (:func:`build`), run by ``mrbook build``:

1. read and validate the parameter file (:func:`mrbook.params.load_yaml`; paths in
   it are taken from its folder); a wrong parameter, or an OpenGWAS source without
   a token (``$OPENGWAS_JWT``) or a cached reply, stops the run here;
2. make a fresh **staging folder** beside the output (``.mrbook-stage-<pid>-*``)
   holding a copy of the book's static pages; execute each notebook of
   ``notebooks/`` listed in ``_toc.yml`` with papermill into it, its tables and
   figure files going to the staging copy of ``output_dir``. A notebook whose
   source, parameters, data files and mrbook code are unchanged since an earlier
   build is taken from the **notebook cache** (``_build/.cache/notebooks/``, keyed
   by :func:`notebook_key`) with the files it wrote, instead of being executed;
3. render the staged book with ``jupyter-book build`` without executing anything
   (``execute_notebooks: "off"``) and strictly (``-W -n --keep-going``: a warning
   fails the build); then its one-page version (Sphinx's ``singlehtml``), printed
   to ``<out>/../pdf/book.pdf`` by headless Chromium (:mod:`mrbook.book.pdf`);
4. check the HTML: no page loads a script or stylesheet from the network, the
   OpenGWAS token appears nowhere, plotly.js and MathJax are served locally;
5. only then, with SIGINT and SIGTERM held back, swap everything in: the tables
   into ``output_dir``, the executed notebooks into ``book/``, the HTML folder
   and the PDF. A failed or interrupted build changes nothing of the previous one.

A build whose inputs are all unchanged since the last one (same notebook keys,
static pages, configuration and code; its outputs still in place) does nothing.

The kernels use ZeroMQ's IPC transport (local sockets in a private folder, so
no "running over TCP without encryption" warning) and write their log to the
staging folder; the build prints only its own lines: one per notebook and per
stage, with times. The Sphinx extension that makes the rendered book work offline
is :mod:`mrbook.book.sphinx`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import MRBookError
from ..params import SCHEMA, load_yaml, project_root, resolve_path, source_kind
from .cache import code_fingerprint, data_fingerprint, notebook_key, prune, restore, sha, store
from .execute import (HIDDEN_TAGS, execute_notebook, hide_parameter_cells, in_thread,
                      notebook_parameters, notebook_problem, passed_parameters)
from .sphinx import MATHJAX_PATH, PDF_ENV

__all__ = ["BuildInterrupted", "BuildResult", "HIDDEN_TAGS", "build", "check_html", "check_no_token",
           "check_opengwas_token", "code_fingerprint", "data_fingerprint", "execute_notebook",
           "hide_parameter_cells", "notebook_key", "notebook_parameters", "notebook_problem",
           "passed_parameters", "render", "toc_notebooks"]

#: the environment variable holding the OpenGWAS token (read by mrbook.data.opengwas only)
TOKEN_ENV = "OPENGWAS_JWT"
#: the parameter file of a plain ``mrbook build``, relative to the project root
DEFAULT_PARAMS = Path("params") / "paper.yaml"
#: the HTML folder of a plain ``mrbook build``, relative to the project root
DEFAULT_HTML = Path("_build") / "html"
#: the book's PDF, written to ``<html folder>/../pdf/`` and linked from the introduction
PDF_NAME = "book.pdf"
#: staging folders, made beside the HTML folder
STAGE_PREFIX = ".mrbook-stage-"
#: the staged copy of ``output_dir``, inside the staged book folder
STAGE_OUT = "_mrbook_out"
#: what the build last wrote (in the HTML folder): its key and its files
STAMP = ".mrbook-build.json"
#: the files a build wrote into ``output_dir`` (so that the next one removes stale ones)
MANIFEST = ".mrbook-files.json"
#: files of book/ that are build products, not sources
_NOT_SOURCES = (".ipynb", ".pyc")

_REMOTE_TAG = re.compile(
    r"<(?:script[^>]*\bsrc|link[^>]*\bhref|img[^>]*\bsrc|iframe[^>]*\bsrc)\s*=\s*[\"']"
    r"(?:https?:)?//[^\"']+[\"'][^>]*>",
    re.IGNORECASE,
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class BuildInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived during a build; nothing of the previous book was changed."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
        #: True if the signal came while the finished book was being swapped in (it waited)
        self.completed = False


# --------------------------------------------------------------------------------------
# The build pipeline
# --------------------------------------------------------------------------------------

@dataclass
class BuildResult:
    """What :func:`build` did.

    Attributes
    ----------
    html_dir : Path
        The rendered book.
    pdf : Path or None
        The book as one PDF (None with ``pdf=False``).
    notebooks : list of Path
        The executed notebooks (in ``book/``).
    executed, cached : list of str
        Notebooks executed by this build, and those taken from the notebook cache.
    up_to_date : bool
        Nothing had changed since the last build: nothing was executed or rendered.
    seconds : dict
        Wall time per step ("execute <name>", "render", "pdf", "total").
    """

    html_dir: Path
    pdf: Path | None = None
    notebooks: list[Path] = field(default_factory=list)
    executed: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    up_to_date: bool = False
    seconds: dict = field(default_factory=dict)


def toc_notebooks(book_dir: Path) -> list[str]:
    """Names (stems) of the pages in ``_toc.yml`` that are notebooks of ``notebooks/``."""
    import yaml

    toc = yaml.safe_load((book_dir.parent / "_toc.yml").read_text(encoding="utf-8"))
    files: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key in ("root", "file"):
                if isinstance(node.get(key), str):
                    files.append(node[key])
            for v in node.values():
                if isinstance(v, (list, dict)):
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(toc)
    root = book_dir.parent
    return [Path(f).stem for f in files if (root / "notebooks" / f"{Path(f).stem}.ipynb").is_file()]


# ----------------------------------------------------------------------------- rendering

def _jupyter_book() -> list[str]:
    exe = Path(sys.executable).parent / "jupyter-book"
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("jupyter-book")
    if found:
        return [found]
    return [sys.executable, "-m", "jupyter_book.cli.main"]


def render(book_dir: Path, path_output: Path, *, root: Path | None = None, builder: str = "html",
           pdf_name: str = "") -> Path:
    """Render the book with ``jupyter-book build -W -n --keep-going -q``; returns the output folder.

    Parameters
    ----------
    book_dir : Path
        The book's source folder (``book/`` or its staged copy).
    path_output : Path
        ``--path-output``: the pages go to ``<path_output>/_build/<builder>``.
    root : Path, optional
        Where ``_config.yml`` and ``_toc.yml`` are (default ``book_dir.parent``).
    builder : {"html", "singlehtml"}
    pdf_name : str
        The PDF's name for the introduction's download link (empty: no link).

    Raises
    ------
    MRBookError
        If the build fails or warns (the log's warning lines are quoted).
    """
    root = Path(root) if root is not None else book_dir.parent
    cmd = _jupyter_book() + ["build", str(book_dir), "--config", str(root / "_config.yml"),
                             "--toc", str(root / "_toc.yml"), "--path-output", str(path_output),
                             "--builder", builder, "-W", "-n", "--keep-going", "-q"]
    env = dict(os.environ, PYTHONHASHSEED="0", NO_COLOR="1")
    env[PDF_ENV] = pdf_name
    proc = subprocess.run(cmd, cwd=str(root), env=env, text=True, capture_output=True,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        log = _ANSI.sub("", proc.stdout + proc.stderr)
        problems = [ln.strip() for ln in log.splitlines() if "WARNING" in ln or "ERROR" in ln]
        detail = "; ".join(problems[:5]) or " ".join(log.strip().splitlines()[-1:])
        raise MRBookError(f"jupyter-book build ({builder}) failed ({len(problems)} warning(s)/"
                          f"error(s)): {detail}")
    return Path(path_output) / "_build" / builder


def check_html(html_dir: Path) -> None:
    """Check the rendered book works offline and leaks no secret.

    Raises
    ------
    MRBookError
        If a page loads a script, stylesheet, image or frame from the network,
        if plotly.js or MathJax is missing from ``_static/``, or if the value of
        ``$OPENGWAS_JWT`` appears in any file of the book.
    """
    pages = sorted(html_dir.glob("**/*.html"))
    if not pages:
        raise MRBookError(f"no HTML pages in {html_dir}")
    for need in ("_static/plotly.min.js", f"_static/{MATHJAX_PATH}"):
        if not (html_dir / need).is_file():
            raise MRBookError(f"{html_dir / need} is missing: the book would need the network")
    for page in pages:
        text = page.read_text(encoding="utf-8", errors="replace")
        m = _REMOTE_TAG.search(text)
        if m:
            raise MRBookError(f"{page.relative_to(html_dir)} loads a remote resource: "
                              f"{m.group(0)[:160]}")
    check_no_token([html_dir])


def check_no_token(paths) -> None:
    """Raise if the OpenGWAS token (``$OPENGWAS_JWT``) occurs in any of the files or folders."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if len(token) < 8:
        return
    needle = token.encode()
    for p in paths:
        p = Path(p)
        files = [p] if p.is_file() else sorted(q for q in p.glob("**/*") if q.is_file())
        for f in files:
            if needle in f.read_bytes():
                raise MRBookError(f"{f}: contains the value of ${TOKEN_ENV}; the build output "
                                  "must never hold the token")


def check_opengwas_token(parameters: dict) -> None:
    """Stop before any notebook runs if an OpenGWAS source has neither a token nor a cached reply.

    Raises
    ------
    MRBookError
        If a data source is an OpenGWAS ID, ``$OPENGWAS_JWT`` is unset, and the
        OpenGWAS cache holds no reply for that study.
    """
    sources = list(parameters.get("exposures", SCHEMA["exposures"].default).values())
    sources.append(parameters.get("outcome_source", SCHEMA["outcome_source"].default))
    ids = [s for s in sources if source_kind(s) == "opengwas"]
    if not ids or os.environ.get(TOKEN_ENV, "").strip():
        return
    from ..data.opengwas import OpenGWAS

    cache_dir = OpenGWAS().cache_dir
    cached = [f for f in cache_dir.glob("*.json")] if cache_dir.is_dir() else []
    heads = []
    for f in cached:
        with contextlib.suppress(OSError), open(f, "rb") as fh:
            heads.append(fh.read(65536))
    missing = [i for i in ids if not any(f'"{i}"'.encode() in h for h in heads)]
    if missing:
        raise MRBookError(f"data source {missing[0]} is an OpenGWAS study and ${TOKEN_ENV} is not "
                          "set: put your OpenGWAS token in it (get one at "
                          "https://api.opengwas.io/profile/) and run again; no notebook was run")


# ----------------------------------------------------------------------------- the book's own sources

def _sources_fingerprint(book_dir: Path, out_dir: Path) -> list:
    return [[f.relative_to(book_dir).as_posix(), sha(f.read_bytes())]
            for f in sorted(_static_files(book_dir, out_dir))]


def _static_files(book_dir: Path, out_dir: Path) -> list[Path]:
    """The book's own sources in ``book/`` (pages, bibliography, style): not the executed
    notebooks, not what a build wrote into ``out_dir`` (listed in its manifest, or anything
    under it when it lies inside ``book/``), nothing hidden."""
    generated = {out_dir / rel for rel in _read_json(out_dir / MANIFEST).get("files", [])}
    inside = out_dir if book_dir in out_dir.parents else None
    files = []
    for f in book_dir.rglob("*"):
        rel = f.relative_to(book_dir)
        if not f.is_file() or any(part.startswith((".", "_build")) for part in rel.parts):
            continue
        if f.suffix in _NOT_SOURCES or rel.parts[0] in ("data", STAGE_OUT) or f in generated:
            continue
        if inside is not None and inside in f.parents:
            continue
        if rel.as_posix().startswith("_static/plotly"):  # written by the Sphinx extension
            continue
        files.append(f)
    return files


# ----------------------------------------------------------------------------- files

def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _put_file(src: Path, dst: Path) -> None:
    """Copy ``src`` over ``dst`` atomically (a temporary name beside it, then rename)."""
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _output_files(folder: Path) -> dict[str, Path]:
    """Files a build wrote into a (staged) output folder, by relative path; not the analysis cache."""
    if not folder.is_dir():
        return {}
    out = {}
    for f in sorted(folder.rglob("*")):
        rel = f.relative_to(folder)
        if f.is_file() and not rel.parts[0].startswith(".") and not f.name.startswith("."):
            out[rel.as_posix()] = f
    return out


def _snapshot(folder: Path) -> dict[str, tuple]:
    return {rel: (f.stat().st_size, f.stat().st_mtime_ns) for rel, f in _output_files(folder).items()}


def _relocate(nb_path: Path, replacements: list[tuple[str, str]]) -> None:
    """Replace strings in every text of a notebook (outputs, sources, metadata)."""
    import nbformat

    def fix(node):
        if isinstance(node, str):
            for old, new in replacements:
                node = node.replace(old, new)
            return node
        if isinstance(node, list):
            return [fix(v) for v in node]
        if isinstance(node, dict):
            return {k: fix(v) for k, v in node.items()}
        return node

    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    fixed = nbformat.from_dict(fix(nb))
    _write_text(nb_path, nbformat.writes(fixed) + "\n")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep_stale_stages(folder: Path) -> None:
    """Remove staging folders left by a build that was killed outright (SIGKILL, power loss)."""
    for d in folder.glob(f"{STAGE_PREFIX}*"):
        m = re.match(rf"{re.escape(STAGE_PREFIX)}(\d+)-", d.name)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            shutil.rmtree(d, ignore_errors=True)


@contextlib.contextmanager
def _signals_raise():
    """In the main thread: SIGINT and SIGTERM raise :class:`BuildInterrupted`."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise BuildInterrupted(signum)

    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in saved:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in saved.items():
            signal.signal(s, h)


@contextlib.contextmanager
def _signals_held():
    """SIGINT and SIGTERM wait until the block is done (the swap must not stop half-way).

    While the block runs, a signal is only noted; when it ends, the handlers in force
    before are put back and a noted signal raises :class:`BuildInterrupted`. (Python
    runs signal handlers in the main thread whichever thread the signal hit, so this
    holds where blocking the signal in one thread would not.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in saved:
        signal.signal(s, lambda signum, frame: noted.append(signum))
    try:
        yield
    finally:
        for s, h in saved.items():
            signal.signal(s, h)
    if noted:
        raise BuildInterrupted(noted[0])


# ----------------------------------------------------------------------------- the build

class _Progress:
    def __init__(self, quiet: bool):
        self.quiet = quiet

    def __call__(self, message: str) -> None:
        if not self.quiet:
            print(f"mrbook build: {message}", file=sys.stderr, flush=True)


def _cache_dir(root: Path) -> Path:
    return root / "_build" / ".cache" / "notebooks"


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _up_to_date(stamp: dict, key: str, book_dir: Path, names: list[str], out_dir: Path,
                pdf_file: Path | None, stamp_dir: Path) -> bool:
    """Whether the last build had the same key and its outputs are still in place."""
    if stamp.get("key") != key:
        return False
    if pdf_file is not None and not pdf_file.is_file():
        return False
    for name in names:
        nb = book_dir / f"{name}.ipynb"
        if not nb.is_file() or sha(nb.read_bytes()) != stamp.get("notebooks", {}).get(name):
            return False
    for rel, size in stamp.get("files", {}).items():
        f = out_dir / rel
        if not f.is_file() or f.stat().st_size != size:
            return False
    return (stamp_dir / "index.html").is_file()


def build(params_file: str | os.PathLike | None = None, html_dir: str | os.PathLike | None = None,
          *, root: Path | None = None, progress_bar: bool = False, quiet: bool = False,
          execute: bool = True, pdf: bool = True, cache: bool = True) -> BuildResult:
    """Validate the parameters, execute every notebook and render the book (HTML and PDF).

    Parameters
    ----------
    params_file : path, optional
        The run's YAML; a relative path is taken from the current directory.
        Default: the project's ``params/paper.yaml``.
    html_dir : path, optional
        Where the HTML goes; a relative path is taken from the current directory.
        Default: the project's ``_build/html``. The PDF goes to
        ``<html_dir>/../pdf/book.pdf`` (and a copy beside ``index.html``).
    root : Path, optional
        Project root, where ``notebooks/``, ``book/``, ``_config.yml`` and
        ``_toc.yml`` are (default :func:`mrbook.params.project_root`).
    progress_bar : bool
        Show papermill's per-cell progress bars.
    quiet : bool
        Print nothing but errors.
    execute : bool
        If False, render the notebooks already executed in ``book/``; each must
        hold no error and have been run with this run's parameters.
    pdf : bool
        Also write the book as one PDF (needs Chromium).
    cache : bool
        Take unchanged notebooks from the notebook cache, and do nothing at all
        when nothing changed since the last build. (Executed notebooks are stored
        in the cache either way.)

    Returns
    -------
    BuildResult

    Raises
    ------
    ParameterError
        Before anything runs, for a wrong or unknown parameter or data source.
    MRBookError
        If an OpenGWAS source has no token, a notebook fails, the build warns, or
        the HTML would need the network. The previous book is then left as it was.
    BuildInterrupted
        On SIGINT or SIGTERM; the previous book is left as it was.
    """
    t_start = time.perf_counter()
    say = _Progress(quiet)
    root = (Path(root) if root is not None else project_root()).resolve()
    pfile = root / DEFAULT_PARAMS if params_file is None else Path(params_file).expanduser()
    parameters = load_yaml(pfile.absolute())
    out = (root / DEFAULT_HTML if html_dir is None else Path(html_dir).expanduser()).absolute()
    if out.exists() and not out.is_dir():
        raise MRBookError(f"{out}: exists and is not a folder; give --out a folder for the HTML")
    pdf_file = out.parent / "pdf" / PDF_NAME if pdf else None
    if pdf_file is not None and pdf_file.parent.exists() and not pdf_file.parent.is_dir():
        raise MRBookError(f"{pdf_file.parent}: exists and is not a folder (the PDF goes there)")
    book_dir = root / "book"
    out_dir = resolve_path(parameters.get("output_dir", SCHEMA["output_dir"].default)).resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise MRBookError(f"output_dir {out_dir}: exists and is not a folder")
    result = BuildResult(html_dir=out, pdf=pdf_file)
    names = toc_notebooks(book_dir)
    if not names:
        raise MRBookError(f"{root / '_toc.yml'} lists no notebook of {root / 'notebooks'}")
    sources = {n: root / "notebooks" / f"{n}.ipynb" for n in names}
    passed = {n: passed_parameters(sources[n], parameters) for n in names}
    result.notebooks = [book_dir / f"{n}.ipynb" for n in names]
    if execute:
        check_opengwas_token(parameters)
    else:
        for n in names:
            nb = book_dir / f"{n}.ipynb"
            if not nb.is_file():
                raise MRBookError(f"{nb} has not been executed; run without --no-execute")
            problem = notebook_problem(nb, passed[n])
            if problem:
                raise MRBookError(f"{nb} {problem}; run mrbook build without --no-execute")

    code = code_fingerprint()
    data = data_fingerprint(parameters)
    kernel_code = code_fingerprint(kernel_only=True)
    keys = {n: notebook_key(sources[n], passed[n], data, kernel_code) for n in names}
    static = _sources_fingerprint(book_dir, out_dir)
    book_key = sha(json.dumps({
        "notebooks": [keys[n] for n in names] if execute else
        [sha((book_dir / f"{n}.ipynb").read_bytes()) for n in names],
        "static": static, "config": sha((root / "_config.yml").read_bytes()),
        "toc": sha((root / "_toc.yml").read_bytes()), "code": code, "pdf": pdf,
        "out_dir": os.path.relpath(out_dir, book_dir), "execute": execute,
    }, sort_keys=True).encode())
    stamp = _read_json(out / STAMP)
    if cache and _up_to_date(stamp, book_key, book_dir, names, out_dir, pdf_file, out):
        result.up_to_date = True
        result.cached = list(names)
        result.seconds["total"] = time.perf_counter() - t_start
        say(f"nothing changed since the last build: {out} is up to date")
        return result

    out.parent.mkdir(parents=True, exist_ok=True)
    _sweep_stale_stages(out.parent)
    with _signals_raise():
        stage = Path(tempfile.mkdtemp(prefix=f"{STAGE_PREFIX}{os.getpid()}-", dir=out.parent))
        try:
            if execute:
                src_dir = stage / "book"
                stage_out = src_dir / STAGE_OUT
                _stage_sources(book_dir, src_dir, out_dir)
                _execute_all(names, sources, parameters, src_dir, stage_out, stage, root, keys,
                             cache, progress_bar, say, result)
                shutil.rmtree(stage_out / ".cache", ignore_errors=True)
                check_no_token([src_dir])
            else:
                src_dir = book_dir
                stage_out = None
            t0 = time.perf_counter()
            html = render(src_dir, stage, root=root, pdf_name=PDF_NAME if pdf else "")
            check_html(html)
            result.seconds["render"] = time.perf_counter() - t0
            say(f"rendered the HTML ({result.seconds['render']:.1f} s)")
            staged_pdf = None
            if pdf:
                t0 = time.perf_counter()
                staged_pdf = _make_pdf(src_dir, stage, root, html)
                result.seconds["pdf"] = time.perf_counter() - t0
                say(f"printed the PDF ({result.seconds['pdf']:.1f} s)")
            state: dict = {}
            try:
                _install(stage, src_dir, stage_out, html, staged_pdf, out, pdf_file, book_dir,
                         out_dir, names, book_key, execute, stamp, state)
            except BuildInterrupted as exc:  # held back during the swap, delivered after it
                exc.completed = state.get("installed", False)
                raise
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    result.seconds["total"] = time.perf_counter() - t_start
    return result


def _stage_sources(book_dir: Path, src_dir: Path, out_dir: Path) -> None:
    """Copy the book's own sources (not the executed notebooks or the tables) to the stage."""
    src_dir.mkdir(parents=True)
    for f in _static_files(book_dir, out_dir):
        dst = src_dir / f.relative_to(book_dir)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dst)


def _execute_all(names, sources, parameters, src_dir, stage_out, stage, root, keys, cache,
                 progress_bar, say, result) -> None:
    """Execute (or take from the cache) every notebook into the staged book."""
    cache_root = _cache_dir(root)
    staged = dict(parameters, output_dir=str(stage_out))
    # the stage's own paths never reach a page: they are written back as the run's values
    back = [(str(stage_out), parameters.get("output_dir", SCHEMA["output_dir"].default)),
            (str(src_dir), str(root / "book"))]
    kernel_dir = stage / ".kernel"
    kernel_dir.mkdir()
    stage_out.mkdir(parents=True, exist_ok=True)
    saved = os.environ.get("MRBOOK_ROOT")
    os.environ["MRBOOK_ROOT"] = str(root)  # the kernels resolve relative paths from this root
    try:
        for name in names:
            t0 = time.perf_counter()
            dst = src_dir / f"{name}.ipynb"
            entry = cache_root / keys[name]
            if cache and (entry / "notebook.ipynb").is_file() and restore(entry, dst, stage_out):
                result.cached.append(name)
                say(f"{name}.ipynb unchanged, taken from the cache ({time.perf_counter() - t0:.1f} s)")
                continue
            before = _snapshot(stage_out)
            in_thread(execute_notebook, sources[name], dst, staged, cwd=src_dir,
                       progress_bar=progress_bar, kernel_dir=kernel_dir)
            _relocate(dst, back)
            written = [rel for rel, sig in _snapshot(stage_out).items() if before.get(rel) != sig]
            store(entry, dst, stage_out, written)  # also with --no-cache: the next build may use it
            result.executed.append(name)
            result.seconds[f"execute {name}"] = time.perf_counter() - t0
            say(f"executed {name}.ipynb ({result.seconds[f'execute {name}']:.1f} s)")
        prune(cache_root)
    finally:
        if saved is None:
            os.environ.pop("MRBOOK_ROOT", None)
        else:
            os.environ["MRBOOK_ROOT"] = saved


def _make_pdf(src_dir: Path, stage: Path, root: Path, html: Path) -> Path:
    """Render the one-page book and print it; returns the staged PDF (also copied into the HTML)."""
    import yaml

    from .pdf import prepare_single_page, print_pdf

    single = render(src_dir, stage, root=root, builder="singlehtml")
    cfg = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) or {}
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8")) or {}
    page = prepare_single_page(single, Path(str(toc.get("root", "index"))).stem)
    staged = stage / "pdf" / PDF_NAME
    print_pdf(page, staged, title=str(cfg.get("title", "")))
    check_no_token([staged])
    shutil.copyfile(staged, html / PDF_NAME)
    return staged


def _install(stage, src_dir, stage_out, html, staged_pdf, out, pdf_file, book_dir, out_dir, names,
             book_key, execute, old_stamp, state: dict) -> None:
    """Swap the staged book in: tables, executed notebooks, HTML folder, PDF. Signals wait."""
    files = _output_files(stage_out) if stage_out is not None else {}
    rel_out = Path(os.path.relpath(out_dir, book_dir)).as_posix()
    if execute:
        for name in names:
            _relocate(src_dir / f"{name}.ipynb", [(f"{STAGE_OUT}/", f"{rel_out}/")])
    # refuse before touching anything: a destination of the wrong kind
    for rel in files:
        dst = out_dir / rel
        if dst.exists() and not dst.is_file():
            raise MRBookError(f"{dst}: exists and is not a regular file; the build did not "
                              "replace it (nothing was changed)")
    notebooks = {n: sha((src_dir if execute else book_dir).joinpath(f"{n}.ipynb").read_bytes())
                 for n in names}
    new_stamp = {"key": book_key, "notebooks": notebooks,
                 "files": {rel: f.stat().st_size for rel, f in files.items()} if execute
                 else old_stamp.get("files", {}) if old_stamp.get("notebooks") == notebooks else {},
                 "pdf": os.path.relpath(pdf_file, out.parent) if pdf_file else None}
    (html / STAMP).write_text(json.dumps(new_stamp, indent=1, sort_keys=True), encoding="utf-8")
    with _signals_held():
        if execute:
            out_dir.mkdir(parents=True, exist_ok=True)
            for rel, f in files.items():
                (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
                _put_file(f, out_dir / rel)
            previous = _read_json(out_dir / MANIFEST).get("files", [])
            for rel in previous:
                stale = out_dir / rel
                if rel not in files and stale.is_file() and not stale.is_symlink():
                    stale.unlink()
            _write_text(out_dir / MANIFEST, json.dumps({"files": sorted(files)}, indent=1))
            for name in names:
                _put_file(src_dir / f"{name}.ipynb", book_dir / f"{name}.ipynb")
        old = None
        if out.exists():
            old = stage / "old-html"
            os.rename(out, old)
        os.rename(html, out)
        if staged_pdf is not None:
            pdf_file.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged_pdf, pdf_file)
        elif old_stamp.get("pdf") == os.path.join("pdf", PDF_NAME):
            (out.parent / "pdf" / PDF_NAME).unlink(missing_ok=True)  # a PDF of an earlier run
        state["installed"] = True
