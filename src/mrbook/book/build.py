"""Book layer: validate the parameters, execute the notebooks, render the HTML offline.

The pipeline (:func:`build`), run by ``mrbook build``:

1. read and validate the parameter file (:func:`mrbook.params.load_yaml`); a wrong
   parameter stops the run here, before anything is computed;
2. execute each notebook of ``notebooks/`` listed in ``_toc.yml`` with
   papermill (progress bar on) into ``book/`` (build products, git-ignored),
   passing each notebook the parameters it declares; the parameter cells are
   then tagged ``remove-cell`` (every page shows its parameters as a "Run
   parameters" table instead);
3. render with ``jupyter-book build`` without executing anything
   (``execute_notebooks: "off"``) and strictly (``-W -n --keep-going``): a
   warning fails the build;
4. check the HTML: no page loads a script or stylesheet from the network, the
   OpenGWAS token appears nowhere, plotly.js and MathJax are served locally.

The Sphinx extension that makes the rendered book work offline is
:mod:`mrbook.book.sphinx`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import MRBookError
from ..params import SCHEMA, load_yaml, project_root
from .sphinx import MATHJAX_PATH

#: the environment variable holding the OpenGWAS token (read by mrbook.data.opengwas only)
TOKEN_ENV = "OPENGWAS_JWT"
#: notebooks with these tags are hidden in the book (papermill's cells)
HIDDEN_TAGS = ("parameters", "injected-parameters")

_REMOTE_TAG = re.compile(
    r"<(?:script[^>]*\bsrc|link[^>]*\bhref|img[^>]*\bsrc|iframe[^>]*\bsrc)\s*=\s*[\"']"
    r"(?:https?:)?//[^\"']+[\"'][^>]*>",
    re.IGNORECASE,
)


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
    notebooks : list of Path
        The executed notebooks (in ``book/``).
    seconds : dict
        Wall time per step ("execute <name>", "render", "total").
    """

    html_dir: Path
    notebooks: list[Path] = field(default_factory=list)
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


def execute_notebook(src: Path, dst: Path, parameters: dict, *, cwd: Path,
                     progress_bar: bool = True, timeout: int | None = 1800) -> Path:
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
        Show papermill's progress bar.
    timeout : int, optional
        Seconds a cell may run.

    Raises
    ------
    MRBookError
        If a cell fails (with the notebook's name and papermill's message).
    """
    import papermill as pm

    declared = set(notebook_parameters(src))
    passed = {k: v for k, v in parameters.items() if k in declared}
    try:
        pm.execute_notebook(str(src), str(dst), parameters=passed, cwd=str(cwd),
                            progress_bar=progress_bar, execution_timeout=timeout,
                            report_mode=False)
    except pm.PapermillExecutionError as exc:
        raise MRBookError(f"notebook {src.name} failed in cell {exc.exec_count}: "
                          f"{exc.ename}: {exc.evalue}") from None
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


def _jupyter_book() -> list[str]:
    exe = Path(sys.executable).parent / "jupyter-book"
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("jupyter-book")
    if found:
        return [found]
    return [sys.executable, "-m", "jupyter_book.cli.main"]


def render(book_dir: Path, html_dir: Path, *, quiet: bool = False) -> None:
    """Render the executed book with ``jupyter-book build -W -n --keep-going --all``.

    Raises
    ------
    MRBookError
        If the build fails or warns (the log's warning lines are quoted).
    """
    html_dir = html_dir.resolve()
    if html_dir.name == "html" and html_dir.parent.name == "_build":
        path_output = html_dir.parent.parent
        tmp = None
    else:
        import tempfile

        tmp = Path(tempfile.mkdtemp(prefix="mrbook-build-"))
        path_output = tmp
    root = book_dir.parent
    cmd = _jupyter_book() + ["build", str(book_dir), "--config", str(root / "_config.yml"),
                             "--toc", str(root / "_toc.yml"), "--path-output", str(path_output),
                             "--builder", "html", "-W", "-n", "--keep-going", "--all"]
    env = dict(os.environ, PYTHONHASHSEED="0")
    proc = subprocess.run(cmd, cwd=str(book_dir.parent), env=env, text=True,
                          capture_output=True)
    log = proc.stdout + proc.stderr
    if not quiet:
        for line in log.splitlines():
            if "WARNING" in line or "ERROR" in line or "build succeeded" in line \
                    or "finished" in line.lower():
                print(line, file=sys.stderr)
    if proc.returncode != 0:
        problems = [ln for ln in log.splitlines() if "WARNING" in ln or "ERROR" in ln]
        detail = "; ".join(problems[:5]) or log.strip().splitlines()[-1:]
        raise MRBookError(f"jupyter-book build failed ({len(problems)} warning(s)/error(s)): "
                          f"{detail}")
    if tmp is not None:
        if html_dir.exists():
            shutil.rmtree(html_dir)
        shutil.copytree(tmp / "_build" / "html", html_dir)
        shutil.rmtree(tmp, ignore_errors=True)


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
    check_no_token([html_dir, *sorted(html_dir.parent.parent.glob("book/*.ipynb"))])


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


def build(params_file: str | os.PathLike | None = "params/paper.yaml",
          html_dir: str | os.PathLike = "_build/html", *, root: Path | None = None,
          progress_bar: bool = True, quiet: bool = False, execute: bool = True) -> BuildResult:
    """Validate the parameters, execute every notebook and render the book.

    Parameters
    ----------
    params_file : path, optional
        The run's YAML (``params/<analysis>.yaml``); None for the notebooks' defaults.
    html_dir : path
        Where the HTML goes (relative to the project root), default ``_build/html``.
    root : Path, optional
        Project root (default :func:`mrbook.params.project_root`).
    progress_bar : bool
        Show papermill's progress bars.
    quiet : bool
        Print nothing but errors.
    execute : bool
        If False, render the notebooks already executed in ``book/``.

    Returns
    -------
    BuildResult

    Raises
    ------
    ParameterError
        Before anything runs, for a wrong or unknown parameter or data source.
    MRBookError
        If a notebook fails, the build warns, or the HTML would need the network.
    """
    t_start = time.perf_counter()
    root = Path(root) if root is not None else project_root()
    parameters = {}
    if params_file:
        pfile = Path(params_file)
        parameters = load_yaml(pfile if pfile.is_absolute() else root / pfile)
    book_dir = root / "book"
    out = Path(html_dir)
    out = out if out.is_absolute() else root / out
    result = BuildResult(html_dir=out)
    names = toc_notebooks(book_dir)
    if not names:
        raise MRBookError(f"{root / '_toc.yml'} lists no notebook of {root / 'notebooks'}")
    if execute:
        # every build computes afresh: the analysis cache only spares the pages of one
        # build from analysing the same direction twice
        out_dir = Path(parameters.get("output_dir", SCHEMA["output_dir"].default))
        cache = (out_dir if out_dir.is_absolute() else root / out_dir) / ".cache"
        shutil.rmtree(cache, ignore_errors=True)
        # the kernels resolve relative paths from the same root as this build
        saved = os.environ.get("MRBOOK_ROOT")
        os.environ["MRBOOK_ROOT"] = str(root.resolve())
        try:
            for name in names:
                t0 = time.perf_counter()
                if not quiet:
                    print(f"mrbook build: executing {name}.ipynb", file=sys.stderr)
                result.notebooks.append(execute_notebook(
                    root / "notebooks" / f"{name}.ipynb", book_dir / f"{name}.ipynb", parameters,
                    cwd=book_dir, progress_bar=progress_bar and not quiet))
                result.seconds[f"execute {name}"] = time.perf_counter() - t0
        finally:
            if saved is None:
                os.environ.pop("MRBOOK_ROOT", None)
            else:
                os.environ["MRBOOK_ROOT"] = saved
    else:
        result.notebooks = [book_dir / f"{n}.ipynb" for n in names]
        missing = [p for p in result.notebooks if not p.is_file()]
        if missing:
            raise MRBookError(f"{missing[0]} has not been executed; run without --no-execute")
    check_no_token(result.notebooks)
    t0 = time.perf_counter()
    render(book_dir, out, quiet=quiet)
    result.seconds["render"] = time.perf_counter() - t0
    check_html(out)
    result.seconds["total"] = time.perf_counter() - t_start
    return result
