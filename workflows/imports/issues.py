"""What a rejected import reports: one :class:`ImportIssue` per problem, all of them at once.

An office clerk fixes a spreadsheet in one pass only if every error is listed, each pointing at
the file, sheet, row (as Excel numbers it, header = 1) and column it concerns.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImportIssue:
    file: str
    sheet: str | None
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.sheet is not None:
            where.append(f"sheet {self.sheet}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        if where:
            return f"{self.file}: {', '.join(where)}: {self.message}"
        return f"{self.file}: {self.message}"


class ImportRejected(Exception):
    """The file was refused as a whole; nothing was written. ``errors`` lists every problem."""

    def __init__(self, errors: list[ImportIssue]) -> None:
        self.errors = errors
        lines = "\n".join(str(e) for e in errors)
        super().__init__(f"import rejected with {len(errors)} error(s):\n{lines}")


class Issues:
    """Collects the issues of one file while it is read and validated."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[ImportIssue] = []

    def add(self, message: str, sheet: str | None = None, row: int | None = None,
            column: str | None = None) -> None:
        self.items.append(ImportIssue(self.file, sheet, row, column, message))

    def __bool__(self) -> bool:
        return bool(self.items)

    def reject_if_any(self) -> None:
        if self.items:
            raise ImportRejected(list(self.items))
