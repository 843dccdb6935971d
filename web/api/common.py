"""What the API modules share, so that each resource module states only what is its own.

The error and page schemas; a page of rows (counted, sliced, in the reader's unit scope, filtered
by the query's arguments); a run a reader may read; the kinds of endpoint, each one decorator that
binds its route, access policy, arguments, answer and documented refusals (:func:`reading`,
:func:`listing`, :func:`action`, :func:`transition`); and the answer of a transition done once per
``Idempotency-Key`` after the stated version is checked (:func:`answer_once`,
:func:`transition_once`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol, TypeVar

import marshmallow as ma
from flask import abort
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from store import Run, Scheme, Unit
from web.api.blueprint import bp
from web.extensions import db
from web.security.policy import allow, current
from web.transitions import check_version, replay_headers, run_once
from workflows import readmodels as rm

F = TypeVar("F", bound=Callable[..., Any])
# What a view answers: the body, the status and the headers.
Reply = tuple[Any, int, dict[str, str]]


class Versioned(Protocol):
    """A subject whose transitions state the version they read (a case, appeal, adjustment, notice)."""

    id: int
    version: int


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


def with_history(out: type[ma.Schema], event: type[ma.Schema], name: str) -> type[ma.Schema]:
    """``out`` and the subject's ``history``: its transitions, each an ``event``, oldest first."""
    return out.from_dict({"history": ma.fields.List(ma.fields.Nested(event))}, name=name)


def by_state_and_unit(states: Sequence[str], name: str) -> type[ma.Schema]:
    """The query of a list of workflow subjects: a page of them, in one of ``states``, of one unit."""
    state = ma.fields.String(validate=ma.validate.OneOf(states))
    unit = ma.fields.String(validate=ma.validate.Length(min=1, max=40))
    return PageArgs.from_dict({"state": state, "unit": unit}, name=name)


class DecisionIn(ma.Schema):
    reason = ma.fields.String(validate=ma.validate.Length(max=2000), allow_none=True)


class RejectIn(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000))


# --- pages of rows -----------------------------------------------------------------------------


def paginate(session: Session, query: Select[Any], args: dict[str, Any],
             as_json: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """The page ``args`` asks for of ``query``'s rows (each through ``as_json`` when given) and
    how many rows there are in all."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    page, size = args["page"], args["page_size"]
    rows = session.scalars(query.offset((page - 1) * size).limit(size))
    items = [as_json(row) for row in rows] if as_json is not None else list(rows)
    return {"items": items, "page": page, "page_size": size, "total": total}


def scope_filter(query: Select[Any], unit_column: Any) -> Select[Any]:
    """Restrict to the caller's units unless it is staff."""
    p = current()
    if p.is_staff:
        return query
    return query.where(unit_column.in_(p.unit_ids or {-1}))


def where_given(query: Select[Any], args: Mapping[str, Any], **columns: Any) -> Select[Any]:
    """Each column equal to the query argument of its name, for the arguments given."""
    for name, column in columns.items():
        if args.get(name):
            query = query.where(column == args[name])
    return query


def of_unit_code(query: Select[Any], unit_column: Any, code: str | None) -> Select[Any]:
    """Only the rows of the unit with this code (any scheme's), when a code is given."""
    if not code:
        return query
    return query.join(Unit, unit_column == Unit.id).where(Unit.code == code)


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


def of_run_unit(query: Select[Any], run: Run, unit_column: Any, code: str | None) -> Select[Any]:
    """Only the rows of the run's unit with this code (404 when its scheme has none), when given."""
    if not code:
        return query
    return query.where(unit_column == rm.get_unit(db.session(), run.scheme, code).id)


# --- the kinds of endpoint ---------------------------------------------------------------------

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


def reading(rule: str, out: type[ma.Schema], *roles: str, query: type[ma.Schema] | None = None,
            missing: bool = False) -> Callable[[F], F]:
    """A read of one thing: GET ``rule`` for ``roles`` (every role when none is named), its ``query``
    arguments, answering ``out`` (404 documented when the thing may be ``missing``)."""

    def decorate(view: F) -> F:
        if missing:
            view = bp.alt_response(404, schema=ApiErrorSchema)(view)
        view = bp.response(200, out)(view)
        if query is not None:
            view = bp.arguments(query, location="query")(view)
        return bp.route(rule)(allow(*roles)(view))  # type: ignore[no-any-return]

    return decorate


def listing(rule: str, item: type[ma.Schema], page: str, *roles: str,
            query: type[ma.Schema] = PageArgs) -> Callable[[F], F]:
    """A paginated list: GET ``rule`` for ``roles`` (every role when none is named), its ``query``
    arguments, answering a page of ``item`` (named ``page`` in the OpenAPI document)."""

    def decorate(view: F) -> F:
        view = bp.response(200, page_of(item, page))(view)
        view = bp.arguments(query, location="query")(view)
        return bp.route(rule)(allow(*roles)(view))  # type: ignore[no-any-return]

    return decorate


def action(rule: str, out: type[ma.Schema], *roles: str, body: type[ma.Schema] | None = None,
           status: int = 201, refusals: tuple[int, ...] = (409,), once: bool = True) -> Callable[[F], F]:
    """An action: POST ``rule`` for ``roles``, its JSON ``body``, answering ``out`` with ``status``,
    documented with its ``refusals`` and (``once``: done once per Idempotency-Key) its headers."""

    def decorate(view: F) -> F:
        if once:
            view = headers_doc(view)
        for code in reversed(refusals):
            view = bp.alt_response(code, schema=ApiErrorSchema)(view)
        view = bp.response(status, out)(view)
        if body is not None:
            view = bp.arguments(body)(view)
        return bp.route(rule, methods=["POST"])(allow(*roles)(view))  # type: ignore[no-any-return]

    return decorate


def transition(rule: str, role: str, out: type[ma.Schema],
               body: type[ma.Schema] | None = None) -> Callable[[F], F]:
    """A versioned transition: POST ``rule`` for ``role``, its JSON ``body``, answering ``out``,
    documented with If-Match, Idempotency-Key and its refusals (403, 409, 412, 428)."""

    def decorate(view: F) -> F:
        view = bp.response(200, out)(transition_doc(view))
        if body is not None:
            view = bp.arguments(body)(view)
        return bp.route(rule, methods=["POST"])(allow(role)(view))  # type: ignore[no-any-return]

    return decorate


# --- transitions done once ---------------------------------------------------------------------


def plain_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """A request body as the idempotency record keeps it: decimals as text, mappings sorted."""

    def plain(v: Any) -> Any:
        if isinstance(v, Decimal):
            return str(v)
        if isinstance(v, dict):
            return {k: plain(x) for k, x in sorted(v.items())}
        return v

    return {k: plain(v) for k, v in body.items()}


def answer_once(action: str, body: Mapping[str, Any], perform: Callable[[], Mapping[str, Any]],
                status: int = 200, *, etag: bool = False) -> Reply:
    """``perform`` once per Idempotency-Key in the request's transaction, answered with ``status``:
    ``Idempotent-Replayed: true`` on a repeat, else (``etag``) the new version as the ETag."""
    done = run_once(db.session(), action, body, perform)
    return done.response, status, replay_headers(done, done.response.get("version") if etag else None)


def transition_once(action: str, body: Mapping[str, Any], what: str, subject: Versioned,
                    act: Callable[[], Mapping[str, Any]], *, stated: int | None = None,
                    etag: bool = True) -> Reply:
    """``act`` on ``subject`` once per Idempotency-Key, after its version is checked against the one
    the client ``stated`` (412 if stale): read by the caller before anything else, or (None) from
    If-Match when the action is first done, so that a repeat of it needs none."""

    def perform() -> Mapping[str, Any]:
        check_version(what, subject.id, subject.version, stated)
        return act()

    return answer_once(action, body, perform, etag=etag)


def tagged(body: Any, version: int) -> Reply:
    """A subject as read, with its version as the ETag (what a transition's If-Match states)."""
    return body, 200, {"ETag": f'"{version}"'}
