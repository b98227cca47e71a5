"""Book layer, the notebook cache: a key per executed notebook, and the entries kept under it.

A notebook's key (:func:`notebook_key`) is the SHA-256 of its source, the run
parameters papermill passes it, the data files it reads (:func:`data_fingerprint`:
path, size, modification time) and the code its kernel can import
(:func:`code_fingerprint`, with the library versions). An entry
(``_build/.cache/notebooks/<key>/``) holds the executed notebook and the files it
wrote into the output folder; it is written to a temporary folder and renamed, so a
build killed half-way never leaves half an entry. The cache keeps the
:data:`KEEP_ENTRIES` most recently used entries (:func:`prune`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ..params import SCHEMA, resolve_path, source_kind


def sha(data: bytes) -> str:
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
    blob = json.dumps({"notebook": sha(src.read_bytes()), "parameters": passed, "data": data,
                       "code": code}, sort_keys=True, default=str)
    return sha(blob.encode())


def store(entry: Path, notebook: Path, stage_out: Path, written: list[str]) -> None:
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


def restore(entry: Path, dst: Path, stage_out: Path) -> bool:
    """Copy a cached notebook and its files into the stage; False if the entry is incomplete."""
    try:
        files = json.loads((entry / "files.json").read_text(encoding="utf-8"))
        if not all((entry / "files" / rel).is_file() for rel in files):
            return False
        for rel in files:
            (stage_out / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(entry / "files" / rel, stage_out / rel)
        shutil.copyfile(entry / "notebook.ipynb", dst)
        os.utime(entry)  # used: the last to be pruned
    except (OSError, ValueError):
        return False
    return True


#: entries kept in the notebook cache (the most recently used; ~1-2 MB each on the demo)
KEEP_ENTRIES = 60


def prune(cache_root: Path, keep: int = KEEP_ENTRIES) -> list[Path]:
    """Remove all but the ``keep`` most recently written or used entries; returns the removed."""
    if not cache_root.is_dir():
        return []
    entries = sorted((d for d in cache_root.iterdir() if d.is_dir() and not d.name.startswith(".")),
                     key=lambda d: d.stat().st_mtime_ns, reverse=True)
    removed = entries[keep:]
    # half-written entries of a build killed outright (SIGKILL) are an hour old at least
    removed += [d for d in cache_root.iterdir() if d.is_dir() and d.name.startswith(".")
                and time.time() - d.stat().st_mtime > 3600]
    for d in removed:
        shutil.rmtree(d, ignore_errors=True)
    return removed
