"""The API of a scheme and what it assesses: schemes (考核方案), units, indicators, targets
(目标任务) and events (honours, incidents, project claims); reporters see their own units'."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from sqlalchemy import select

from store import Event, Indicator, Scheme, Target, Unit
from web.api.common import action, answer_once, listing, paginate, reading, scheme_or_404, scope_filter
from web.extensions import db
from web.security.policy import current
from workflows.year.lifecycle import lifecycle, lock_scheme


class SchemeSchema(ma.Schema):
    code = ma.fields.String()
    year = ma.fields.Integer()
    name = ma.fields.String()
    status = ma.fields.String(metadata={"description": "draft → locked (in force) → sealed (定案)"})
    cutoff_date = ma.fields.Date()
    adjustment_cutoff_date = ma.fields.Date(allow_none=True)
    previous_cutoff_date = ma.fields.Date(allow_none=True)
    publication_days = ma.fields.Integer()
    appeal_days = ma.fields.Integer()


class LifecycleOut(ma.Schema):
    code = ma.fields.String()
    status = ma.fields.String()
    transitions = ma.fields.List(ma.fields.Dict())


class LockIn(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=1000))


class UnitSchema(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    level = ma.fields.String()
    category = ma.fields.Function(lambda u: u.category.code if u.category else None)
    parent = ma.fields.Function(lambda u: u.parent.code if u.parent else None)


class IndicatorSchema(ma.Schema):
    code = ma.fields.String()
    name_zh = ma.fields.String()
    name_en = ma.fields.String()
    section = ma.fields.String()
    measure = ma.fields.String()
    direction = ma.fields.String()
    method = ma.fields.String()
    points = ma.fields.Decimal(as_string=True)
    source_department = ma.fields.String(allow_none=True)


class TargetSchema(ma.Schema):
    id = ma.fields.Integer()
    unit = ma.fields.Function(lambda t: t.unit.code)
    indicator = ma.fields.Function(lambda t: t.indicator.code)
    annual_value = ma.fields.Decimal(as_string=True)
    schedule_kind = ma.fields.String()
    milestones = ma.fields.Dict()
    lead_unit = ma.fields.Function(lambda t: t.lead_unit.code)
    locked = ma.fields.Boolean()
    version = ma.fields.Integer()


class EventSchema(ma.Schema):
    code = ma.fields.String()
    unit = ma.fields.Function(lambda e: e.unit.code)
    kind = ma.fields.String()
    event_type = ma.fields.String()
    level = ma.fields.String(allow_none=True)
    title = ma.fields.String()
    awarding_body = ma.fields.String(allow_none=True)
    document_no = ma.fields.String(allow_none=True)
    document_date = ma.fields.Date(allow_none=True)
    occurred_on = ma.fields.Date(allow_none=True)
    work_year = ma.fields.Integer()
    quantity = ma.fields.Decimal(as_string=True, allow_none=True)
    verified_quantity = ma.fields.Decimal(as_string=True, allow_none=True)


def _of_scheme(code: str, model: Any, order: Any, args: dict[str, Any], unit_column: Any = None) -> Any:
    """A page of the scheme's rows of ``model`` (in the reader's unit scope when ``unit_column`` names
    their unit), in ``order``."""
    session = db.session()
    scheme = scheme_or_404(session, code)
    query = select(model).where(model.scheme_id == scheme.id)
    if unit_column is not None:
        query = scope_filter(query, unit_column)
    return paginate(session, query.order_by(order), args)


@listing("/schemes", SchemeSchema, "SchemePage")
def list_schemes(args: dict[str, Any]) -> Any:
    """Assessment schemes (考核方案)."""
    return paginate(db.session(), select(Scheme).order_by(Scheme.year.desc(), Scheme.code), args)


@reading("/schemes/<code>", SchemeSchema, missing=True)
def get_scheme(code: str) -> Any:
    return scheme_or_404(db.session(), code)


@listing("/schemes/<code>/units", UnitSchema, "UnitPage")
def list_units(args: dict[str, Any], code: str) -> Any:
    """Assessed units (reporters see only their own)."""
    return _of_scheme(code, Unit, Unit.code, args, Unit.id)


@listing("/schemes/<code>/indicators", IndicatorSchema, "IndicatorPage")
def list_indicators(args: dict[str, Any], code: str) -> Any:
    return _of_scheme(code, Indicator, Indicator.code, args)


@listing("/schemes/<code>/targets", TargetSchema, "TargetPage")
def list_targets(args: dict[str, Any], code: str) -> Any:
    """Targets (目标任务); reporters see their own units' targets."""
    return _of_scheme(code, Target, Target.id, args, Target.unit_id)


@listing("/schemes/<code>/events", EventSchema, "EventPage")
def list_events(args: dict[str, Any], code: str) -> Any:
    """Honours, incidents and project claims; reporters see their own units' events."""
    return _of_scheme(code, Event, Event.code, args, Event.unit_id)



def _lifecycle_json(scheme: Scheme) -> dict[str, Any]:
    steps = lifecycle(db.session(), scheme)
    return {"code": scheme.code, "status": scheme.status, "transitions": [t.as_json() for t in steps]}


@reading("/schemes/<code>/lifecycle", LifecycleOut, missing=True)
def get_lifecycle(code: str) -> Any:
    """The scheme's status and its transitions (draft → in force → sealed) as the ledger recorded them."""
    return _lifecycle_json(scheme_or_404(db.session(), code))


@action("/schemes/<code>/lock", LifecycleOut, "office", body=LockIn, status=200,
        refusals=(403, 404, 409, 422))
def post_lock(body: dict[str, Any], code: str) -> Any:
    """Put a draft scheme in force (office): its definitions are fixed, its cut-off binds from now on."""
    return answer_once("scheme.lock", {"code": code, **body}, lambda: _lifecycle_json(
        lock_scheme(db.session(), code, actor=current().username, reason=body["reason"])))
