"""Book layer, executing a notebook: papermill in a worker thread, kernels that stay quiet and stop.

:func:`execute_notebook` runs one notebook with papermill. Its kernel uses
ZeroMQ's IPC transport (Unix sockets in a private folder: no network, so no
"running over TCP without encryption" warning) and writes whatever it prints on
its own to a log, quoted if the kernel dies. :func:`in_thread` runs the execution
in a worker thread so that SIGINT and SIGTERM reach the build at once (nbclient
installs its own handlers only in the main thread), and :func:`kill_kernels` stops
every kernel of the build (its whole process group: kaleido's browser too).
:func:`notebook_problem` says why an executed notebook must not be rendered with
a run (an error, other parameters).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path

from ..errors import MRBookError

#: notebooks with these tags are hidden in the book (papermill's cells)
HIDDEN_TAGS = ("parameters", "injected-parameters")


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


def kill_kernels() -> None:
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


def in_thread(fn, *args, **kwargs):
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
        kill_kernels()
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
