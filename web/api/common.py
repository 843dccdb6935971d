"""What the API modules share: the error and page schemas, pagination and unit scope, a run a
reader may read, and the documented headers and bodies of a versioned transition."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import abort
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from store import Run, Scheme, Unit
from web.api.blueprint import bp
from web.extensions import db
from web.security.policy import current
from workflows import readmodels as rm


def within(limit: int) -> Any:
    """A validator of ``-limit ≤ value ≤ limit`` for Decimal fields (their Range bounds would be
    documented as strings, which is not valid OpenAPI)."""

    def check(value: Any) -> None:
        if not -limit <= value <= limit:
            raise ma.ValidationError(f"must be between {-limit} and {limit}")

    return check


class ApiErrorSchema(ma.Schema):
    error = ma.fields.String(required=True)
    message = ma.fields.String(required=True)
    request_id = ma.fields.String(required=True)
    details = ma.fields.Raw()


class PageArgs(ma.Schema):
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=1_000_000))
    page_size = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=200))


def page_of(item: type[ma.Schema], name: str) -> type[ma.Schema]:
    return ma.Schema.from_dict(
        {
            "items": ma.fields.List(ma.fields.Nested(item), required=True),
            "page": ma.fields.Integer(required=True),
            "page_size": ma.fields.Integer(required=True),
            "total": ma.fields.Integer(required=True),
        },
        name=name,
    )


def paginate(session: Session, query: Select[Any], args: dict[str, Any]) -> dict[str, Any]:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    page, size = args["page"], args["page_size"]
    items = list(session.scalars(query.offset((page - 1) * size).limit(size)))
    return {"items": items, "page": page, "page_size": size, "total": total}


def scope_filter(query: Select[Any], unit_column: Any) -> Select[Any]:
    """Restrict to the caller's units unless it is staff."""
    p = current()
    if p.is_staff:
        return query
    return query.where(unit_column.in_(p.unit_ids or {-1}))


def scheme_or_404(session: Session, code: str) -> Scheme:
    return rm.get_scheme(session, code)


def run_for_reader(run_id: int) -> Run:
    """Staff read every run; a reporter reads runs of the schemes its units belong to."""
    session = db.session()
    run = rm.get_run(session, run_id)
    p = current()
    if not p.is_staff:
        schemes = set(session.scalars(select(Unit.scheme_id).where(Unit.id.in_(p.unit_ids or {-1}))))
        if run.scheme_id not in schemes:
            abort(403)
    return run


TRANSITION_HEADERS = {
    "If-Match": {"description": 'The version read (e.g. "3"); required: 428 without it, 412 if stale.',
                 "schema": {"type": "string"}},
    "Idempotency-Key": {"description": "Repeat-safe: the same key again returns the first response.",
                        "schema": {"type": "string", "maxLength": 200}},
}


def headers_doc(view: Any) -> Any:
    """Document If-Match and Idempotency-Key as header parameters of a transition."""
    params = [{"in": "header", "name": name, "required": False, **spec}
              for name, spec in TRANSITION_HEADERS.items()]
    return bp.doc(parameters=params)(view)


def transition_doc(view: Any) -> Any:
    """The headers and the refusals (403, 409, 412, 428) of a versioned transition."""
    for status in (403, 409, 412, 428):
        view = bp.alt_response(status, schema=ApiErrorSchema)(view)
    return headers_doc(view)


class DecisionIn(ma.Schema):
    reason = ma.fields.String(validate=ma.validate.Length(max=2000), allow_none=True)


class RejectIn(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000))
