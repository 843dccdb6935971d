"""Validation of the fact sheets: targets, progress reports and events.

Re-import rules: a target not locked may be updated; a locked target takes no change (that goes
through a target adjustment). A progress report or an event already stored must be re-imported
identically; the one change allowed is adding the office's verification to one not yet verified.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from store import Event, ProgressReport, Target
from workflows.freeze import event_problem, report_problem, target_change_problem
from workflows.imports.catalog import SchemeState
from workflows.imports.cells import CellError, dec_str
from workflows.imports.composite import parse_co_units, parse_milestones, parse_period
from workflows.imports.limits import limits_for
from workflows.imports.plan_scheme import has_indicator, has_unit
from workflows.imports.planning import Action, Planning, Record, SchemeCtx, show_value
from workflows.imports.rows import Row

TARGET_FIELDS = ("annual_value", "schedule", "milestones", "lead_unit", "co_units", "locked")


def _unit_indicator_rows(p: Planning, rows: list[Row]) -> Iterator[tuple[SchemeCtx, Row, str, str]]:
    """Rows whose scheme resolves and whose unit and indicator codes are known in it."""
    for row in rows:
        ctx = p.scheme_of(row)
        unit, indicator = row.text("unit"), row.text("indicator")
        if ctx is None or unit is None or indicator is None:
            continue
        ok = True
        if not has_unit(p, ctx, unit):
            p.error(row, "unit", f"unknown unit code {unit} in scheme {ctx.code}")
            ok = False
        if not has_indicator(p, ctx, indicator):
            p.error(row, "indicator", f"unknown indicator code {indicator} in scheme {ctx.code}")
            ok = False
        if ok:
            yield ctx, row, unit, indicator


def target_record(t: Target, state: SchemeState) -> Record:
    return {"annual_value": t.annual_value, "schedule": t.schedule_kind,
            "milestones": {k: Decimal(str(v)) for k, v in (t.milestones or {}).items()},
            "lead_unit": state.unit_code(t.lead_unit_id),
            "co_units": tuple(sorted((state.unit_code(c.unit_id), c.share) for c in t.co_units)),
            "locked": t.locked}


def _schedule(p: Planning, ctx: SchemeCtx, row: Row) -> tuple[str, dict[str, str]] | None:
    text = row.text("milestones")
    schedule = row.text("schedule") or ("milestones" if text else "pro_rata")
    if schedule == "pro_rata":
        if text:
            p.error(row, "milestones", "milestones given but the schedule is pro_rata")
            return None
        return schedule, {}
    if not text:
        p.error(row, "milestones", "schedule milestones needs milestones, e.g. 03=20;06=45;12=100")
        return None
    if ctx.year is None:
        return None
    try:
        return schedule, parse_milestones(text, ctx.year, limits_for("targets", "annual_value"))
    except CellError as exc:
        p.error(row, "milestones", str(exc))
        return None


def _co_units(p: Planning, ctx: SchemeCtx, row: Row, unit: str) -> tuple[tuple[str, Decimal], ...] | None:
    text = row.text("co_units")
    if not text:
        return ()
    try:
        co_units = parse_co_units(text)
    except CellError as exc:
        p.error(row, "co_units", str(exc))
        return None
    ok = True
    for code, _share in co_units:
        if code == unit:
            p.error(row, "co_units", f"unit {unit} cannot be a co-unit of its own target")
            ok = False
        elif not has_unit(p, ctx, code):
            p.error(row, "co_units", f"unknown co-unit code {code} in scheme {ctx.code}")
            ok = False
    return tuple(sorted(co_units)) if ok else None


def check_targets(p: Planning, rows: list[Row]) -> None:
    for ctx, row, unit, indicator in _unit_indicator_rows(p, rows):
        if not p.claim(row, (ctx.code, unit, indicator), "indicator",
                       f"target {unit} × {indicator} in scheme {ctx.code}"):
            continue
        schedule = _schedule(p, ctx, row)
        lead = row.text("lead_unit") or unit
        if row.text("lead_unit") and not has_unit(p, ctx, lead):
            p.error(row, "lead_unit", f"unknown lead unit code {lead} in scheme {ctx.code}")
            continue
        co_units = _co_units(p, ctx, row, unit)
        if schedule is None or co_units is None or row.bad:
            continue
        record: Record = {
            "unit": unit, "indicator": indicator, "annual_value": row.dec("annual_value"),
            "schedule": schedule[0], "milestones": schedule[1], "lead_unit": lead,
            "co_units": co_units, "locked": row.flag("locked")}
        existing = ctx.state.targets.get((unit, indicator)) if ctx.state else None
        if existing is None or ctx.state is None:
            p.add(ctx, row, "create", {**record, "locked": bool(record["locked"])})
            continue
        old = target_record(existing, ctx.state)
        if record["locked"] is None:
            record["locked"] = old["locked"]
        comparable = {**record, "milestones": {k: Decimal(v) for k, v in schedule[1].items()}}
        diff = [k for k in TARGET_FIELDS if old[k] != comparable[k]]
        if diff and p.frozen(row, diff[0], target_change_problem, ctx.state.scheme, unit, indicator):
            continue
        if existing.locked and diff:
            column = diff[0]
            if column == "locked":
                p.error(row, "locked", f"target {unit} × {indicator} is locked and cannot be unlocked "
                        "by import; use a target adjustment")
            else:
                p.error(row, column, f"target {unit} × {indicator} is locked: {column} would change "
                        f"from {_show(old[column])} to {_show(comparable[column])}; a locked target "
                        "changes only through an approved target adjustment")
            continue
        replaced = tuple(f"target {unit} × {indicator} {k}: {_show(old[k])} → {_show(comparable[k])}"
                         for k in diff)
        p.add(ctx, row, "update" if diff else "unchanged", record, replaced)


def _show(value: object) -> str:
    if isinstance(value, dict):
        return ";".join(f"{k[5:]}={dec_str(v)}" for k, v in value.items()) or "(none)"
    if isinstance(value, tuple):
        return ";".join(f"{c}:{dec_str(s)}" for c, s in value) or "(none)"
    return show_value(value)


def _has_target(p: Planning, ctx: SchemeCtx, unit: str, indicator: str) -> bool:
    return p.in_file("targets", (ctx.code, unit, indicator)) or (
        ctx.state is not None and (unit, indicator) in ctx.state.targets)


def _verification(p: Planning, row: Row, value_col: str, stored_value: Decimal | None,
                  stored_by: str | None, what: str) -> Action | None:
    """Adding the office's verification is the one change a re-import may make to a fact."""
    value, by = row.dec(value_col), row.text("verified_by")
    if value is None:
        return "unchanged"
    if stored_value is None:
        return "update"
    if stored_value == value and stored_by == by:
        return "unchanged"
    p.error(row, value_col, f"{what} is already verified as {dec_str(stored_value)} by {stored_by}; "
            "a verification is changed through the verification workflow, not a re-import")
    return None


def _needs_verifier(p: Planning, row: Row, value_col: str) -> bool:
    if row.values.get(value_col) is not None and row.text("verified_by") is None:
        p.error(row, "verified_by", f"{value_col} needs verified_by (核定人): who verified it")
        return False
    if row.values.get(value_col) is None and row.text("verified_by") is not None:
        p.error(row, value_col, f"verified_by is given without {value_col}")
        return False
    return True


def check_progress(p: Planning, rows: list[Row]) -> None:
    for ctx, row, unit, indicator in _unit_indicator_rows(p, rows):
        if not _has_target(p, ctx, unit, indicator):
            p.error(row, "indicator", f"no target for unit {unit} × indicator {indicator} in scheme "
                    f"{ctx.code}: progress can be reported only against a target")
            continue
        period_text = row.text("period")
        if period_text is None or ctx.year is None:
            continue
        try:
            period = parse_period(period_text, ctx.year)
        except CellError as exc:
            p.error(row, "period", str(exc))
            continue
        source = row.text("source") or unit
        if not p.claim(row, (ctx.code, unit, indicator, period, source), "period",
                       f"progress report {unit} × {indicator} {period} from {source}"):
            continue
        if not _needs_verifier(p, row, "verified_value") or row.bad:
            continue
        record: Record = {"unit": unit, "indicator": indicator, "period": period, "source": source,
                          **{k: row.values.get(k) for k in ("value", "submitted_at", "evidence",
                                                            "verified_value", "verified_by")}}
        existing = ctx.state.reports.get((unit, indicator, period, source)) if ctx.state else None
        action: Action | None = "create"
        if existing is not None:
            action = _report_action(p, row, existing, f"progress report {unit} × {indicator} {period} "
                                    f"from {source}")
        if action is None or (action != "unchanged" and ctx.state is not None and p.frozen(
                row, "period", report_problem, ctx.state.scheme, unit, indicator, period)):
            continue
        p.add(ctx, row, action, record)


def _report_action(p: Planning, row: Row, old: ProgressReport, what: str) -> Action | None:
    stored = {"value": old.reported_value, "submitted_at": old.submitted_at, "evidence": old.evidence_ref}
    for column, stored_value in stored.items():
        given = row.values.get(column)
        if column != "value" and given is None:
            continue  # an empty optional cell states nothing
        if given != stored_value:
            p.error(row, column, f"{what} already exists with {column} {show_value(stored_value)}, not "
                    f"{show_value(given)}: a correction goes through verification, not a re-import")
            return None
    return _verification(p, row, "verified_value", old.verified_value, old.verified_by, what)


EVENT_FIELDS = ("unit", "kind", "type", "level", "title", "awarding_body", "document_no",
                "document_date", "occurred_on", "work_year", "dedupe_key", "quantity", "indicator",
                "evidence")
EVENT_VERIFICATION = ("verified_quantity", "verified_by", "verification_note")


def event_record(e: Event, state: SchemeState) -> Record:
    indicator = next((c for c, i in state.indicators.items() if i.id == e.indicator_id), None)
    return {"unit": state.unit_code(e.unit_id), "kind": e.kind, "type": e.event_type,
            "level": e.level, "title": e.title, "awarding_body": e.awarding_body,
            "document_no": e.document_no, "document_date": e.document_date,
            "occurred_on": e.occurred_on, "work_year": e.work_year, "dedupe_key": e.dedupe_key,
            "quantity": e.quantity, "indicator": indicator if e.indicator_id else None,
            "evidence": e.evidence_ref}


def check_events(p: Planning, rows: list[Row]) -> None:
    for ctx, row, code in p.coded_rows(rows, "event"):
        unit, indicator = row.text("unit"), row.text("indicator")
        ok = True
        if unit is not None and not has_unit(p, ctx, unit):
            p.error(row, "unit", f"unknown unit code {unit} in scheme {ctx.code}")
            ok = False
        if indicator is not None and not has_indicator(p, ctx, indicator):
            p.error(row, "indicator", f"unknown indicator code {indicator} in scheme {ctx.code}")
            ok = False
        year = row.integer("work_year")
        if year is not None and not 2000 <= year <= 2100:
            p.error(row, "work_year", f"work_year must be between 2000 and 2100, got {year}")
            ok = False
        for column in ("quantity", "verified_quantity"):
            q = row.dec(column)
            if q is not None and q < 0:
                p.error(row, column, f"{column} must not be negative, got {dec_str(q)}")
                ok = False
        if not _needs_verifier(p, row, "verified_quantity") or not ok or row.bad:
            continue
        record: Record = {"code": code, **{k: row.values.get(k) for k in EVENT_FIELDS},
                          **{k: row.values.get(k) for k in EVENT_VERIFICATION}}
        existing = ctx.state.events.get(code) if ctx.state else None
        action: Action | None = "create"
        if existing is not None and ctx.state is not None:
            old = event_record(existing, ctx.state)
            diff = [k for k in EVENT_FIELDS if old[k] != record[k]]
            if diff:
                p.error(row, diff[0], f"event {code} already exists with {diff[0]} "
                        f"{show_value(old[diff[0]])}, not {show_value(record[diff[0]])}: an event is "
                        "corrected through verification, not a re-import")
                continue
            action = _verification(p, row, "verified_quantity", existing.verified_quantity,
                                   existing.verified_by, f"event {code}")
        due = row.values.get("document_date") or row.values.get("occurred_on")
        if action is None or (action != "unchanged" and ctx.state is not None
                              and p.frozen(row, "code", event_problem, ctx.state.scheme, code, due)):
            continue
        p.add(ctx, row, action, record)
