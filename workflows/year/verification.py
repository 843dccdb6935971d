"""核减 / 核准认定: the office verifies a reported value or a claimed project, with a reason.

The score uses what is verified, so each verification is kept: a later one supersedes the
earlier (``verification`` rows numbered per subject, the highest in force) and the value in force
is copied onto the report or event, where the engine reads it. A project claim is only ever cut
(0 ≤ verified ≤ claimed); a report's value may be corrected either way (the statistics bureau is
authoritative). Nothing in a sealed scheme is verified again.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import audit
from store import Event, ProgressReport, Scheme, Verification
from workflows.cases.duties import member_problem, require, resolve_actor, role_problem
from workflows.cases.review import utcnow
from workflows.errors import Conflict, Invalid, NotFound
from workflows.freeze import refuse_sealed
from workflows.year.common import decimal_value, find_target, required_text, target_label


def _plain(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _record(
    session: Session,
    label: str,
    subject_type: str,
    subject_id: int,
    *,
    value: Decimal,
    claimed: Decimal | None,
    previous: Decimal | None,
    reason: str,
    actor: str,
    now: dt.datetime | None,
    facts: dict[str, Any],
) -> Verification:
    """The audit event and the next numbered verification of one subject (same transaction).

    Two verifications of the same subject at once cannot both take the next number: the second
    insert fails on the unique (subject, seq) and becomes a Conflict.
    """
    column = Verification.progress_report_id if subject_type == "progress_report" else Verification.event_id
    latest = session.scalars(
        select(Verification).where(column == subject_id).order_by(Verification.seq.desc()).limit(1)
    ).one_or_none()
    seq, supersedes = (1, None) if latest is None else (latest.seq + 1, latest.id)
    event = audit.record(
        session,
        actor=actor,
        action=f"verification.{subject_type}",
        subject_type=subject_type,
        subject_id=subject_id,
        payload={
            **facts,
            "claimed": _plain(claimed),
            "previous": _plain(previous),
            "value": _plain(value),
            "reason": reason,
            "seq": seq,
            "supersedes": supersedes,
        },
    )
    row = Verification(
        seq=seq,
        value=value,
        claimed_value=claimed,
        previous_value=previous,
        reason=reason,
        verified_by=actor,
        verified_at=utcnow(now),
        supersedes_id=supersedes,
        audit_seq=event.seq,
        **{"progress_report_id" if subject_type == "progress_report" else "event_id": subject_id},
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"{label} was verified by someone else at the same time: reload and try again"
        ) from exc
    return row


def _check_actor(session: Session, actor: str, unit_id: int, unit_code: str) -> str:
    who = resolve_actor(session, actor)
    require(role_problem(who, "verification.set"))
    require(member_problem(who, unit_id, unit_code))
    return who.name


def verify_report(
    session: Session,
    unit_code: str,
    indicator_code: str,
    period: str,
    *,
    value: Decimal,
    reason: str,
    actor: str,
    source: str | None = None,
    scheme_code: str | None = None,
    now: dt.datetime | None = None,
) -> Verification:
    """Set the verified value of a unit's report for ``period`` (the only report, or ``source``'s)."""
    target = find_target(session, unit_code, indicator_code, scheme_code)
    query = select(ProgressReport).where(
        ProgressReport.target_id == target.id, ProgressReport.period == period
    )
    if source is not None:
        query = query.where(ProgressReport.source == source)
    reports = list(session.scalars(query.order_by(ProgressReport.source)))
    label = f"the {period} report of {target_label(target)}"
    if not reports:
        raise NotFound(
            f"no {period} report of target {target_label(target)}" + (f" from {source}" if source else "")
        )
    if len(reports) > 1:
        raise Invalid(f"{label} has reports from {', '.join(r.source for r in reports)}: name the source")
    report = reports[0]
    name = _check_actor(session, actor, target.unit_id, target.unit.code)
    refuse_sealed(target.scheme, label)
    text = required_text(reason, "a verification's reason")
    value = decimal_value(value, f"{label}: the verified value")
    row = _record(
        session,
        label,
        "progress_report",
        report.id,
        value=value,
        claimed=report.reported_value,
        previous=report.verified_value,
        reason=text,
        actor=name,
        now=now,
        facts={
            "unit": target.unit.code,
            "indicator": target.indicator.code,
            "period": period,
            "source": report.source,
        },
    )
    report.verified_value, report.verified_by = value, name
    report.verified_at, report.verification_note = row.verified_at, text
    session.flush()
    return row


def verify_event(
    session: Session,
    code: str,
    *,
    quantity: Decimal,
    reason: str,
    actor: str,
    scheme_code: str | None = None,
    now: dt.datetime | None = None,
) -> Verification:
    """Set the verified quantity of a project claim: what qualifies, never more than was claimed."""
    query = select(Event).where(Event.code == code)
    if scheme_code is not None:
        query = query.join(Scheme, Event.scheme_id == Scheme.id).where(Scheme.code == scheme_code)
    events = list(session.scalars(query))
    if not events:
        raise NotFound(f"no event {code}" + (f" in scheme {scheme_code}" if scheme_code else ""))
    if len(events) > 1:
        raise Invalid(
            f"event {code} exists in schemes {', '.join(sorted(e.scheme.code for e in events))}: "
            "name the scheme"
        )
    ev = events[0]
    label = f"event {code}"
    if ev.kind != "project_claim":
        raise Invalid(f"{label} is a {ev.kind}, not a project claim: only claimed projects are verified")
    name = _check_actor(session, actor, ev.unit_id, ev.unit.code)
    refuse_sealed(ev.scheme, label)
    text = required_text(reason, "a verification's reason")
    claimed = ev.quantity
    quantity = decimal_value(quantity, f"{label}: the verified quantity")
    if quantity < 0 or (claimed is not None and quantity > claimed):
        raise Invalid(
            f"{label}: a verified quantity must be between 0 and the claimed {_plain(claimed)}, "
            f"not {quantity}: verification cuts a claim, it never raises it"
        )
    row = _record(
        session,
        label,
        "event",
        ev.id,
        value=quantity,
        claimed=claimed,
        previous=ev.verified_quantity,
        reason=text,
        actor=name,
        now=now,
        facts={"code": code, "unit": ev.unit.code},
    )
    ev.verified_quantity, ev.verified_by, ev.verified_at, ev.verification_note = (
        quantity,
        name,
        row.verified_at,
        text,
    )
    session.flush()
    return row


def verification_history(
    session: Session, *, report_id: int | None = None, event_id: int | None = None
) -> list[Verification]:
    """Every verification of one report or event, oldest first (the last is in force)."""
    if (report_id is None) == (event_id is None):
        raise ValueError("give exactly one of report_id and event_id")
    column = Verification.progress_report_id if report_id is not None else Verification.event_id
    return list(
        session.scalars(
            select(Verification).where(column == (report_id or event_id)).order_by(Verification.seq)
        )
    )
