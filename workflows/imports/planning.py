"""Shared state of validation: the database view, the keys the file declares, and the plan.

Validation never writes. It turns each valid row into a :class:`Planned` step (create, update or
unchanged, with the row's values keyed by column name); the writer carries the steps out only
when the whole file passed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from workflows.errors import Conflict
from workflows.imports.catalog import Catalog, SchemeState
from workflows.imports.cells import dec_str
from workflows.imports.issues import Issues
from workflows.imports.rows import Row
from workflows.imports.sheets import KIND_ORDER

Action = Literal["create", "update", "unchanged"]
Record = dict[str, object]
# Kinds that define the scheme itself; a locked scheme takes none of them new or changed.
DEFINITION_KINDS = ("scheme", "categories", "sections", "units", "indicators")


@dataclass
class Planned:
    kind: str
    action: Action
    scheme: str
    row: Row
    record: Record
    replaced: tuple[str, ...] = ()  # what an update replaces, "field old → new" (shown and audited)


@dataclass(frozen=True)
class SchemeCtx:
    """The scheme a row belongs to: from the file's scheme sheet, else from the database."""

    code: str
    year: int | None
    status: str
    state: SchemeState | None


def show_value(value: object) -> str:
    if value is None:
        return "(empty)"
    if isinstance(value, Decimal):
        return dec_str(value)
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


@dataclass
class Planning:
    catalog: Catalog
    issues: Issues
    seen: dict[str, dict[tuple[str, ...], Row]] = field(
        default_factory=lambda: {k: {} for k in KIND_ORDER})
    steps: list[Planned] = field(default_factory=list)
    _sealed_reported: set[tuple[str, str]] = field(default_factory=set)
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def error(self, row: Row, column: str | None, message: str) -> None:
        self.issues.add(message, row.sheet, row.number, column)

    def frozen(self, row: Row, column: str | None, check: Callable[..., None], *args: object) -> bool:
        """Whether the year's freeze (``check(session, *args, now)`` of ``workflows.freeze``) refuses
        the row; its message is the row's error."""
        try:
            check(self.catalog.session, *args, self.now)
        except Conflict as exc:
            self.error(row, column, str(exc))
            return True
        return False

    def scheme_of(self, row: Row) -> SchemeCtx | None:
        """Resolve the row's scheme, refusing sealed ones (reported once per sheet)."""
        column = "code" if row.kind == "scheme" else "scheme"
        code = row.text(column)
        if code is None:
            return None
        state = self.catalog.get(code)
        file_row = self.seen["scheme"].get((code,))
        if file_row is not None:
            year = file_row.integer("year")
        elif state is not None:
            year = state.scheme.year
        else:
            self.error(row, column, f"unknown scheme code {code}")
            return None
        status = state.scheme.status if state is not None else "draft"
        if status == "sealed":
            if (row.sheet, code) not in self._sealed_reported:
                self._sealed_reported.add((row.sheet, code))
                self.error(row, column, f"scheme {code} is sealed: nothing can be imported into it")
            return None
        return SchemeCtx(code, year, status, state)

    def claim(self, row: Row, key: tuple[str, ...], column: str, what: str) -> bool:
        """Register a key of the file; a second row with the same key is an error."""
        seen = self.seen[row.kind]
        if key in seen:
            self.error(row, column, f"duplicate {what} (also on row {seen[key].number})")
            return False
        seen[key] = row
        return True

    def in_file(self, kind: str, key: tuple[str, ...]) -> bool:
        return key in self.seen[kind]

    def add(self, ctx: SchemeCtx, row: Row, action: Action, record: Record,
            replaced: tuple[str, ...] = ()) -> None:
        self.steps.append(Planned(row.kind, action, ctx.code, row, record, replaced))

    def decide(self, ctx: SchemeCtx, row: Row, existing: Record | None, record: Record,
               what: str) -> None:
        """Create, update or leave a definition row; a locked scheme's definition is fixed."""
        if existing is None:
            action: Action = "create"
            changed = "code" if "code" in record else None
        else:
            diff = [k for k in record if existing.get(k) != record[k]]
            action = "update" if diff else "unchanged"
            changed = diff[0] if diff else None
        if action != "unchanged" and ctx.status == "locked":
            column = changed if changed in row.values or changed == "code" else None
            self.error(row, column, f"scheme {ctx.code} is locked: {what} cannot be added or "
                       "changed by import")
            return
        self.add(ctx, row, action, record)

    def coded_rows(self, rows: list[Row], what: str) -> Iterator[tuple[SchemeCtx, Row, str]]:
        """Rows keyed by scheme and ``code`` whose scheme resolves and whose code is not a repeat."""
        for row in rows:
            ctx = self.scheme_of(row)
            code = row.text("code")
            if ctx is None or code is None:
                continue
            if self.claim(row, (ctx.code, code), "code", f"{what} code {code} in scheme {ctx.code}"):
                yield ctx, row, code
