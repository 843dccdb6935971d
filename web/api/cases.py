"""The API of the deduction workflow: cases and their transitions (one or a batch), publication,
appeals with evidence, the committee's seal.

Transitions state the version the caller read — ``If-Match: "3"`` on one case or appeal, each
item's ``version`` in a batch — and are refused with 412 when it is not current (428 without
``If-Match``). A concurrent change that wins the race answers 409. ``Idempotency-Key`` makes a
repeated request return the first response (``Idempotent-Replayed: true``) instead of acting
twice. A refused batch changes nothing and answers 409 with each case's problem in ``details``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import marshmallow as ma
from flask import abort
from flask_smorest.fields import Upload
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from store import Appeal, AppealFiring, Case, Publication, Run, Unit
from web.api.blueprint import bp
from web.api.common import (
    ApiErrorSchema,
    DecisionIn,
    PageArgs,
    RejectIn,
    Reply,
    action,
    answer_once,
    by_state_and_unit,
    headers_doc,
    listing,
    of_run_unit,
    paginate,
    plain_body,
    reading,
    run_for_reader,
    scope_filter,
    tagged,
    transition,
    transition_once,
    where_given,
    with_history,
    within,
)
from web.extensions import db
from web.files.evidence import save_evidence, send_evidence, stored_evidence
from web.security.policy import allow, current, public, require_report_scope, require_unit
from web.security.visibility import is_published
from web.transitions import appeal_json, case_json, history_json, if_match, refuse_stale, stale_versions
from workflows.cases.appeals import decide_appeal, file_appeal, get_appeal, take_appeal
from workflows.cases.machine import APPEAL, CASE, OUTCOME_ACTIONS
from workflows.cases.publication import publish, seal
from workflows.cases.review import approve_cases, case_history, open_cases, reject_cases, review_cases
from workflows.errors import NotFound


def few(limit: int) -> Any:
    def check(value: Any) -> None:
        if len(value) > limit:
            raise ma.ValidationError(f"at most {limit} entries")

    return check


def points_field(*, allow_none: bool = False) -> ma.fields.Decimal:
    """Points between -1,000,000 and 1,000,000 (checked by a function, so that the OpenAPI document
    states the bounds as numbers, not as the strings a Decimal field would make of them)."""
    return ma.fields.Decimal(places=None, allow_nan=False, allow_none=allow_none, validate=within(10**6),
                             metadata={"minimum": -10**6, "maximum": 10**6})


# --- schemas -----------------------------------------------------------------------------------


class CaseOut(ma.Schema):
    id = ma.fields.Integer()
    run = ma.fields.Integer()
    unit = ma.fields.String()
    unit_name = ma.fields.String()
    kind = ma.fields.String()
    state = ma.fields.String()
    version = ma.fields.Integer()
    firing_seq = ma.fields.Integer()
    rule_id = ma.fields.String()
    indicator = ma.fields.String(allow_none=True)
    points = ma.fields.String()
    adjusted_points = ma.fields.String(allow_none=True)
    proposer = ma.fields.String()
    reviewer = ma.fields.String(allow_none=True)
    approver = ma.fields.String(allow_none=True)
    review_reason = ma.fields.String(allow_none=True)
    decision = ma.fields.String(allow_none=True)
    decision_reason = ma.fields.String(allow_none=True)
    created_at = ma.fields.String()
    updated_at = ma.fields.String()


class HistoryOut(ma.Schema):
    case = ma.fields.Integer()
    action = ma.fields.String()
    from_state = ma.fields.String(allow_none=True)
    to_state = ma.fields.String()
    actor = ma.fields.String()
    reason = ma.fields.String(allow_none=True)
    at = ma.fields.String()
    audit_seq = ma.fields.Integer()


CaseDetailOut = with_history(CaseOut, HistoryOut, "CaseDetailOut")


CaseQuery = by_state_and_unit(CASE.states, "CaseQuery")


class ReviewIn(ma.Schema):
    reason = ma.fields.String(validate=ma.validate.Length(max=2000), allow_none=True)
    adjusted_points = points_field(allow_none=True)


class BatchItem(ma.Schema):
    id = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=2**31 - 1))
    version = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=2**31 - 1))


class BatchIn(ma.Schema):
    action = ma.fields.String(required=True, validate=ma.validate.OneOf(("review", "approve", "reject")))
    cases = ma.fields.List(ma.fields.Nested(BatchItem), required=True,
                           validate=ma.validate.Length(min=1, max=1000))
    reason = ma.fields.String(validate=ma.validate.Length(max=2000), allow_none=True)
    adjusted_points = points_field(allow_none=True)


class ActedCase(ma.Schema):
    id = ma.fields.Integer()
    state = ma.fields.String()
    version = ma.fields.Integer()


class ActedOut(ma.Schema):
    action = ma.fields.String()
    cases = ma.fields.List(ma.fields.Nested(ActedCase))


class OpenedOut(ma.Schema):
    run = ma.fields.Integer()
    opened = ma.fields.List(ma.fields.Integer())
    existing = ma.fields.Integer()


class PublishedOut(ma.Schema):
    run = ma.fields.Integer()
    superseded = ma.fields.Integer(allow_none=True)
    published_at = ma.fields.String()
    window_ends_at = ma.fields.String()
    appeals_close_at = ma.fields.String()


class PublicationOut(PublishedOut):
    published_by = ma.fields.String()
    sealed_at = ma.fields.String(allow_none=True)
    sealed_by = ma.fields.String(allow_none=True)


class SealOut(ma.Schema):
    run = ma.fields.Integer()
    status = ma.fields.String()


class AppealFiringOut(ma.Schema):
    seq = ma.fields.Integer()
    rule_id = ma.fields.String()
    points = ma.fields.String()
    new_points = ma.fields.String(allow_none=True)


class AppealOut(ma.Schema):
    id = ma.fields.Integer()
    run = ma.fields.Integer()
    unit = ma.fields.String()
    unit_name = ma.fields.String()
    state = ma.fields.String()
    version = ma.fields.Integer()
    filed_by = ma.fields.String()
    filed_at = ma.fields.String()
    grounds = ma.fields.String()
    evidence = ma.fields.String(allow_none=True)
    evidence_file = ma.fields.Boolean()
    reviewer = ma.fields.String(allow_none=True)
    decided_at = ma.fields.String(allow_none=True)
    decision_reason = ma.fields.String(allow_none=True)
    superseding_run = ma.fields.Integer(allow_none=True)
    firings = ma.fields.List(ma.fields.Nested(AppealFiringOut))


class AppealQuery(PageArgs):
    run = ma.fields.Integer(validate=ma.validate.Range(min=1, max=2**31 - 1))
    state = ma.fields.String(validate=ma.validate.OneOf(APPEAL.states))


class AppealForm(ma.Schema):
    unit = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    firings = ma.fields.List(ma.fields.Integer(validate=ma.validate.Range(min=1, max=2**31 - 1)),
                             required=True, validate=ma.validate.Length(min=1, max=100))
    grounds = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=5000))
    evidence_ref = ma.fields.String(validate=ma.validate.Length(max=300))


class EvidenceFile(ma.Schema):
    evidence = Upload()


class AppealDecisionIn(ma.Schema):
    outcome = ma.fields.String(required=True, validate=ma.validate.OneOf(tuple(OUTCOME_ACTIONS)))
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=5000))
    points = ma.fields.Dict(keys=ma.fields.Integer(validate=ma.validate.Range(min=1, max=2**31 - 1)),
                            values=points_field(), validate=few(100),
                            metadata={"maxProperties": 100})


# --- helpers -----------------------------------------------------------------------------------


def _case(case_id: int) -> Case:
    case = db.session().scalars(
        select(Case).where(Case.id == case_id).options(joinedload(Case.firing), joinedload(Case.unit))
    ).one_or_none()
    if case is None:
        raise NotFound(f"no case {case_id}")
    require_unit(case.unit_id)
    return case


def _appeal(appeal_id: int) -> Appeal:
    appeal = get_appeal(db.session(), appeal_id)
    require_unit(appeal.unit_id)
    return appeal


def _transition(case_id: int, action: str, body: Mapping[str, Any]) -> Reply:
    session = db.session()
    case = _case(case_id)
    stated = if_match()
    actor = current().username

    def act() -> dict[str, Any]:
        if action == "review":
            review_cases(session, [case.id], actor=actor, reason=body.get("reason"),
                         adjusted_points=body.get("adjusted_points"))
        elif action == "approve":
            approve_cases(session, [case.id], actor=actor, reason=body.get("reason"))
        else:
            reject_cases(session, [case.id], actor=actor, reason=body["reason"])
        return case_json(case)

    return transition_once(f"case.{action}", plain_body(body), "case", case, act, stated=stated)


# --- cases -------------------------------------------------------------------------------------


@listing("/runs/<int:run_id>/cases", CaseOut, "CasePage", query=CaseQuery)
def list_run_cases(args: dict[str, Any], run_id: int) -> Any:
    """A run's cases (reporters: their own units'), by state and unit."""
    run = run_for_reader(run_id)
    query = select(Case).where(Case.run_id == run.id).options(joinedload(Case.firing), joinedload(Case.unit))
    query = of_run_unit(where_given(query, args, state=Case.state), run, Case.unit_id, args.get("unit"))
    return paginate(db.session(), scope_filter(query, Case.unit_id).order_by(Case.id), args, case_json)


@action("/runs/<int:run_id>/cases", OpenedOut, "office")
def post_open_cases(run_id: int) -> Any:
    """Open a case for every deduction and veto firing of the run (those already open are kept)."""
    return answer_once("case.open", {"run": run_id}, lambda: open_cases(
        db.session(), run_id, actor=current().username).as_json(), 201)


@reading("/cases/<int:case_id>", CaseDetailOut, missing=True)
def get_case(case_id: int) -> Any:
    """One case with its whole history (and the cases it continues); the ETag is its version."""
    case = _case(case_id)
    return tagged({**case_json(case), "history": history_json(case_history(db.session(), case.id))},
                  case.version)


@transition("/cases/<int:case_id>/review", "auditor", CaseOut, ReviewIn)
def post_review(body: dict[str, Any], case_id: int) -> Any:
    """An auditor confirms the case, or proposes ``adjusted_points`` with a reason."""
    return _transition(case_id, "review", body)


@transition("/cases/<int:case_id>/approve", "office", CaseOut, DecisionIn)
def post_approve(body: dict[str, Any], case_id: int) -> Any:
    """The office approves a reviewed case: never its proposer or reviewer (403)."""
    return _transition(case_id, "approve", body)


@transition("/cases/<int:case_id>/reject", "office", CaseOut, RejectIn)
def post_reject(body: dict[str, Any], case_id: int) -> Any:
    """The office rejects a reviewed case (a reason is required)."""
    return _transition(case_id, "reject", body)


BATCH_ROLES = {"review": "auditor", "approve": "office", "reject": "office"}


@action("/case-batches", ActedOut, "auditor", "office", body=BatchIn, status=200, refusals=(403, 409, 412))
def post_case_batch(body: dict[str, Any]) -> Any:
    """Review, approve or reject many cases at once: all move or none does (409 lists each
    refused case; 412 lists each stale version)."""
    action = body["action"]
    if BATCH_ROLES[action] not in current().roles:
        abort(403, description=f"case {action} needs the role {BATCH_ROLES[action]}")
    session = db.session()
    stated = {item["id"]: item["version"] for item in body["cases"]}
    if len(stated) != len(body["cases"]):
        abort(422, description="a case is named twice in the batch")
    rows = session.scalars(select(Case).where(Case.id.in_(stated))).all()
    for case in rows:
        require_unit(case.unit_id)
    actor, ids = current().username, sorted(stated)

    def perform() -> dict[str, Any]:
        refuse_stale(stale_versions({c.id: c.version for c in rows}, stated, "case"))
        if action == "review":
            acted = review_cases(session, ids, actor=actor, reason=body.get("reason"),
                                 adjusted_points=body.get("adjusted_points"))
        elif action == "approve":
            acted = approve_cases(session, ids, actor=actor, reason=body.get("reason"))
        else:
            acted = reject_cases(session, ids, actor=actor, reason=body.get("reason") or "")
        return acted.as_json()

    request_body = {"action": action, "cases": sorted(stated.items()), "reason": body.get("reason"),
                    "adjusted_points": None if body.get("adjusted_points") is None
                    else str(body["adjusted_points"])}
    return answer_once(f"case.batch.{action}", request_body, perform)


# --- publication and seal ----------------------------------------------------------------------


@action("/runs/<int:run_id>/publication", PublishedOut, "office")
def post_publication(run_id: int) -> Any:
    """公示: publish a run whose cases are all decided; opens the publication and appeal windows."""
    return answer_once("run.publish", {"run": run_id}, lambda: publish(
        db.session(), run_id, actor=current().username).as_json(), 201)


@bp.route("/runs/<int:run_id>/publication")
@public
@bp.response(200, PublicationOut)
@bp.alt_response(404, schema=ApiErrorSchema)
def get_publication(run_id: int) -> Any:
    """A published run's windows (readable by anyone once published)."""
    session = db.session()
    run = session.get(Run, run_id)
    pub = session.scalars(select(Publication).where(Publication.run_id == run_id)).one_or_none()
    if run is None or pub is None or (not current().is_staff and not is_published(session, run)):
        abort(404, description=f"run {run_id} is not published")
    return {"run": run.id, "superseded": None, "published_at": _iso(pub.published_at),
            "window_ends_at": _iso(pub.window_ends_at), "appeals_close_at": _iso(pub.appeals_close_at),
            "published_by": pub.published_by, "sealed_at": _iso(pub.sealed_at) if pub.sealed_at else None,
            "sealed_by": pub.sealed_by}


def _iso(value: Any) -> str:
    return str(value.isoformat())


@action("/runs/<int:run_id>/seal", SealOut, "committee", status=200)
def post_seal(run_id: int) -> Any:
    """The committee's final approval, after the publication window with no appeal pending."""

    def perform() -> dict[str, Any]:
        run = seal(db.session(), run_id, actor=current().username)
        return {"run": run.id, "status": run.status}

    return answer_once("run.seal", {"run": run_id}, perform)


# --- appeals -----------------------------------------------------------------------------------


@listing("/appeals", AppealOut, "AppealPage", query=AppealQuery)
def list_appeals(args: dict[str, Any]) -> Any:
    """Appeals (reporters: their own units'), by run and state."""
    query = select(Appeal).options(joinedload(Appeal.unit),
                                   selectinload(Appeal.firings).joinedload(AppealFiring.firing))
    query = where_given(query, args, run=Appeal.run_id, state=Appeal.state)
    return paginate(db.session(), scope_filter(query, Appeal.unit_id).order_by(Appeal.id), args, appeal_json)


@reading("/appeals/<int:appeal_id>", AppealOut, missing=True)
def get_appeal_view(appeal_id: int) -> Any:
    """One appeal; the ETag is its version."""
    appeal = _appeal(appeal_id)
    return tagged(appeal_json(appeal), appeal.version)


@bp.route("/appeals/<int:appeal_id>/evidence")
@allow()
@bp.alt_response(404, schema=ApiErrorSchema)
def get_appeal_evidence(appeal_id: int) -> Any:
    """The uploaded evidence file of an appeal (404 when its evidence is a text reference)."""
    appeal = _appeal(appeal_id)
    stored = stored_evidence(appeal.evidence_ref)
    if stored is None:
        abort(404, description=f"appeal {appeal_id} has no uploaded evidence file")
    return send_evidence(stored)


@bp.route("/runs/<int:run_id>/appeals", methods=["POST"])
@allow("reporter", "office")
@bp.arguments(AppealForm, location="form")
@bp.arguments(EvidenceFile, location="files")
@bp.response(201, AppealOut)
@bp.alt_response(403, schema=ApiErrorSchema)
@bp.alt_response(409, schema=ApiErrorSchema)
@bp.alt_response(413, schema=ApiErrorSchema)
@bp.alt_response(415, schema=ApiErrorSchema)
@headers_doc
def post_appeal(form: dict[str, Any], files: dict[str, Any], run_id: int) -> Any:
    """A unit appeals firings of a published run inside the appeal window, with grounds and
    evidence (a PDF, PNG or JPEG file, size-limited, and/or a text reference)."""
    session = db.session()
    run = run_for_reader(run_id)
    unit = session.scalars(select(Unit).where(Unit.scheme_id == run.scheme_id,
                                              Unit.code == form["unit"])).one_or_none()
    if unit is None:
        raise NotFound(f"scheme {run.scheme.code} has no unit {form['unit']!r}")
    require_report_scope(unit.id)
    upload = files.get("evidence")
    body = {"run": run_id, "unit": unit.code, "firings": sorted(set(form["firings"])),
            "grounds": form["grounds"], "evidence_ref": form.get("evidence_ref")}

    def perform() -> dict[str, Any]:
        ref = save_evidence(upload) if upload is not None and upload.filename else form.get("evidence_ref")
        appeal = file_appeal(session, run.id, unit.code, form["firings"], grounds=form["grounds"],
                             actor=current().username, evidence_ref=ref)
        return appeal_json(appeal)

    return answer_once("appeal.file", body, perform, 201, etag=True)


@transition("/appeals/<int:appeal_id>/take", "reviewer", AppealOut)
def post_take_appeal(appeal_id: int) -> Any:
    """A reviewer who took no part in the cases takes the appeal."""
    appeal = _appeal(appeal_id)
    stated = if_match()
    return transition_once("appeal.take", {"appeal": appeal_id}, "appeal", appeal, lambda: appeal_json(
        take_appeal(db.session(), appeal.id, actor=current().username)), stated=stated)


@transition("/appeals/<int:appeal_id>/decision", "reviewer", AppealOut, AppealDecisionIn)
def post_appeal_decision(body: dict[str, Any], appeal_id: int) -> Any:
    """Decide upheld, overturned or adjusted (``points``: new points by cited firing seq); a changed
    outcome makes a new run that supersedes the current one (``superseding_run``)."""
    appeal = _appeal(appeal_id)
    stated = if_match()

    def act() -> dict[str, Any]:
        decided = decide_appeal(db.session(), appeal.id, body["outcome"], actor=current().username,
                                reason=body["reason"], points=body.get("points") or None)
        return appeal_json(decided.appeal)

    request_body = {"outcome": body["outcome"], "reason": body["reason"],
                    "points": {str(k): str(v) for k, v in sorted((body.get("points") or {}).items())}}
    return transition_once("appeal.decide", request_body, "appeal", appeal, act, stated=stated)
