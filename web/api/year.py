"""The API of the year's other cases: target adjustment requests (目标调整), verification by the
office (核减/核准认定) and supervision notices (提醒函 → 督办单 → 挂牌督办).

A reporter requests adjustments for its own units and answers its units' notices; the office
approves or rejects a request (never its requester), verifies reports and project claims, and
closes or escalates notices. Transitions take ``If-Match`` (the version read: 428 without it,
412 if stale) and an ``Idempotency-Key``, like the deduction cases.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from sqlalchemy import select

from store import Event, ProgressReport, Scheme, Target, Unit
from store.models.year import SupervisionNotice, TargetAdjustment, Verification
from web.api.common import (
    DecisionIn,
    RejectIn,
    Reply,
    action,
    answer_once,
    by_state_and_unit,
    listing,
    of_unit_code,
    paginate,
    plain_body,
    reading,
    scope_filter,
    tagged,
    transition,
    transition_once,
    where_given,
    with_history,
    within,
)
from web.extensions import db
from web.security.policy import current, require_report_scope, require_unit
from web.transitions import plain_number
from workflows.errors import Invalid, NotFound
from workflows.year.adjustments import (
    adjustment_history,
    adjustment_json,
    approve_adjustment,
    get_adjustment,
    reject_adjustment,
    request_adjustment,
)
from workflows.year.machines import ADJUSTMENT, NOTICE
from workflows.year.notices import (
    close_notice,
    escalate_notice,
    get_notice,
    notice_history,
    notice_json,
    raise_notices,
    respond_notice,
)
from workflows.year.verification import verification_history, verify_event, verify_report

CODE = ma.validate.Length(min=1, max=40)
REASON = ma.validate.Length(min=1, max=2000)
BIG = 10**12


def amount_field(*, required: bool = False) -> ma.fields.Decimal:
    return ma.fields.Decimal(places=None, allow_nan=False, required=required, validate=within(BIG),
                             metadata={"minimum": -BIG, "maximum": BIG})


# --- schemas -----------------------------------------------------------------------------------


class YearEventOut(ma.Schema):
    action = ma.fields.String()
    from_state = ma.fields.String(allow_none=True)
    to_state = ma.fields.String()
    actor = ma.fields.String()
    reason = ma.fields.String(allow_none=True)
    at = ma.fields.String()
    audit_seq = ma.fields.Integer()


class AdjustmentOut(ma.Schema):
    id = ma.fields.Integer()
    target = ma.fields.Integer()
    unit = ma.fields.String()
    indicator = ma.fields.String()
    state = ma.fields.String()
    version = ma.fields.Integer()
    base_version = ma.fields.Integer()
    new_annual_value = ma.fields.String(allow_none=True)
    new_milestones = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String(), allow_none=True)
    periods = ma.fields.List(ma.fields.String())
    evidence_ref = ma.fields.String(allow_none=True)
    reason = ma.fields.String()
    requested_by = ma.fields.String()
    decided_by = ma.fields.String(allow_none=True)
    decision_reason = ma.fields.String(allow_none=True)


AdjustmentDetailOut = with_history(AdjustmentOut, YearEventOut, "AdjustmentDetailOut")
AdjustmentQuery = by_state_and_unit(ADJUSTMENT.states, "AdjustmentQuery")


class AdjustmentIn(ma.Schema):
    unit = ma.fields.String(required=True, validate=CODE)
    indicator = ma.fields.String(required=True, validate=CODE)
    scheme = ma.fields.String(validate=CODE)
    reason = ma.fields.String(required=True, validate=REASON)
    annual_value = amount_field()
    milestones = ma.fields.Dict(keys=ma.fields.String(validate=ma.validate.Length(min=1, max=7)),
                                values=amount_field(), metadata={"maxProperties": 12},
                                validate=ma.validate.Length(max=12))
    periods = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=7)),
                             validate=ma.validate.Length(max=12))
    evidence_ref = ma.fields.String(validate=ma.validate.Length(max=300))


class VerificationOut(ma.Schema):
    id = ma.fields.Integer()
    progress_report = ma.fields.Integer(allow_none=True)
    event = ma.fields.Integer(allow_none=True)
    seq = ma.fields.Integer()
    value = ma.fields.String()
    claimed_value = ma.fields.String(allow_none=True)
    previous_value = ma.fields.String(allow_none=True)
    reason = ma.fields.String()
    verified_by = ma.fields.String()
    verified_at = ma.fields.String()
    audit_seq = ma.fields.Integer()


class VerificationList(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(VerificationOut))


class ReportVerificationIn(ma.Schema):
    unit = ma.fields.String(required=True, validate=CODE)
    indicator = ma.fields.String(required=True, validate=CODE)
    period = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=20))
    value = amount_field(required=True)
    reason = ma.fields.String(required=True, validate=REASON)
    source = ma.fields.String(validate=ma.validate.Length(min=1, max=60))
    scheme = ma.fields.String(validate=CODE)


class EventVerificationIn(ma.Schema):
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=60))
    quantity = amount_field(required=True)
    reason = ma.fields.String(required=True, validate=REASON)
    scheme = ma.fields.String(validate=CODE)


class NoticeOut(ma.Schema):
    id = ma.fields.Integer()
    unit = ma.fields.String()
    indicator = ma.fields.String()
    level = ma.fields.String()
    state = ma.fields.String()
    version = ma.fields.Integer()
    due_at = ma.fields.String()
    run = ma.fields.Integer(allow_none=True)
    checkpoint = ma.fields.String(allow_none=True)
    schedule_pct = ma.fields.String(allow_none=True)
    escalated_from = ma.fields.Integer(allow_none=True)
    response = ma.fields.String(allow_none=True)
    responded_by = ma.fields.String(allow_none=True)


NoticeDetailOut = with_history(NoticeOut, YearEventOut, "NoticeDetailOut")
NoticeQuery = by_state_and_unit(NOTICE.states, "NoticeQuery")


class RespondIn(ma.Schema):
    text = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=5000))
    evidence_ref = ma.fields.String(validate=ma.validate.Length(max=300))


class EscalateIn(ma.Schema):
    reason = ma.fields.String(required=True, validate=REASON)
    due_days = ma.fields.Integer(validate=ma.validate.Range(min=1, max=365))


class RaiseIn(ma.Schema):
    due_days = ma.fields.Integer(validate=ma.validate.Range(min=1, max=365))


class RaisedEscalation(ma.Schema):
    from_ = ma.fields.Integer(data_key="from", attribute="from")
    to = ma.fields.Nested(NoticeOut)


class RaisedOut(ma.Schema):
    run = ma.fields.Integer()
    opened = ma.fields.List(ma.fields.Nested(NoticeOut))
    escalated = ma.fields.List(ma.fields.Nested(RaisedEscalation))
    at_top = ma.fields.List(ma.fields.Integer())
    already = ma.fields.Integer()


class EscalatedOut(ma.Schema):
    escalated = ma.fields.Nested(NoticeOut)
    issued = ma.fields.Nested(NoticeOut)


# --- helpers -----------------------------------------------------------------------------------


def events_json(events: list[Any]) -> list[dict[str, Any]]:
    return [{"action": e.action, "from_state": e.from_state, "to_state": e.to_state, "actor": e.actor,
             "reason": e.reason, "at": e.at.isoformat(), "audit_seq": e.audit_seq} for e in events]


def verification_json(v: Verification) -> dict[str, Any]:
    return {"id": v.id, "progress_report": v.progress_report_id, "event": v.event_id, "seq": v.seq,
            "value": plain_number(v.value), "claimed_value": plain_number(v.claimed_value),
            "previous_value": plain_number(v.previous_value), "reason": v.reason,
            "verified_by": v.verified_by, "verified_at": v.verified_at.isoformat(), "audit_seq": v.audit_seq}


def scoped_adjustment(adjustment_id: int) -> TargetAdjustment:
    adjustment = get_adjustment(db.session(), adjustment_id)
    require_unit(adjustment.target.unit_id)
    return adjustment


def scoped_notice(notice_id: int) -> SupervisionNotice:
    notice = get_notice(db.session(), notice_id)
    require_unit(notice.unit_id)
    return notice


def _requested_unit(code: str, scheme_code: str | None) -> Unit:
    """The unit a request names, within its scheme when one is named: a code of another scheme is
    a 404 (no such unit in this scheme), and a code held by several schemes without a scheme is a
    422, both before the scope check (which would otherwise refuse another scheme's namesake)."""
    query = select(Unit).where(Unit.code == code)
    if scheme_code is not None:
        query = query.join(Scheme, Unit.scheme_id == Scheme.id).where(Scheme.code == scheme_code)
    units = list(db.session().scalars(query))
    if not units:
        where = f" in scheme {scheme_code}" if scheme_code is not None else ""
        raise NotFound(f"no unit {code!r}{where}")
    if len(units) > 1:
        schemes = ", ".join(sorted(u.scheme.code for u in units))
        raise Invalid(f"unit {code} is in schemes {schemes}: name the scheme")
    return units[0]


# --- target adjustments ------------------------------------------------------------------------


@listing("/adjustments", AdjustmentOut, "AdjustmentPage", query=AdjustmentQuery)
def list_adjustment_requests(args: dict[str, Any]) -> Any:
    """Target adjustment requests (reporters: their own units'), by state and unit."""
    query = select(TargetAdjustment).join(Target, TargetAdjustment.target_id == Target.id)
    query = where_given(query, args, state=TargetAdjustment.state)
    query = of_unit_code(query, Target.unit_id, args.get("unit"))
    return paginate(db.session(), scope_filter(query, Target.unit_id).order_by(TargetAdjustment.id), args,
                    adjustment_json)


@action("/adjustments", AdjustmentOut, "reporter", "office", body=AdjustmentIn, refusals=(403, 409))
def post_adjustment(body: dict[str, Any]) -> Any:
    """A reporter (for its own units) or the office requests a change of a target's annual value
    and/or milestones, before the scheme's adjustment cut-off (409 after it)."""
    unit = _requested_unit(body["unit"], body.get("scheme"))
    require_report_scope(unit.id)

    def perform() -> dict[str, Any]:
        adjustment = request_adjustment(
            db.session(), body["unit"], body["indicator"], actor=current().username, reason=body["reason"],
            annual_value=body.get("annual_value"), milestones=body.get("milestones"),
            periods=body.get("periods"), evidence_ref=body.get("evidence_ref"),
            scheme_code=unit.scheme.code)
        return adjustment_json(adjustment)

    return answer_once("adjustment.request", plain_body(body), perform, 201, etag=True)


@reading("/adjustments/<int:adjustment_id>", AdjustmentDetailOut, missing=True)
def get_adjustment_request(adjustment_id: int) -> Any:
    """One adjustment request with its history; the ETag is its version."""
    adjustment = scoped_adjustment(adjustment_id)
    history = events_json(adjustment_history(db.session(), adjustment.id))
    return tagged({**adjustment_json(adjustment), "history": history}, adjustment.version)


def _decide_adjustment(adjustment_id: int, action: str, body: dict[str, Any]) -> Reply:
    session = db.session()
    adjustment = scoped_adjustment(adjustment_id)
    actor = current().username

    def act() -> dict[str, Any]:
        if action == "approve":
            approve_adjustment(session, adjustment.id, actor=actor, reason=body.get("reason"))
        else:
            reject_adjustment(session, adjustment.id, actor=actor, reason=body["reason"])
        return adjustment_json(adjustment)

    return transition_once(f"adjustment.{action}", {"adjustment": adjustment_id, **body}, "target adjustment",
                           adjustment, act)


@transition("/adjustments/<int:adjustment_id>/approve", "office", AdjustmentOut, DecisionIn)
def post_approve_adjustment(body: dict[str, Any], adjustment_id: int) -> Any:
    """The office approves (never the requester, nor an account of the unit: 403); the target
    changes now (409 if it moved since the request)."""
    return _decide_adjustment(adjustment_id, "approve", body)


@transition("/adjustments/<int:adjustment_id>/reject", "office", AdjustmentOut, RejectIn)
def post_reject_adjustment(body: dict[str, Any], adjustment_id: int) -> Any:
    """The office rejects with a reason; the target keeps its value."""
    return _decide_adjustment(adjustment_id, "reject", body)


# --- verification ------------------------------------------------------------------------------


@action("/verifications/reports", VerificationOut, "office", body=ReportVerificationIn, refusals=(403, 409))
def post_verify_report(body: dict[str, Any]) -> Any:
    """The office sets the verified value of a unit's progress report for a period."""
    return answer_once("verification.report", plain_body(body), lambda: verification_json(verify_report(
        db.session(), body["unit"], body["indicator"], body["period"], value=body["value"],
        reason=body["reason"], actor=current().username, source=body.get("source"),
        scheme_code=body.get("scheme"))), 201)


@action("/verifications/events", VerificationOut, "office", body=EventVerificationIn, refusals=(403, 409))
def post_verify_event(body: dict[str, Any]) -> Any:
    """The office sets the verified quantity of a project claim (between 0 and the claim)."""
    return answer_once("verification.event", plain_body(body), lambda: verification_json(verify_event(
        db.session(), body["code"], quantity=body["quantity"], reason=body["reason"],
        actor=current().username, scheme_code=body.get("scheme"))), 201)


def _verifications(row: Any, what: str, row_id: int, unit_id: Callable[[Any], int],
                   **which: int) -> dict[str, Any]:
    """Every verification of one report or event (404 when it is missing), oldest first."""
    if row is None:
        raise NotFound(f"no {what} {row_id}")
    require_unit(unit_id(row))
    return {"items": [verification_json(v) for v in verification_history(db.session(), **which)]}


@reading("/progress-reports/<int:report_id>/verifications", VerificationList, missing=True)
def get_report_verifications(report_id: int) -> Any:
    """Every verification of one progress report, oldest first (the last is in force)."""
    report = db.session().get(ProgressReport, report_id)
    return _verifications(report, "progress report", report_id, lambda r: r.target.unit_id,
                          report_id=report_id)


@reading("/events/<int:event_id>/verifications", VerificationList, missing=True)
def get_event_verifications(event_id: int) -> Any:
    """Every verification of one event (a project claim), oldest first."""
    event = db.session().get(Event, event_id)
    return _verifications(event, "event", event_id, lambda e: e.unit_id, event_id=event_id)


# --- supervision notices -----------------------------------------------------------------------


@listing("/notices", NoticeOut, "NoticePage", query=NoticeQuery)
def list_supervision_notices(args: dict[str, Any]) -> Any:
    """Supervision notices (reporters: their own units'), by state and unit."""
    query = where_given(select(SupervisionNotice), args, state=SupervisionNotice.state)
    query = of_unit_code(query, SupervisionNotice.unit_id, args.get("unit"))
    query = scope_filter(query, SupervisionNotice.unit_id).order_by(SupervisionNotice.id)
    return paginate(db.session(), query, args, notice_json)


@action("/runs/<int:run_id>/notices", RaisedOut, "office", body=RaiseIn, refusals=(403, 404))
def post_raise_notices(body: dict[str, Any], run_id: int) -> Any:
    """The office issues notices from a run's schedule warnings (提醒函, 督办单) and escalates open
    ones a later run still warns about; raising from the same run again issues nothing new."""

    def perform() -> dict[str, Any]:
        kwargs = {"due_days": body["due_days"]} if "due_days" in body else {}
        return raise_notices(db.session(), run_id, actor=current().username, **kwargs).as_json()

    return answer_once("notice.raise", {"run": run_id, **body}, perform, 201)


@reading("/notices/<int:notice_id>", NoticeDetailOut, missing=True)
def get_supervision_notice(notice_id: int) -> Any:
    """One notice with its history; the ETag is its version."""
    notice = scoped_notice(notice_id)
    history = events_json(notice_history(db.session(), notice.id))
    return tagged({**notice_json(notice), "history": history}, notice.version)


@transition("/notices/<int:notice_id>/respond", "reporter", NoticeOut, RespondIn)
def post_respond_notice(body: dict[str, Any], notice_id: int) -> Any:
    """The unit's reporter answers its notice (what it does about the lag), with evidence."""
    notice = scoped_notice(notice_id)

    def act() -> dict[str, Any]:
        respond_notice(db.session(), notice.id, actor=current().username, text=body["text"],
                       evidence_ref=body.get("evidence_ref"))
        return notice_json(notice)

    return transition_once("notice.respond", {"notice": notice_id, **body}, "notice", notice, act)


@transition("/notices/<int:notice_id>/close", "office", NoticeOut, DecisionIn)
def post_close_notice(body: dict[str, Any], notice_id: int) -> Any:
    """The office accepts the unit's response and closes the notice (not the responder)."""
    notice = scoped_notice(notice_id)

    def act() -> dict[str, Any]:
        close_notice(db.session(), notice.id, actor=current().username, reason=body.get("reason"))
        return notice_json(notice)

    return transition_once("notice.close", {"notice": notice_id, **body}, "notice", notice, act)


@transition("/notices/<int:notice_id>/escalate", "office", EscalatedOut, EscalateIn)
def post_escalate_notice(body: dict[str, Any], notice_id: int) -> Any:
    """The office escalates: this notice ends as escalated and the next level is issued (409 at
    listed supervision, the top)."""
    notice = scoped_notice(notice_id)

    def act() -> dict[str, Any]:
        kwargs = {"due_days": body["due_days"]} if "due_days" in body else {}
        old, new = escalate_notice(db.session(), notice.id, actor=current().username, reason=body["reason"],
                                   **kwargs)
        return {"escalated": notice_json(old), "issued": notice_json(new)}

    return transition_once("notice.escalate", {"notice": notice_id, **body}, "notice", notice, act,
                           etag=False)
