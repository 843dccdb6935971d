"""``import_file``: read, validate the whole file, and only then write, in the caller's session."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

import audit
from workflows.imports.catalog import Catalog
from workflows.imports.headers import IGNORED_SHEETS, detect_kind, kind_named, normalize
from workflows.imports.issues import Issues
from workflows.imports.plan_facts import check_events, check_progress, check_targets
from workflows.imports.plan_scheme import (
    check_categories,
    check_indicators,
    check_scheme,
    check_sections,
    check_units,
)
from workflows.imports.planning import Planning
from workflows.imports.readers import RawTable, ReadError, file_format, read_csv, read_workbook
from workflows.imports.rows import ParsedSheet, Row, parse_table
from workflows.imports.sheets import KIND_ORDER
from workflows.imports.summary import ImportSummary
from workflows.imports.write import Writer

CHECKS: dict[str, Callable[[Planning, list[Row]], None]] = {
    "scheme": check_scheme, "categories": check_categories, "sections": check_sections,
    "units": check_units, "indicators": check_indicators, "targets": check_targets,
    "progress": check_progress, "events": check_events,
}


def _workbook_sheets(tables: list[RawTable], only: str | None, issues: Issues) -> list[ParsedSheet]:
    sheets: dict[str, ParsedSheet] = {}
    for table in tables:
        if normalize(table.name) in IGNORED_SHEETS:
            continue
        kind = kind_named(table.name)
        if kind is None:
            issues.add(f"sheet name is not a kind; name it one of {', '.join(KIND_ORDER)} (or its "
                       "Chinese label), or README for notes", table.name)
            continue
        if only is not None and kind != only:
            continue
        if kind in sheets:
            issues.add(f"a second {kind} sheet (the first is {sheets[kind].name})", table.name)
            continue
        sheets[kind] = parse_table(table, kind, issues)
    return list(sheets.values())


def _csv_sheet(path: Path, kind: str | None, issues: Issues) -> list[ParsedSheet]:
    table = read_csv(path, kind or "?")
    if not table.rows:
        issues.add("the file is empty")
        return []
    if kind is None:
        kind, why = detect_kind(table.rows[0][1])
        if kind is None:
            issues.add(why, None, table.rows[0][0])
            return []
    return [parse_table(RawTable(kind, table.rows), kind, issues)]


def read_sheets(path: Path, kind: str | None, issues: Issues) -> list[ParsedSheet]:
    """The file's sheets, typed; problems go to ``issues``."""
    try:
        if file_format(path) == "xlsx":
            return _workbook_sheets(read_workbook(path), kind, issues)
        return _csv_sheet(path, kind, issues)
    except ReadError as exc:
        issues.add(str(exc))
    except OSError as exc:
        issues.add(f"cannot be read ({exc.strerror or exc})")
    return []


def import_file(
    session: Session, path: Path, kind: str | None = None, *, actor: str = "system:import",
    now: dt.datetime | None = None,
) -> ImportSummary:
    """Import a workbook or CSV into the session's transaction; flush, never commit.

    Raises ImportRejected with every problem found, having written nothing, if anything is wrong —
    a row of a sealed scheme, a fact a published run read, a fact after an in-force scheme's cut-off
    (``workflows.freeze``, at ``now``) included.
    An accepted file that changed anything is recorded in the audit ledger (``import.file``: its
    name, sha256 and what it changed) in the same transaction as the rows it wrote.
    """
    path = Path(path)
    issues = Issues(path.name)
    if kind is not None:
        named = kind_named(kind)
        if named is None:
            issues.add(f"unknown kind {kind}; expected one of {', '.join(KIND_ORDER)}")
            issues.reject_if_any()
        kind = named
    sheets = read_sheets(path, kind, issues)
    if not sheets and not issues:
        issues.add("no sheet to import")
    at = dt.datetime.now(dt.UTC) if now is None else now
    planning = Planning(Catalog(session), issues, now=at)
    by_kind = {s.kind: s for s in sheets}
    with session.no_autoflush:
        for k in KIND_ORDER:
            if k in by_kind and by_kind[k].complete:
                CHECKS[k](planning, by_kind[k].rows)
    issues.reject_if_any()
    summary = ImportSummary(path.name)
    writer = Writer(session, planning.catalog, at)
    with session.no_autoflush:
        for k in KIND_ORDER:
            for step in (s for s in planning.steps if s.kind == k):
                writer.apply(step)
                summary.count(step.kind, step.action)
                summary.replaced.extend(step.replaced)
            if k == "units":
                writer.link_parents(planning.steps)
    session.flush()
    if summary.created or summary.updated:  # a file that changed nothing leaves nothing to audit
        _record(session, path, kind, summary, actor)
    return summary


def _record(session: Session, path: Path, kind: str | None, summary: ImportSummary, actor: str) -> None:
    audit.record(
        session, actor=actor, action="import.file", subject_type="import", subject_id=path.name,
        payload={
            "file": path.name,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "kind": kind,
            "counts": {k: {"created": c.created, "updated": c.updated, "unchanged": c.unchanged}
                       for k, c in sorted(summary.counts.items())},
            **({"replaced": summary.replaced} if summary.replaced else {}),
        },
    )
