# mypy: disallow-untyped-decorators=False
"""The API of a scheme and what it assesses: schemes (考核方案), units, indicators, targets
(目标任务) and events (honours, incidents, project claims); reporters see their own units'."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from sqlalchemy import select

from store import Event, Indicator, Scheme, Target, Unit
from web.api.blueprint import bp
from web.api.common import ApiErrorSchema, PageArgs, page_of, paginate, scheme_or_404, scope_filter
from web.extensions import db
from web.security.policy import allow


class SchemeSchema(ma.Schema):
    code = ma.fields.String()
    year = ma.fields.Integer()
    name = ma.fields.String()
    status = ma.fields.String()
    cutoff_date = ma.fields.Date()
    publication_days = ma.fields.Integer()
    appeal_days = ma.fields.Integer()


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


@bp.route("/schemes")
@allow()
@bp.arguments(PageArgs, location="query")
@bp.response(200, page_of(SchemeSchema, "SchemePage"))
def list_schemes(args: dict[str, Any]) -> Any:
    """Assessment schemes (考核方案)."""
    session = db.session()
    return paginate(session, select(Scheme).order_by(Scheme.year.desc(), Scheme.code), args)


@bp.route("/schemes/<code>")
@allow()
@bp.response(200, SchemeSchema)
@bp.alt_response(404, schema=ApiErrorSchema)
def get_scheme(code: str) -> Any:
    return scheme_or_404(db.session(), code)


@bp.route("/schemes/<code>/units")
@allow()
@bp.arguments(PageArgs, location="query")
@bp.response(200, page_of(UnitSchema, "UnitPage"))
def list_units(args: dict[str, Any], code: str) -> Any:
    """Assessed units (reporters see only their own)."""
    session = db.session()
    scheme = scheme_or_404(session, code)
    query = scope_filter(select(Unit).where(Unit.scheme_id == scheme.id), Unit.id).order_by(Unit.code)
    return paginate(session, query, args)


@bp.route("/schemes/<code>/indicators")
@allow()
@bp.arguments(PageArgs, location="query")
@bp.response(200, page_of(IndicatorSchema, "IndicatorPage"))
def list_indicators(args: dict[str, Any], code: str) -> Any:
    session = db.session()
    scheme = scheme_or_404(session, code)
    return paginate(session, select(Indicator).where(Indicator.scheme_id == scheme.id)
                    .order_by(Indicator.code), args)


@bp.route("/schemes/<code>/targets")
@allow()
@bp.arguments(PageArgs, location="query")
@bp.response(200, page_of(TargetSchema, "TargetPage"))
def list_targets(args: dict[str, Any], code: str) -> Any:
    """Targets (目标任务); reporters see their own units' targets."""
    session = db.session()
    scheme = scheme_or_404(session, code)
    query = scope_filter(select(Target).where(Target.scheme_id == scheme.id), Target.unit_id)
    return paginate(session, query.order_by(Target.id), args)


@bp.route("/schemes/<code>/events")
@allow()
@bp.arguments(PageArgs, location="query")
@bp.response(200, page_of(EventSchema, "EventPage"))
def list_events(args: dict[str, Any], code: str) -> Any:
    """Honours, incidents and project claims; reporters see their own units' events."""
    session = db.session()
    scheme = scheme_or_404(session, code)
    query = scope_filter(select(Event).where(Event.scheme_id == scheme.id), Event.unit_id)
    return paginate(session, query.order_by(Event.code), args)
