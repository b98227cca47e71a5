"""Build the book: validate the parameters, execute the notebooks, render HTML offline.

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

This module is also a Sphinx extension (``extra_extensions: [mrbook.book]`` in
``_config.yml``), which makes the book work offline: it serves the
plotly.js that ships with the installed plotly package once from ``_static/``,
copies a local MathJax 3 (from the ``sphinx-mathjax-offline`` package) into
``_static/mathjax``, and drops remote assets (sphinx-thebe's CDN loader) from
every page.
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

from .errors import MRBookError
from .params import SCHEMA, load_yaml, project_root

#: the environment variable holding the OpenGWAS token (read by mrbook.opengwas only)
TOKEN_ENV = "OPENGWAS_JWT"
#: notebooks with these tags are hidden in the book (papermill's cells)
HIDDEN_TAGS = ("parameters", "injected-parameters")
#: MathJax entry point, relative to _static/
MATHJAX_PATH = "mathjax/tex-chtml.js"
#: the parts of MathJax 3 that tex-chtml.js loads (fonts, TeX extensions, menu)
MATHJAX_PARTS = ("tex-chtml.js", "input/tex", "output/chtml", "output/chtml.js", "a11y", "ui")

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


# --------------------------------------------------------------------------------------
# The Sphinx extension: plotly.js and MathJax served locally, no remote assets
# --------------------------------------------------------------------------------------

def plotly_js_path() -> Path:
    """The ``plotly.min.js`` shipped with the installed plotly package."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():  # pragma: no cover - plotly always ships it
        raise MRBookError(f"plotly.min.js not found in the plotly package ({path})")
    return path


def mathjax_dir() -> Path:
    """The MathJax 3 tree shipped by the ``sphinx-mathjax-offline`` package."""
    from importlib import metadata

    try:
        dist = metadata.distribution("sphinx-mathjax-offline")
    except metadata.PackageNotFoundError:
        raise MRBookError("the package sphinx-mathjax-offline is needed to render math "
                          "offline (pip install sphinx-mathjax-offline)") from None
    path = Path(dist.locate_file("sphinx-mathjax-offline/static/mathjax"))
    if not (path / "tex-chtml.js").is_file():  # pragma: no cover
        raise MRBookError(f"MathJax not found in {path}")
    return path


def _copy_if_changed(src: Path, dst: Path) -> None:
    if dst.is_file() and dst.stat().st_size == src.stat().st_size \
            and dst.read_bytes() == src.read_bytes():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def _on_builder_inited(app) -> None:
    # plotly.js goes into the source _static/ (git-ignored) so that Sphinx copies it once
    _copy_if_changed(plotly_js_path(), Path(app.srcdir) / "_static" / "plotly.min.js")
    app.config.mathjax_path = MATHJAX_PATH


def _is_remote(asset) -> bool:
    name = str(getattr(asset, "filename", asset) or "")
    attrs = getattr(asset, "attributes", {}) or {}
    body = str(attrs.get("body", ""))
    return (name.startswith(("http://", "https://", "//"))
            or "THEBE_JS_URL" in body or name.startswith("sphinx-thebe"))


def _on_html_page_context(app, pagename, templatename, context, doctree) -> None:
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [a for a in context[key] if not _is_remote(a)]


def _on_build_finished(app, exception) -> None:
    if exception is not None or app.builder is None or app.builder.format != "html":
        return
    src = mathjax_dir()
    dst = Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        s = src / part
        if s.is_dir():
            shutil.copytree(s, dst / part, dirs_exist_ok=True)
        else:
            _copy_if_changed(s, dst / part)


def setup(app):
    """Sphinx entry point (``extra_extensions: [mrbook.book]``)."""
    app.connect("builder-inited", _on_builder_inited)
    app.connect("html-page-context", _on_html_page_context, priority=900)  # after the others
    app.connect("build-finished", _on_build_finished)
    app.add_js_file("plotly.min.js", priority=200)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
