"""目标调整: mid-year requests to change a target, approved by four eyes before the cut-off.

A target is never removed (从一而终): there is no remove action, and a request that would leave
a target with nothing to achieve (no value at all, a zero target on an indicator where more is
better, an empty milestone schedule) is refused. Requests close at the end of the scheme's
``adjustment_cutoff_date`` in China time (UTC+8, the office's calendar day). An approved request
changes the target through its version column, so a concurrent change loses with a Conflict, and
the target's old and new values go into the audit ledger.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from store import Target, TargetAdjustment, TargetAdjustmentEvent
from workflows.cases.duties import (
    Actor,
    involvement_problem,
    member_problem,
    require,
    resolve_actor,
    role_problem,
)
from workflows.cases.review import flush_or_conflict, utcnow
from workflows.errors import Conflict, Forbidden, Invalid, NotFound
from workflows.freeze import OFFICE_TZ, months_read_by, refuse_sealed
from workflows.year.common import (
    decimal_value,
    find_target,
    optional_text,
    record_transition,
    required_text,
    target_label,
)
from workflows.year.machines import ADJUSTMENT

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def cutoff_problem(target: Target, at: dt.datetime) -> str | None:
    """Why a request at ``at`` is too late, naming the cut-off and today; None while allowed."""
    scheme = target.scheme
    cutoff = scheme.adjustment_cutoff_date
    local = at.astimezone(OFFICE_TZ)
    if cutoff is None or local.date() <= cutoff:
        return None
    return (
        f"target adjustments of scheme {scheme.code} closed at the end of {cutoff.isoformat()} "
        f"(its adjustment cut-off, UTC+8); today is {local.date().isoformat()} "
        f"({local.strftime('%Y-%m-%d %H:%M')} UTC+8): target {target_label(target)} keeps its value"
    )


def refuse_published_months(session: Session, target: Target, months: list[str], what: str) -> None:
    """A published run read the target at these months: its results keep the target they read."""
    found = months_read_by(session, target.scheme_id, months)
    if found is not None:
        month, run = found
        raise Conflict(
            f"target {target_label(target)}: {what} changes {month}, which {run.text()} read: the published "
            "results keep the target they were computed from; request a change of later months only, or "
            f"file an appeal (申诉) against run {run.run_id}"
        )


def _months(values: Sequence[str], year: int, what: str) -> list[str]:
    out = []
    for month in values:
        m = MONTH.match(str(month).strip())
        if m is None or int(m.group(1)) != year:
            raise Invalid(f"{what}: {month!r} is not a month (YYYY-MM) of {year}")
        out.append(m.group(0))
    return sorted(set(out))


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _check_not_removed(target: Target, value: Decimal | None, milestones: Mapping[str, Any] | None) -> None:
    label = target_label(target)
    if value is None and milestones is None:
        raise Invalid(
            f"target {label}: a request must give a new annual value or milestones — "
            "a target can never be removed (从一而终)"
        )
    if milestones is not None and not milestones:
        raise Invalid(
            f"target {label}: an empty milestone schedule would remove the target's schedule — "
            "a target can never be removed (从一而终)"
        )
    if value is not None and target.indicator.direction == "higher" and value <= 0:
        raise Invalid(
            f"target {label}: an annual value of {_plain(value)} on an indicator where more is "
            "better would drop the target — a target can never be removed (从一而终)"
        )


def _normalized_milestones(target: Target, milestones: Mapping[str, Any]) -> dict[str, str]:
    year = target.scheme.year
    months = _months(list(milestones), year, f"target {target_label(target)} milestones")
    by_month = {str(k).strip(): v for k, v in milestones.items()}
    return {m: _plain(decimal_value(by_month[m], f"milestone {m}")) for m in months}


def _consistent(target: Target, value: Decimal, milestones: Mapping[str, str]) -> None:
    """The year-end milestone is the annual value; a request may not make them disagree."""
    year_end = f"{target.scheme.year}-12"
    if year_end in milestones and Decimal(milestones[year_end]) != value:
        raise Invalid(
            f"target {target_label(target)}: the {year_end} milestone {milestones[year_end]} would "
            f"differ from the annual value {_plain(value)}: change both together"
        )


def request_adjustment(
    session: Session,
    unit_code: str,
    indicator_code: str,
    *,
    actor: str,
    reason: str,
    annual_value: Decimal | None = None,
    milestones: Mapping[str, Any] | None = None,
    periods: Sequence[str] | None = None,
    evidence_ref: str | None = None,
    scheme_code: str | None = None,
    now: dt.datetime | None = None,
) -> TargetAdjustment:
    """A unit's reporter or the office asks to change a target's annual value and/or milestones.

    ``periods`` are the months the change affects (default: the months whose milestone changes,
    and the year end when the annual value does).
    """
    who = resolve_actor(session, actor)
    target = find_target(session, unit_code, indicator_code, scheme_code)
    _may_request(who, target)
    at = utcnow(now)
    refuse_sealed(target.scheme, f"target {target_label(target)}")
    if (late := cutoff_problem(target, at)) is not None:
        raise Conflict(late)
    text = required_text(reason, "a target adjustment's reason")
    value = (
        None
        if annual_value is None
        else decimal_value(annual_value, f"target {target_label(target)} annual value")
    )
    _check_not_removed(target, value, milestones)
    new_ms = None if milestones is None else _normalized_milestones(target, milestones)
    old_ms = {k: str(v) for k, v in (target.milestones or {}).items()}
    _consistent(target, target.annual_value if value is None else value, old_ms if new_ms is None else new_ms)
    if (value is None or value == target.annual_value) and (new_ms is None or new_ms == old_ms):
        raise Invalid(
            f"target {target_label(target)}: the request changes nothing (annual value "
            f"{_plain(target.annual_value)}, milestones {old_ms or 'none'})"
        )
    year = target.scheme.year
    if periods:
        affected = _months(periods, year, "periods affected")
    else:
        changed = {
            m for m in {*(new_ms or {}), *old_ms} if new_ms is not None and new_ms.get(m) != old_ms.get(m)
        }
        affected = sorted(changed | ({f"{year}-12"} if value is not None else set()))
    refuse_published_months(session, target, affected, "the request")
    adjustment = TargetAdjustment(
        target=target,
        state=ADJUSTMENT.initial,
        base_version=target.version,
        new_annual_value=value,
        new_milestones=new_ms,
        periods=affected,
        reason=text,
        evidence_ref=optional_text(evidence_ref),
        requested_by=who.name,
        requested_at=at,
    )
    session.add(adjustment)
    session.flush()
    _record(session, adjustment, "request", None, actor=who.name, reason=text, at=at)
    return adjustment


def _may_request(who: Actor, target: Target) -> None:
    """The office, or a reporter of the unit itself (a reporter asks only for their own unit)."""
    if not who.has_account or "office" in who.roles:
        return
    if "reporter" in who.roles and target.unit_id in who.unit_ids:
        return
    raise Forbidden(
        f"{who.name} may not request an adjustment of target {target_label(target)}: "
        "it needs the office role, or the reporter role for that unit"
    )


def _payload(adjustment: TargetAdjustment, **extra: Any) -> dict[str, Any]:
    target = adjustment.target
    return {
        "target": target.id,
        "unit": target.unit.code,
        "indicator": target.indicator.code,
        "state": adjustment.state,
        "version": adjustment.version,
        "base_version": adjustment.base_version,
        "new_annual_value": None if adjustment.new_annual_value is None else str(adjustment.new_annual_value),
        "new_milestones": adjustment.new_milestones,
        "periods": adjustment.periods,
        "evidence_ref": adjustment.evidence_ref,
        **{k: v for k, v in extra.items() if v is not None},
    }


def _record(
    session: Session,
    adjustment: TargetAdjustment,
    action: str,
    from_state: str | None,
    *,
    actor: str,
    reason: str | None,
    at: dt.datetime,
    **extra: Any,
) -> None:
    record_transition(
        session,
        TargetAdjustmentEvent,
        subject_type="target_adjustment",
        subject_id=adjustment.id,
        action=f"adjustment.{action}",
        from_state=from_state,
        to_state=adjustment.state,
        actor=actor,
        reason=reason,
        at=at,
        payload=_payload(adjustment, from_state=from_state, reason=reason, **extra),
        columns={"adjustment_id": adjustment.id},
    )


def get_adjustment(session: Session, adjustment_id: int) -> TargetAdjustment:
    adjustment = session.get(TargetAdjustment, adjustment_id)
    if adjustment is None:
        raise NotFound(f"no target adjustment {adjustment_id}")
    return adjustment


def _decide(
    session: Session,
    adjustment_id: int,
    action: str,
    *,
    actor: str,
    reason: str | None,
    now: dt.datetime | None,
) -> TargetAdjustment:
    who = resolve_actor(session, actor)
    adjustment = get_adjustment(session, adjustment_id)
    target = adjustment.target
    before = adjustment.state
    after = ADJUSTMENT.next_state(adjustment.id, before, action)
    require(role_problem(who, f"adjustment.{action}"))
    require(
        involvement_problem(who, [("requester", adjustment.requested_by)])
        or member_problem(who, target.unit_id, target.unit.code)
    )
    refuse_sealed(target.scheme, f"target {target_label(target)}")
    if action == "approve":
        refuse_published_months(session, target, list(adjustment.periods), f"adjustment {adjustment.id}")
    at = utcnow(now)
    adjustment.state, adjustment.decided_by, adjustment.decided_at = after, who.name, at
    adjustment.decision_reason = reason
    changes: dict[str, Any] = {}
    if action == "approve":
        changes = _apply(adjustment, target)
    flush_or_conflict(session, f"target adjustment {adjustment.id} (target {target_label(target)})")
    if changes:
        changes["new"]["version"] = target.version
    _record(session, adjustment, action, before, actor=who.name, reason=reason, at=at, **changes)
    if changes:
        audit.record(
            session,
            actor=who.name,
            action="target.adjust",
            subject_type="target",
            subject_id=target.id,
            payload={
                "adjustment": adjustment.id,
                "unit": target.unit.code,
                "indicator": target.indicator.code,
                **changes,
            },
        )
    return adjustment


def _apply(adjustment: TargetAdjustment, target: Target) -> dict[str, Any]:
    """Change the target as approved; refused if the target moved since the request was made."""
    if target.version != adjustment.base_version:
        raise Conflict(
            f"target {target_label(target)} changed since adjustment {adjustment.id} was requested "
            f"(version {adjustment.base_version} → {target.version}): reject it and request again"
        )
    old_milestones: dict[str, Any] = dict(target.milestones or {})
    old = {
        "annual_value": _plain(target.annual_value),
        "schedule_kind": target.schedule_kind,
        "milestones": old_milestones,
        "version": target.version,
    }
    adjustment.old_annual_value, adjustment.old_milestones = target.annual_value, old_milestones
    if adjustment.new_annual_value is not None:
        target.annual_value = adjustment.new_annual_value
    if adjustment.new_milestones is not None:
        target.milestones = dict(adjustment.new_milestones)  # a new object: JSON columns track assignment
        target.schedule_kind = "milestones"
    new = {
        "annual_value": _plain(target.annual_value),
        "schedule_kind": target.schedule_kind,
        "milestones": dict(target.milestones or {}),
    }
    return {"old": old, "new": new}


def approve_adjustment(
    session: Session,
    adjustment_id: int,
    *,
    actor: str,
    reason: str | None = None,
    now: dt.datetime | None = None,
) -> TargetAdjustment:
    """The office approves (not the requester, nor anyone of the unit): the target changes now."""
    return _decide(session, adjustment_id, "approve", actor=actor, reason=optional_text(reason), now=now)


def reject_adjustment(
    session: Session, adjustment_id: int, *, actor: str, reason: str, now: dt.datetime | None = None
) -> TargetAdjustment:
    """The office rejects with a reason; the target keeps its value."""
    text = required_text(reason, "a rejection's reason")
    return _decide(session, adjustment_id, "reject", actor=actor, reason=text, now=now)


def list_adjustments(session: Session, *, state: str | None = None) -> list[TargetAdjustment]:
    query = select(TargetAdjustment).order_by(TargetAdjustment.id)
    if state is not None:
        query = query.where(TargetAdjustment.state == state)
    return list(session.scalars(query))


def adjustment_history(session: Session, adjustment_id: int) -> list[TargetAdjustmentEvent]:
    get_adjustment(session, adjustment_id)
    return list(
        session.scalars(
            select(TargetAdjustmentEvent)
            .where(TargetAdjustmentEvent.adjustment_id == adjustment_id)
            .order_by(TargetAdjustmentEvent.audit_seq)
        )
    )


def adjustment_json(adjustment: TargetAdjustment) -> dict[str, Any]:
    return {
        "id": adjustment.id,
        **_payload(adjustment),
        "reason": adjustment.reason,
        "requested_by": adjustment.requested_by,
        "decided_by": adjustment.decided_by,
        "decision_reason": adjustment.decision_reason,
    }
