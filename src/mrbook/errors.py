"""Ground floor: the errors mrbook reports as one line naming the file, row and column."""

from __future__ import annotations

from pathlib import Path


class MRBookError(Exception):
    """Base class of every error mrbook reports to a user as one line."""


class InputError(MRBookError):
    """Bad input data, located by file, row and column.

    Parameters
    ----------
    message : str
        What is wrong and what was expected.
    path : str or Path, optional
        The file the value came from.
    row : int, optional
        1-based data row: the first line after the header is row 1 (header and
        comment lines are not counted).
    column : str, optional
        Column name.

    Examples
    --------
    >>> str(InputError("expected a number, got 'abc'", "x.csv", 3, "beta.exposure"))
    "x.csv: row 3, column 'beta.exposure': expected a number, got 'abc'"
    """

    def __init__(self, message: str, path: str | Path | None = None,
                 row: int | None = None, column: str | None = None):
        self.message = message
        self.path = None if path is None else str(path)
        self.row = row
        self.column = column
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        loc = ", ".join(where)
        head = self.path or "<input>"
        if loc:
            head = f"{head}: {loc}"
        return f"{head}: {self.message}".replace("\n", " ")


class ParameterError(MRBookError):
    """A run parameter has the wrong type or an unknown value."""


class OutputError(MRBookError):
    """An output cannot be written where the user asked (wrong kind of path, full or
    read-only disk, closed pipe); nothing was written.

    Examples
    --------
    >>> str(OutputError("is a folder; give a file name", "out"))
    'out: is a folder; give a file name'
    """

    def __init__(self, message: str, path: str | Path | None = None):
        self.message = message
        self.path = None if path is None else str(path)
        super().__init__(self.__str__())

    def __str__(self) -> str:
        head = f"{self.path}: " if self.path else ""
        return f"{head}{self.message}".replace("\n", " ")
