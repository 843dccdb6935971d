"""From a raw table to typed rows of one kind: header recognition plus cell-by-cell parsing.

Every problem is reported and the row is kept with the bad cell left out, so later checks still
see the row's keys and do not report a cascade of "unknown code" errors caused by one typo.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from workflows.imports.cells import CellError, parse_cell
from workflows.imports.headers import column_letter, map_header, spec_for
from workflows.imports.issues import Issues
from workflows.imports.limits import limits_for
from workflows.imports.readers import RawTable, is_blank


@dataclass
class Row:
    """One data row: typed values by column name (None when empty or unreadable)."""

    kind: str
    sheet: str
    number: int
    values: dict[str, object] = field(default_factory=dict)
    bad: set[str] = field(default_factory=set)

    def text(self, column: str) -> str | None:
        value = self.values.get(column)
        assert value is None or isinstance(value, str)
        return value

    def dec(self, column: str) -> Decimal | None:
        value = self.values.get(column)
        assert value is None or isinstance(value, Decimal)
        return value

    def integer(self, column: str) -> int | None:
        value = self.values.get(column)
        assert value is None or isinstance(value, int)
        return value

    def date(self, column: str) -> dt.date | None:
        value = self.values.get(column)
        assert value is None or isinstance(value, dt.date)
        return value

    def moment(self, column: str) -> dt.datetime | None:
        value = self.values.get(column)
        assert value is None or isinstance(value, dt.datetime)
        return value

    def flag(self, column: str) -> bool | None:
        value = self.values.get(column)
        assert value is None or isinstance(value, bool)
        return value

    def obj(self, column: str) -> dict[str, Any] | None:
        value = self.values.get(column)
        assert value is None or isinstance(value, dict)
        return value


@dataclass
class ParsedSheet:
    kind: str
    name: str
    rows: list[Row]
    complete: bool  # the header has every required column, so the rows can be checked further


def parse_table(table: RawTable, kind: str, issues: Issues) -> ParsedSheet:
    spec = spec_for(kind)
    if not table.rows:
        return ParsedSheet(kind, table.name, [], True)
    header_no, header_cells = table.rows[0]
    header = map_header(spec, header_cells)
    for index, text in header.unknown:
        issues.add(f'unknown column "{text}"; the columns of {kind} are '
                   f"{', '.join(c.name for c in spec.columns)}", table.name, header_no,
                   column_letter(index))
    for index, name in header.duplicated:
        issues.add(f"column {name} appears twice in the header", table.name, header_no,
                   column_letter(index))
    by_name = {c.name: c for c in spec.columns}
    for name in header.missing:
        issues.add(f"missing required column ({by_name[name].label_zh})", table.name, header_no, name)
    ignored = {i for i, _ in header.unknown} | {i for i, _ in header.duplicated}
    rows = []
    for number, cells in table.rows[1:]:
        row = Row(kind, table.name, number)
        for index, cell in enumerate(cells):
            if index not in header.columns and index not in ignored and not is_blank(cell):
                issues.add("value in a column without a header", table.name, number,
                           column_letter(index))
        for index, name in header.columns.items():
            column = by_name[name]
            cell = cells[index] if index < len(cells) else None
            if is_blank(cell):
                if column.required:
                    issues.add(f"missing required value ({column.label_zh})", table.name, number, name)
                    row.bad.add(name)
                continue
            try:
                row.values[name] = parse_cell(column, cell, limits_for(kind, name))
            except CellError as exc:
                issues.add(str(exc), table.name, number, name)
                row.bad.add(name)
        rows.append(row)
    return ParsedSheet(kind, table.name, rows, not header.missing)
