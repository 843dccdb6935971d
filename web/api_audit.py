"""The API of the audit ledger (verify, a run's export bundle) and of rule-pack versions (a diff
between two versions, a draft's impact)."""

from __future__ import annotations

import difflib
import io
import tempfile
from pathlib import Path
from typing import Any

import marshmallow as ma
from flask import abort, send_file
from sqlalchemy import select
from sqlalchemy.orm import Session

from audit import verify
from audit.export import ExportError, export_run
from engine import pack_document
from store import AuditEvent, RulePack
from web.api import ApiErrorSchema, PageArgs, bp, page_of, paginate
from web.extensions import db
from web.policy import STAFF, allow, current
from workflows.impact import ImpactReport, pack_impact
from workflows.packs import get_pack

AUDITORS = ("admin", "office", "auditor", "reviewer", "committee")


class BreakOut(ma.Schema):
    seq = ma.fields.Integer()
    kind = ma.fields.String()
    detail = ma.fields.String()
    run_id = ma.fields.Integer(allow_none=True)


class VerifyOut(ma.Schema):
    ok = ma.fields.Boolean()
    events_checked = ma.fields.Integer()
    runs_checked = ma.fields.Integer()
    head_seq = ma.fields.Integer()
    head_hash = ma.fields.String()
    first_break = ma.fields.Nested(BreakOut, allow_none=True)


class AuditEventOut(ma.Schema):
    seq = ma.fields.Integer()
    recorded_at = ma.fields.DateTime()
    actor = ma.fields.String()
    action = ma.fields.String()
    subject_type = ma.fields.String()
    subject_id = ma.fields.String()
    payload = ma.fields.String()
    prev_hash = ma.fields.String()
    hash = ma.fields.String()


class AuditQuery(PageArgs):
    action = ma.fields.String(validate=ma.validate.Length(min=1, max=60))
    subject_type = ma.fields.String(validate=ma.validate.Length(min=1, max=40))
    subject_id = ma.fields.String(validate=ma.validate.Length(min=1, max=100))


class DiffQuery(ma.Schema):
    against = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=60))


class DiffOut(ma.Schema):
    old = ma.fields.String()
    new = ma.fields.String()
    diff = ma.fields.String()


class ImpactIn(ma.Schema):
    scheme = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    period = ma.fields.String(validate=ma.validate.Length(min=4, max=10))


class UnitChangeOut(ma.Schema):
    unit = ma.fields.String()
    category = ma.fields.String(allow_none=True)
    old_total = ma.fields.Decimal(as_string=True, allow_none=True)
    new_total = ma.fields.Decimal(as_string=True, allow_none=True)
    delta = ma.fields.Decimal(as_string=True, allow_none=True)
    old_grade = ma.fields.String(allow_none=True)
    new_grade = ma.fields.String(allow_none=True)
    old_rank = ma.fields.Integer(allow_none=True)
    new_rank = ma.fields.Integer(allow_none=True)


class ImpactOut(ma.Schema):
    scheme = ma.fields.String()
    period = ma.fields.String()
    run_id = ma.fields.Integer()
    snapshot_sha256 = ma.fields.String()
    draft = ma.fields.String()
    draft_sha256 = ma.fields.String()
    baseline = ma.fields.String(allow_none=True)
    baseline_sha256 = ma.fields.String(allow_none=True)
    units = ma.fields.Integer()
    changes = ma.fields.List(ma.fields.Nested(UnitChangeOut))


# --- helpers shared with the pages ---------------------------------------------------------------


def pack_version(session: Session, name: str, version: str) -> RulePack:
    row = session.scalars(select(RulePack).where(RulePack.name == name, RulePack.version == version)
                          ).one_or_none()
    if row is None:
        abort(404, description=f"no rule pack {name}@{version}")
    return row


def pack_diff(old: RulePack, new: RulePack) -> list[str]:
    """A unified diff of two versions' YAML text, line by line."""
    return list(difflib.unified_diff(
        old.yaml_text.splitlines(), new.yaml_text.splitlines(),
        fromfile=f"{old.name}@{old.version}", tofile=f"{new.name}@{new.version}", lineterm="", n=3))


def impact_of(session: Session, draft: RulePack, scheme: str, period: str | None) -> ImpactReport:
    return pack_impact(session, scheme, f"{draft.name}@{draft.version}", period, actor=current().username)


def bundle_bytes(session: Session, run_id: int) -> bytes:
    """The run's export bundle as zip bytes (404 when the run or its binding is missing)."""
    try:
        bundle = export_run(session, run_id, pack_document=pack_document, actor=current().username)
    except ExportError as exc:
        abort(404 if "no run" in str(exc) else 409, description=str(exc))
    with tempfile.TemporaryDirectory(prefix="kaohe-bundle-") as tmp:
        path = Path(tmp) / "bundle.zip"
        bundle.write_zip(path)
        return path.read_bytes()


# --- audit ---------------------------------------------------------------------------------------


@bp.route("/audit/verify")
@allow(*AUDITORS)
@bp.response(200, VerifyOut)
def get_audit_verify() -> Any:
    """Check the whole hash chain and every run's Merkle roots (read-only); ``ok`` false names the
    first broken event."""
    return verify(db.session()).as_dict()


@bp.route("/audit/events")
@allow(*AUDITORS)
@bp.arguments(AuditQuery, location="query")
@bp.response(200, page_of(AuditEventOut, "AuditEventPage"))
def list_audit_events(args: dict[str, Any]) -> Any:
    """The ledger, newest first, filtered by action and subject."""
    query = select(AuditEvent)
    for name in ("action", "subject_type", "subject_id"):
        if args.get(name):
            query = query.where(getattr(AuditEvent, name) == args[name])
    return paginate(db.session(), query.order_by(AuditEvent.seq.desc()), args)


@bp.route("/runs/<int:run_id>/audit-bundle")
@allow(*AUDITORS)
@bp.alt_response(404, schema=ApiErrorSchema)
@bp.alt_response(409, schema=ApiErrorSchema)
def get_audit_bundle(run_id: int) -> Any:
    """The run's self-contained export bundle (zip, docs/audit-format.md §5) for verify-bundle."""
    data = bundle_bytes(db.session(), run_id)
    return send_file(io.BytesIO(data), mimetype="application/zip", as_attachment=True,
                     download_name=f"run-{run_id}.kaohe.zip")


# --- rule packs: diff and impact -----------------------------------------------------------------


@bp.route("/rule-packs/<name>/<version>/diff")
@allow(*STAFF)
@bp.arguments(DiffQuery, location="query")
@bp.response(200, DiffOut)
@bp.alt_response(404, schema=ApiErrorSchema)
def get_pack_diff(args: dict[str, Any], name: str, version: str) -> Any:
    """The unified diff of the YAML from version ``against`` to this one."""
    session = db.session()
    new = pack_version(session, name, version)
    old = pack_version(session, name, args["against"])
    return {"old": f"{old.name}@{old.version}", "new": f"{new.name}@{new.version}",
            "diff": "\n".join(pack_diff(old, new))}


@bp.route("/rule-packs/<name>/<version>/impact", methods=["POST"])
@allow("admin", "office", "auditor", "committee")
@bp.arguments(ImpactIn)
@bp.response(200, ImpactOut)
@bp.alt_response(404, schema=ApiErrorSchema)
@bp.alt_response(409, schema=ApiErrorSchema)
def post_pack_impact(body: dict[str, Any], name: str, version: str) -> Any:
    """Re-evaluate the scheme's latest snapshot under this version and the approved one: every unit
    whose score, grade or rank changes (recorded as ``pack.impact``, which approval requires)."""
    session = db.session()
    draft = get_pack(session, f"{name}@{version}")
    report = impact_of(session, draft, body["scheme"], body.get("period"))
    return {**report.__dict__, "changes": [{**c.__dict__, "delta": c.delta} for c in report.changes]}
