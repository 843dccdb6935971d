"""Reading a file into raw tables of cell values; nothing here knows the sheet kinds.

Rows keep the number Excel shows for them (header = row 1), so every later error can point at
the row the user sees. Completely empty rows are dropped here.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

from workflows.imports.encoding import DecodeError, decode_csv

Cell = object
NumberedRow = tuple[int, tuple[Cell, ...]]

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
CSV_SUFFIXES = (".csv", ".txt")


class ReadError(ValueError):
    """The file as a whole cannot be read; the message completes "<file>: ..."."""


@dataclass(frozen=True)
class RawTable:
    """One sheet (or the one table of a CSV): its name and its non-empty rows, header first."""

    name: str
    rows: tuple[NumberedRow, ...]


def is_blank(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _non_empty(rows: list[tuple[Cell, ...]]) -> tuple[NumberedRow, ...]:
    return tuple((n, r) for n, r in enumerate(rows, start=1) if not all(is_blank(c) for c in r))


def read_workbook(path: Path) -> list[RawTable]:
    """Every sheet of an .xlsx, read-only and with cached formula results (data_only)."""
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise ReadError(f"is not a readable .xlsx workbook ({exc})") from exc
    tables = []
    try:
        for ws in wb.worksheets:
            # Some writers store a wrong <dimension>; read-only mode would cut rows or columns off.
            ws.reset_dimensions()
            tables.append(RawTable(ws.title, _non_empty([tuple(r) for r in ws.iter_rows(values_only=True)])))
    finally:
        wb.close()
    return tables


def read_csv(path: Path, name: str) -> RawTable:
    """A comma-separated file; ``name`` is what errors call its sheet (its kind)."""
    try:
        text, _encoding = decode_csv(path.read_bytes())
    except DecodeError as exc:
        raise ReadError(str(exc)) from exc
    try:
        rows: list[tuple[Cell, ...]] = [tuple(r) for r in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error as exc:
        raise ReadError(f"is not valid CSV ({exc})") from exc
    return RawTable(name, _non_empty(rows))


def file_format(path: Path) -> str:
    """"xlsx" or "csv", from the suffix; anything else is refused with a hint."""
    suffix = path.suffix.lower()
    if suffix in WORKBOOK_SUFFIXES:
        return "xlsx"
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix == ".xls":
        raise ReadError("is an old .xls workbook; save it as .xlsx")
    raise ReadError(f"has an unsupported type {suffix or '(no suffix)'}; use .xlsx or .csv")
