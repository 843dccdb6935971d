"""Progress reports (进度报送) one at a time, as a reporter's form or a statistics bureau's API call.

A report is the cumulative value of one target at one month from one source. Sending the same
(target, month, source) again replaces the value while the office has not verified it — the answer
and the ledger say old → new —; a verified report is refused (the office's verification stands).
A report a published run read, one after the scheme's cut-off, or one of a sealed scheme is
refused (``workflows.freeze``). Audited in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from store import ProgressReport, Target, Unit
from workflows.errors import Conflict, Invalid, NotFound
from workflows.freeze import now_or, report_problem

PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
MAX_VALUE = Decimal("1e13")


@dataclass(frozen=True)
class Submitted:
    report: ProgressReport
    created: bool
    previous: Decimal | None = None  # the value it replaced (None for a new report)


def parse_value(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise Invalid(f"value {text!r} is not a number") from None
    return check_value(value)


def check_value(value: Decimal) -> Decimal:
    if not value.is_finite() or abs(value) >= MAX_VALUE:
        raise Invalid(f"value {value} is out of range")
    if value != value.quantize(Decimal("0.0001")):
        raise Invalid(f"value {value} has more than 4 decimal places")
    return value


def targets_of_units(session: Session, unit_ids: set[int] | None) -> list[Target]:
    """Targets of the given units (all when None), by unit and indicator code."""
    query = select(Target).join(Unit, Unit.id == Target.unit_id)
    if unit_ids is not None:
        query = query.where(Target.unit_id.in_(unit_ids or {-1}))
    rows = list(session.scalars(query))
    rows.sort(key=lambda t: (t.unit.code, t.indicator.code))
    return rows


def get_target(session: Session, target_id: int) -> Target:
    target = session.get(Target, target_id)
    if target is None:
        raise NotFound(f"no target {target_id}")
    return target


def submit_report(
    session: Session,
    target: Target,
    period: str,
    value: Decimal,
    *,
    source: str,
    actor: str,
    evidence_ref: str | None = None,
    now: dt.datetime | None = None,
) -> Submitted:
    match = PERIOD.match(period)
    if match is None:
        raise Invalid(f"period {period!r} is not a month YYYY-MM")
    if int(match.group(1)) != target.scheme.year:
        raise Invalid(f"period {period} is outside the scheme's year {target.scheme.year}")
    value = check_value(value)
    if not source.strip():
        raise Invalid("a report needs its source")
    evidence = (evidence_ref or "").strip() or None
    if evidence is not None and len(evidence) > 500:
        raise Invalid("the evidence reference is longer than 500 characters")
    existing = session.scalars(
        select(ProgressReport).where(ProgressReport.target_id == target.id,
                                     ProgressReport.period == period,
                                     ProgressReport.source == source)
    ).one_or_none()
    now = now_or(now)
    report_problem(session, target.scheme, target.unit.code, target.indicator.code, period, now)
    before: Decimal | None = None
    if existing is not None:
        if existing.verified_value is not None:
            raise Conflict(f"the {period} report of target {target.id} from {source} is verified by "
                           f"{existing.verified_by}: it can no longer be replaced")
        before = existing.reported_value
        existing.reported_value = value
        existing.submitted_at = now
        existing.evidence_ref = evidence
        report, created = existing, False
    else:
        report = ProgressReport(target_id=target.id, period=period, reported_value=value, source=source,
                                submitted_at=now, evidence_ref=evidence)
        session.add(report)
        created = True
    session.flush()
    audit.record(session, actor=actor, action="progress.report", subject_type="progress_report",
                 subject_id=report.id,
                 payload={"target": target.id, "unit": target.unit.code, "indicator": target.indicator.code,
                          "period": period, "value": value, "previous": before, "source": source,
                          "evidence": evidence})
    return Submitted(report, created, before)
