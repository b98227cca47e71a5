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
import hashlib
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
from .sphinx import MATHJAX_PATH, PDF_ENV

#: the environment variable holding the OpenGWAS token (read by mrbook.data.opengwas only)
TOKEN_ENV = "OPENGWAS_JWT"
#: notebooks with these tags are hidden in the book (papermill's cells)
HIDDEN_TAGS = ("parameters", "injected-parameters")
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


def notebook_parameters(path: Path) -> list[str]:
    """Names assigned in a notebook's cell tagged ``parameters`` (papermill's inspection)."""
    import papermill as pm

    return list(pm.inspect_notebook(str(path)).keys())


def passed_parameters(src: Path, parameters: dict) -> dict:
    """The run parameters papermill passes to a notebook: those it declares."""
    declared = set(notebook_parameters(src))
    return {k: v for k, v in parameters.items() if k in declared}


# ----------------------------------------------------------------------------- kernels

#: kernel managers of the running build (so that an interrupt can stop their kernels)
_KERNELS: set = set()
_KERNELS_LOCK = threading.Lock()


def _kernel_manager_class(ipc_dir: Path, log_path: Path):
    """A kernel manager for papermill: IPC transport in ``ipc_dir``, the kernel's output in a log.

    ZeroMQ's IPC transport (Unix sockets in a private folder) keeps the kernel off
    the network, so ipykernel has no reason to warn about unencrypted TCP; what the
    kernel prints on its own stdout and stderr (not the notebook's outputs) goes to
    ``log_path``, quoted in the error if a kernel dies.
    """
    from jupyter_client.manager import AsyncKernelManager

    class BuildKernelManager(AsyncKernelManager):
        def __init__(self, **kw):
            n = len(list(ipc_dir.iterdir()))
            kw.setdefault("transport", "ipc")
            kw.setdefault("ip", str(ipc_dir / f"k{n}"))
            super().__init__(**kw)
            with _KERNELS_LOCK:
                _KERNELS.add(self)

        async def start_kernel(self, **kw):
            log = open(log_path, "ab")  # noqa: SIM115 - the kernel process keeps it open
            kw.setdefault("stdout", log)
            kw.setdefault("stderr", log)
            try:
                return await super().start_kernel(**kw)
            finally:
                log.close()

    return BuildKernelManager


def _kill_kernels() -> None:
    """Kill the process group of every kernel this build started (an interrupt)."""
    with _KERNELS_LOCK:
        kms = list(_KERNELS)
        _KERNELS.clear()
    for km in kms:
        prov = getattr(km, "provisioner", None)
        pgid = getattr(prov, "pgid", None)
        proc = getattr(prov, "process", None)
        with contextlib.suppress(OSError):
            if pgid:
                os.killpg(pgid, signal.SIGKILL)
            elif proc is not None:
                proc.kill()
        with contextlib.suppress(Exception):
            km.cleanup_connection_file()
        with contextlib.suppress(Exception):
            km.cleanup_ipc_files()


def _in_thread(fn, *args, **kwargs):
    """Run ``fn`` in a worker thread while the main thread stays free to take signals.

    nbclient installs its own SIGINT/SIGTERM handlers only in the main thread; in a
    worker it leaves them to us, so an interrupt reaches :func:`build` at once.
    """
    box: dict = {}

    def target():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            box["error"] = exc

    worker = threading.Thread(target=target, name="mrbook-execute", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.1)
    except BaseException:
        _kill_kernels()
        worker.join(15)
        raise
    if "error" in box:
        raise box["error"]
    return box.get("value")


def execute_notebook(src: Path, dst: Path, parameters: dict, *, cwd: Path,
                     progress_bar: bool = False, timeout: int | None = 1800,
                     kernel_dir: Path | None = None) -> Path:
    """Execute one notebook with papermill and hide its parameter cells.

    Parameters
    ----------
    src, dst : Path
        The stored notebook (no outputs) and the executed copy.
    parameters : dict
        Values injected by papermill; only the names the notebook declares are
        passed (the others are simply not used by that page).
    cwd : Path
        Working directory of the kernel (the page's folder, so that relative
        links in the outputs resolve in the book).
    progress_bar : bool
        Show papermill's per-cell progress bar.
    timeout : int, optional
        Seconds a cell may run.
    kernel_dir : Path, optional
        Folder for the kernel's IPC sockets and its log (``kernel.log``); a
        temporary one by default.

    Raises
    ------
    MRBookError
        If a cell fails (with the notebook's name and papermill's message) or the
        kernel dies (with the last lines of its log).
    """
    import papermill as pm

    passed = passed_parameters(src, parameters)
    own = kernel_dir is None
    kernel_dir = Path(tempfile.mkdtemp(prefix="mrbook-kernel-")) if own else kernel_dir
    ipc_dir = Path(tempfile.mkdtemp(prefix="mrbook-ipc-"))  # short: socket paths are limited
    log_path = kernel_dir / "kernel.log"
    try:
        pm.execute_notebook(str(src), str(dst), parameters=passed, cwd=str(cwd),
                            progress_bar=progress_bar, execution_timeout=timeout,
                            report_mode=False,
                            kernel_manager_class=_kernel_manager_class(ipc_dir, log_path))
    except pm.PapermillExecutionError as exc:
        raise MRBookError(f"notebook {src.name} failed in cell {exc.exec_count}: "
                          f"{exc.ename}: {exc.evalue}") from None
    except Exception as exc:  # noqa: BLE001 - a dead kernel, a timeout: one line
        tail = ""
        if log_path.is_file():
            lines = [ln.strip() for ln in log_path.read_text(errors="replace").splitlines()
                     if ln.strip()]
            tail = f" (kernel log: {' | '.join(lines[-3:])})" if lines else ""
        raise MRBookError(f"notebook {src.name} failed: {type(exc).__name__}: "
                          f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
                          f"{tail}") from None
    finally:
        with _KERNELS_LOCK:
            _KERNELS.clear()  # one notebook at a time: its kernel has been shut down
        shutil.rmtree(ipc_dir, ignore_errors=True)
        if own:
            shutil.rmtree(kernel_dir, ignore_errors=True)
    hide_parameter_cells(dst)
    return dst


def hide_parameter_cells(path: Path) -> None:
    """Tag papermill's parameter cells ``remove-cell`` so the book does not show raw code."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    changed = False
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if any(t in tags for t in HIDDEN_TAGS) and "remove-cell" not in tags:
            tags.append("remove-cell")
            changed = True
    if changed:
        nbformat.write(nb, str(path))


def notebook_problem(path: Path, passed: dict) -> str | None:
    """Why an executed notebook must not be rendered as part of this run, or None.

    It must hold no error output and no papermill exception, and must have been
    executed with exactly the parameters this run passes it (``passed``).
    """
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"cannot be read ({exc})"
    meta = nb.get("metadata", {}).get("papermill", {})
    if meta.get("exception") or any(out.get("output_type") == "error"
                                    for cell in nb.get("cells", [])
                                    for out in cell.get("outputs", [])):
        return "holds an error from a failed run"
    done = meta.get("parameters")
    if done is None:
        return "was not executed by mrbook build (no papermill parameters)"
    want = json.loads(json.dumps(passed))
    if done != want:
        diff = sorted(k for k in set(done) | set(want) if done.get(k) != want.get(k))
        return (f"was executed with other run parameters ({', '.join(diff[:3])}"
                f"{', ...' if len(diff) > 3 else ''} differ)")
    return None


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


# ----------------------------------------------------------------------------- cache keys

def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _versions() -> dict:
    from importlib import metadata

    out = {"python": sys.version}
    for dist in ("numpy", "pandas", "scipy", "plotly", "kaleido", "papermill", "nbformat",
                 "ipykernel", "jupyter-book", "pyarrow"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


#: layers above the report: a kernel never imports them (the notebooks import mrbook.params
#: and mrbook.report), so a change there re-renders the book but re-executes no notebook
ABOVE_THE_KERNEL = ("book", "cli", "batch")


def code_fingerprint(*, kernel_only: bool = False) -> str:
    """SHA-256 of mrbook's own files (code and package data) and the library versions used.

    With ``kernel_only``, the files a notebook's kernel can import: all but the
    layers of :data:`ABOVE_THE_KERNEL`.
    """
    import mrbook

    pkg = Path(mrbook.__file__).resolve().parent
    h = hashlib.sha256()
    for f in sorted(p for p in pkg.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                    and p.suffix != ".pyc"
                    and not (kernel_only and p.relative_to(pkg).parts[0] in ABOVE_THE_KERNEL)):
        h.update(f.relative_to(pkg).as_posix().encode() + b"\0")
        h.update(f.read_bytes())
    h.update(json.dumps(_versions(), sort_keys=True).encode())
    return h.hexdigest()


def _file_fingerprint(path: Path) -> list:
    files = [path] if path.is_file() else sorted(path.parent.glob(path.name + ".*"))
    return [[str(f), f.stat().st_size, f.stat().st_mtime_ns] for f in files if f.is_file()]


def data_fingerprint(parameters: dict) -> list:
    """The data files a run reads: path, size and modification time of each (demo and
    OpenGWAS sources are named only: the demo is made by mrbook's code, OpenGWAS replies
    are cached by study)."""
    run = {k: parameters.get(k, SCHEMA[k].default) for k in SCHEMA}
    out = []
    for src in [*run["exposures"].values(), run["outcome_source"]]:
        with contextlib.suppress(Exception):
            if source_kind(src) == "file":
                out.append(_file_fingerprint(resolve_path(src)))
                continue
        out.append(src)
    for name in ("ld_ref", "confounder_table"):
        if run.get(name):
            out.append(_file_fingerprint(resolve_path(run[name])))
    return out


def notebook_key(src: Path, passed: dict, data: list, code: str) -> str:
    """Key of an executed notebook: its source, its parameters, the data and the code."""
    blob = json.dumps({"notebook": _sha(src.read_bytes()), "parameters": passed, "data": data,
                       "code": code}, sort_keys=True, default=str)
    return _sha(blob.encode())


def _sources_fingerprint(book_dir: Path, skip: Path | None) -> list:
    out = []
    for f in sorted(_static_files(book_dir, skip)):
        out.append([f.relative_to(book_dir).as_posix(), _sha(f.read_bytes())])
    return out


def _static_files(book_dir: Path, skip: Path | None) -> list[Path]:
    """The book's own sources in ``book/`` (pages, bibliography, style): not the executed
    notebooks, the tables or anything hidden."""
    files = []
    for f in book_dir.rglob("*"):
        rel = f.relative_to(book_dir)
        if not f.is_file() or any(part.startswith((".", "_build")) for part in rel.parts):
            continue
        if f.suffix in _NOT_SOURCES or rel.parts[0] in ("data", STAGE_OUT):
            continue
        if skip is not None and (f == skip or skip in f.parents):
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
    """SIGINT and SIGTERM wait until the block is done (the swap must not stop half-way)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


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
                pdf_file: Path | None) -> bool:
    """Whether the last build had the same key and its outputs are still in place."""
    if stamp.get("key") != key:
        return False
    if pdf_file is not None and not pdf_file.is_file():
        return False
    for name in names:
        nb = book_dir / f"{name}.ipynb"
        if not nb.is_file() or _sha(nb.read_bytes()) != stamp.get("notebooks", {}).get(name):
            return False
    for rel, size in stamp.get("files", {}).items():
        f = out_dir / rel
        if not f.is_file() or f.stat().st_size != size:
            return False
    return True


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
        when nothing changed since the last build.

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
    book_key = _sha(json.dumps({
        "notebooks": [keys[n] for n in names] if execute else
        [_sha((book_dir / f"{n}.ipynb").read_bytes()) for n in names],
        "static": static, "config": _sha((root / "_config.yml").read_bytes()),
        "toc": _sha((root / "_toc.yml").read_bytes()), "code": code, "pdf": pdf,
        "out_dir": os.path.relpath(out_dir, book_dir), "execute": execute,
    }, sort_keys=True).encode())
    stamp = _read_json(out / STAMP)
    if cache and _up_to_date(stamp, book_key, book_dir, names, out_dir, pdf_file):
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
            _install(stage, src_dir, stage_out, html, staged_pdf, out, pdf_file, book_dir, out_dir,
                     names, book_key, execute, stamp)
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
            if cache and (entry / "notebook.ipynb").is_file() and _restore(entry, dst, stage_out):
                result.cached.append(name)
                say(f"{name}.ipynb unchanged, taken from the cache ({time.perf_counter() - t0:.1f} s)")
                continue
            before = _snapshot(stage_out)
            _in_thread(execute_notebook, sources[name], dst, staged, cwd=src_dir,
                       progress_bar=progress_bar, kernel_dir=kernel_dir)
            _relocate(dst, back)
            written = [rel for rel, sig in _snapshot(stage_out).items() if before.get(rel) != sig]
            if cache:
                _store(entry, dst, stage_out, written)
            result.executed.append(name)
            result.seconds[f"execute {name}"] = time.perf_counter() - t0
            say(f"executed {name}.ipynb ({result.seconds[f'execute {name}']:.1f} s)")
    finally:
        if saved is None:
            os.environ.pop("MRBOOK_ROOT", None)
        else:
            os.environ["MRBOOK_ROOT"] = saved


def _store(entry: Path, notebook: Path, stage_out: Path, written: list[str]) -> None:
    """Keep an executed notebook and the files it wrote under its key (atomically)."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
    try:
        shutil.copyfile(notebook, tmp / "notebook.ipynb")
        for rel in written:
            (tmp / "files" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(stage_out / rel, tmp / "files" / rel)
        (tmp / "files.json").write_text(json.dumps(sorted(written)), encoding="utf-8")
        if entry.exists():
            shutil.rmtree(entry, ignore_errors=True)
        os.rename(tmp, entry)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # the cache is an optimisation: never fail on it
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _restore(entry: Path, dst: Path, stage_out: Path) -> bool:
    """Copy a cached notebook and its files into the stage; False if the entry is incomplete."""
    try:
        files = json.loads((entry / "files.json").read_text(encoding="utf-8"))
        if not all((entry / "files" / rel).is_file() for rel in files):
            return False
        for rel in files:
            (stage_out / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(entry / "files" / rel, stage_out / rel)
        shutil.copyfile(entry / "notebook.ipynb", dst)
    except (OSError, ValueError):
        return False
    return True


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
             book_key, execute, old_stamp) -> None:
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
    notebooks = {n: _sha((src_dir if execute else book_dir).joinpath(f"{n}.ipynb").read_bytes())
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
