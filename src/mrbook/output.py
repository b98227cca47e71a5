"""Ground floor: writing results, the JSON of ``mrbook mr``, safe output paths, the version stamp.

Every file a command writes goes through :func:`write_outputs`, which treats an
output path by what it names:

- a missing name or a regular file (or a symbolic link to one): the text is
  written to a temporary file beside it and renamed over it when complete, so the
  file is never half-written; a new file gets the permissions the umask gives
  (``0o666 & ~umask``), a replaced one keeps its own;
- ``-``: standard output (for commands that write one file);
- a FIFO or a character device (``/dev/stdout``, a named pipe, ``/dev/null``):
  written directly, never replaced, and a write error (``/dev/full``) is reported;
- a folder where a file is meant, or anything else: refused before anything is
  written, leaving the path as it was.

Several outputs of one command are one transaction: all are staged before any is
renamed into place, so an error (a full or read-only disk) leaves none of them.
Nothing is ever moved aside or deleted to make room.

The module imports no third-party package at load time, so that ``mrbook --help``
stays fast.
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Mapping

from .errors import OutputError

#: mrbook's version, stamped into every result it writes (``mrbook.__version__``)
VERSION = "0.1.0"

#: the output name that means standard output
STDOUT = "-"

#: snake_case result columns -> the names of SPEC section 5 / TwoSampleMR
JSON_NAMES = {
    "id_exposure": "id.exposure", "id_outcome": "id.outcome", "snp": "SNP",
    "q": "Q", "q_df": "Q_df", "q_pval": "Q_pval",
    "snp_r2_exposure": "snp_r2.exposure", "snp_r2_outcome": "snp_r2.outcome",
}


def _clean(v):
    import numpy as np
    import pandas as pd

    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return None if math.isnan(v) or math.isinf(v) else v
    if v is pd.NA or v is None:
        return None
    return v


def records(table, columns: list[str], with_ids: bool) -> list[dict]:
    """Rows of ``table`` as JSON-ready dicts with the contract's column names."""
    cols = (["id_exposure", "id_outcome"] if with_ids else []) + columns
    out = []
    for row in table[cols].itertuples(index=False):
        out.append({JSON_NAMES.get(c, c): _clean(v) for c, v in zip(cols, row)})
    return out


def dumps(obj) -> str:
    return json.dumps(obj, indent=2, allow_nan=False) + "\n"


# --------------------------------------------------------------------------- permissions


def current_umask() -> int:
    """The process's umask (read from /proc where possible, so it is never changed)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """Permission bits of a new file, as ``open()`` would give them: ``0o666 & ~umask``."""
    return 0o666 & ~current_umask()


def new_dir_mode() -> int:
    """Permission bits of a new folder, as ``mkdir`` would give them: ``0o777 & ~umask``."""
    return 0o777 & ~current_umask()


# --------------------------------------------------------------------------- paths


def os_reason(exc: OSError) -> str:
    """One line for an OS error, without the path (the caller names it)."""
    known = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
             errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
             errno.EPERM: "operation not permitted", errno.EPIPE: "the reader closed the pipe",
             errno.ENOTDIR: "a part of the path is a file, not a folder",
             errno.EISDIR: "is a folder, expected a file", errno.ENOENT: "no such file or folder",
             errno.EIO: "input/output error"}
    return known.get(exc.errno, (exc.strerror or str(exc)).lower())


def _stat(path: Path):
    """``os.stat`` (following links), or None for a missing name."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise OutputError("a part of the path is a file, not a folder", path) from None
    except OSError as exc:
        raise OutputError(f"cannot inspect the path ({os_reason(exc)})", path) from None


def output_kind(path: str | os.PathLike) -> str:
    """What an output path names: ``"stdout"``, ``"missing"``, ``"file"``, ``"folder"``,
    ``"stream"`` (a FIFO or character device) or ``"other"`` (socket, block device)."""
    if str(path) == STDOUT:
        return "stdout"
    if str(path) in ("/dev/stdout", "/dev/stderr") or str(path).startswith(("/dev/fd/",
                                                                              "/proc/self/fd/")):
        return "stream"  # the process's own descriptors: never resolved to a file and replaced
    st = _stat(Path(path))
    if st is None:
        return "missing"
    if stat.S_ISREG(st.st_mode):
        return "file"
    if stat.S_ISDIR(st.st_mode):
        return "folder"
    if stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode):
        return "stream"
    return "other"


def check_output_file(path: str | os.PathLike, *, allow_stdout: bool = True,
                      what: str = "output") -> str:
    """Refuse an output path that cannot take a file; return its kind.

    Raises
    ------
    OutputError
        For a folder, a socket or block device, ``-`` where it is not allowed, or
        a path whose parent is a file.
    """
    kind = output_kind(path)
    if kind == "stdout" and not allow_stdout:
        raise OutputError(f"'-' (standard output) cannot be used for the {what} here; give a "
                          "file name")
    if kind == "folder":
        raise OutputError(f"is a folder; the {what} needs a file name", path)
    if kind == "other":
        raise OutputError(f"is neither a regular file, a FIFO nor a character device; "
                          f"give another name for the {what}", path)
    if kind == "missing":
        _check_parents(Path(path))
    return kind


def check_output_dir(path: str | os.PathLike, what: str = "output folder") -> bool:
    """Refuse an output folder path that names something other than a folder.

    Returns whether the folder exists already.

    Raises
    ------
    OutputError
        If the path is ``-``, an existing file (or FIFO, device...), or below a file.
    """
    if str(path) == STDOUT:
        raise OutputError(f"'-' (standard output) cannot be the {what}; give a folder name")
    kind = output_kind(path)
    if kind == "folder":
        return True
    if kind != "missing":
        noun = "a file" if kind == "file" else "not a folder"
        raise OutputError(f"is {noun}; the {what} must be a folder (give a new name or "
                          "an existing folder)", path)
    _check_parents(Path(path))
    return False


def _check_parents(path: Path) -> None:
    for parent in Path(os.path.abspath(path)).parents:
        st = _stat(parent)
        if st is not None:
            if not stat.S_ISDIR(st.st_mode):
                raise OutputError(f"{parent} is a file, not a folder", path)
            return


def make_dirs(path: Path) -> list[Path]:
    """``mkdir -p`` (modes from the umask); returns the folders it created, outermost first."""
    created: list[Path] = []
    missing = []
    p = Path(os.path.abspath(path))
    while _stat(p) is None:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            remove_dirs(created)
            raise OutputError(f"cannot create the folder ({os_reason(exc)})", d) from None
        created.append(d)
    return created


def remove_dirs(created: list[Path]) -> None:
    """Remove folders made by :func:`make_dirs` again, innermost first, if still empty."""
    for d in reversed(created):
        try:
            d.rmdir()
        except OSError:
            pass


# --------------------------------------------------------------------------- writing


def write_outputs(outputs: Mapping[str | os.PathLike, str], *, stdout=None) -> None:
    """Write texts to output paths as one transaction (see the module docstring).

    Parameters
    ----------
    outputs : mapping of path to str
        Output path (``-`` for standard output) -> text (UTF-8).
    stdout : file, optional
        Where ``-`` goes (default ``sys.stdout``).

    Raises
    ------
    OutputError
        One line naming the path: a folder where a file is meant, a full or
        read-only disk, a device that refuses the write. Regular files are then
        left as they were and no temporary file remains.
    """
    plan = []  # (kind, shown path, target path, text)
    for path, text in outputs.items():
        kind = check_output_file(path)
        target = Path(path) if kind != "stdout" else None
        if kind in ("file", "missing") and os.path.islink(path):
            target = Path(os.path.realpath(path))  # replace the file the link points to
        plan.append((kind, str(path), target, text))
    created: list[Path] = []
    staged: list[tuple[str, str, Path]] = []  # (shown path, temporary file, target)
    try:
        for kind, shown, target, text in plan:
            if kind in ("file", "missing"):
                created += make_dirs(target.parent)
                staged.append((shown, _stage(shown, target, text, kind), target))
        for kind, shown, target, text in plan:
            if kind == "stdout":
                _write_stdout(text, stdout if stdout is not None else sys.stdout)
            elif kind == "stream":
                _write_stream(shown, target, text)
        for shown, tmp, target in staged:
            try:
                os.replace(tmp, target)
            except OSError as exc:
                raise OutputError(f"cannot write the file ({os_reason(exc)})", shown) from None
    except BaseException:
        for _, tmp, _ in staged:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        remove_dirs(created)
        raise


def _stage(shown: str, target: Path, text: str, kind: str) -> str:
    """Write ``text`` to a temporary file beside ``target`` with the final permissions."""
    try:
        mode = (os.stat(target).st_mode & 0o7777) if kind == "file" else new_file_mode()
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"cannot write the file ({os_reason(exc)})", shown) from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException as exc:
        os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write the file ({os_reason(exc)})", shown) from None
        raise
    return tmp


def _write_stream(shown: str, target: Path, text: str) -> None:
    """A FIFO or character device: open it for writing and write, nothing else."""
    try:
        with open(target, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
    except OSError as exc:
        raise OutputError(f"cannot write ({os_reason(exc)})", shown) from None


def _write_stdout(text: str, out) -> None:
    try:
        out.write(text)
        out.flush()
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): stop quietly writing to it, and say so once
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, out.fileno())
        except (OSError, AttributeError, ValueError):
            pass
        raise OutputError("the reader of standard output closed the pipe", STDOUT) from None
    except OSError as exc:
        raise OutputError(f"cannot write to standard output ({os_reason(exc)})", STDOUT) from None


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to one output path safely (see :func:`write_outputs`)."""
    write_outputs({path: text})


def write_into_dir(outdir: str | os.PathLike, files: Mapping[str, str]) -> dict[str, Path]:
    """Write files into an output folder, created if missing, as one transaction.

    Other files in the folder are left alone; a folder that did not exist and
    ends up holding nothing (an error) is removed again.

    Raises
    ------
    OutputError
        If ``outdir`` names a file (or anything but a folder), or a file cannot be
        written.
    """
    outdir = Path(outdir)
    existed = check_output_dir(outdir)
    paths = {name: outdir / name for name in files}
    for p in paths.values():  # refuse before creating anything
        check_output_file(p, allow_stdout=False)
    created = [] if existed else make_dirs(outdir)
    try:
        write_outputs({paths[name]: text for name, text in files.items()})
    except BaseException:
        remove_dirs(created)
        raise
    return paths
