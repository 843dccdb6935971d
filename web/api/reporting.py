"""The API of data coming in: progress reports (a reporter for its own units, or a source
department's token) and the office's file imports (.xlsx or CSV, all or nothing)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import abort
from flask_smorest.fields import Upload
from sqlalchemy import select

from store import ProgressReport, Target
from web.api.blueprint import bp
from web.api.common import (
    ApiErrorSchema,
    PageArgs,
    action,
    listing,
    of_unit_code,
    paginate,
    scheme_or_404,
    scope_filter,
    where_given,
    within,
)
from web.extensions import db
from web.files.imports import import_upload
from web.security.policy import OFFICE, REPORTERS, allow, current, require_report_scope
from workflows.imports.sheets import KIND_ORDER
from workflows.progress import Submitted, get_target, submit_report


class ProgressSchema(ma.Schema):
    id = ma.fields.Integer()
    target_id = ma.fields.Integer()
    unit = ma.fields.Function(lambda r: r.target.unit.code)
    indicator = ma.fields.Function(lambda r: r.target.indicator.code)
    period = ma.fields.String()
    reported_value = ma.fields.Decimal(as_string=True)
    source = ma.fields.String()
    submitted_at = ma.fields.DateTime()
    evidence_ref = ma.fields.String(allow_none=True)
    verified_value = ma.fields.Decimal(as_string=True, allow_none=True)


class ProgressOut(ProgressSchema):
    previous_value = ma.fields.Decimal(as_string=True, allow_none=True, metadata={
        "description": "the value this report replaced (原值), null for a new report"})


class Answered:
    """A submitted report as the answer shows it: the stored row, and the value it replaced."""

    def __init__(self, sub: Submitted) -> None:
        self.sub = sub
        self.previous_value = sub.previous

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sub.report, name)


class ProgressIn(ma.Schema):
    target_id = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1))
    period = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$"))
    value = ma.fields.Decimal(required=True, places=None, allow_nan=False, validate=within(10**12),
                              metadata={"minimum": -10**12, "maximum": 10**12})
    source = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    evidence_ref = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=500))


class ProgressQuery(PageArgs):
    scheme = ma.fields.String()
    unit = ma.fields.String()
    period = ma.fields.String()


class ImportArgs(ma.Schema):
    file = Upload(required=True)


class ImportQuery(ma.Schema):
    kind = ma.fields.String(validate=ma.validate.OneOf(KIND_ORDER))


class ImportOut(ma.Schema):
    file = ma.fields.String()
    summary = ma.fields.String()


@listing("/progress-reports", ProgressSchema, "ProgressPage", query=ProgressQuery)
def list_progress(args: dict[str, Any]) -> Any:
    session = db.session()
    query = select(ProgressReport).join(Target, Target.id == ProgressReport.target_id)
    if args.get("scheme"):
        query = query.where(Target.scheme_id == scheme_or_404(session, args["scheme"]).id)
    query = of_unit_code(query, Target.unit_id, args.get("unit"))
    query = where_given(query, args, period=ProgressReport.period)
    return paginate(session, scope_filter(query, Target.unit_id).order_by(ProgressReport.id), args)


@action("/progress-reports", ProgressOut, *REPORTERS, body=ProgressIn, refusals=(403, 409, 422),
        once=False)
def post_progress(data: dict[str, Any]) -> Any:
    """Report a cumulative value (a reporter for its own units, or a source department's token);
    sending a month again replaces its value and answers the old one (``previous_value``). Refused
    (409) for a month a published run read, after the scheme's cut-off, and in a sealed scheme."""
    session = db.session()
    target = get_target(session, data["target_id"])
    require_report_scope(target.unit_id)
    source = data.get("source") or target.unit.code
    if source != target.unit.code and not current().has(OFFICE) and not current().via_token:
        abort(403, description="a reporter reports as its own unit")
    sub = submit_report(session, target, data["period"], data["value"], source=source,
                        actor=current().username, evidence_ref=data.get("evidence_ref"))
    return Answered(sub)


@bp.route("/imports", methods=["POST"])
@allow(*OFFICE)
@bp.arguments(ImportQuery, location="query")
@bp.arguments(ImportArgs, location="files")
@bp.response(201, ImportOut)
@bp.alt_response(413, schema=ApiErrorSchema)
@bp.alt_response(422, schema=ApiErrorSchema)
def post_import(query: dict[str, Any], files: dict[str, Any]) -> Any:
    """Import a workbook (.xlsx) or CSV file; refused as a whole, with row-level errors, if invalid."""
    name, summary = import_upload(files["file"], query.get("kind"))
    return {"file": name, "summary": str(summary)}
